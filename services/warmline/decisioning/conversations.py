"""Conversation states as the worker keeps them: in the conversations table, as JSON.

The table (keyed ``tenant/conversation``) is the source of truth and what the
changelog restores. :class:`ConversationStore` adds what keeps it cheap: a state
is decoded once while its table value is unchanged, encoded once per batch, and
the timer's expiry decodes only the states written since its previous tick.
With the local database (``DECISIONING__STORE=sqlite``) the expiry is an
indexed query by each state's last activity instead, stored with the row
(taken from the state this store just encoded, or parsed by
:func:`activity_of_entry`), so nothing is held per conversation in memory.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from typing import Any

import orjson

from warmline.common.metrics import DECISIONING_CONVERSATIONS
from warmline.decisioning.decide import idle_keys
from warmline.decisioning.faust_runtime.batched_table import BatchedChangelogTable
from warmline.decisioning.faust_runtime.sqlite_store import local_rows
from warmline.decisioning.state import ConversationState

#: Conversations whose decoded state is kept between batches (JSON decoding is
#: a large share of the time per event; the table stays the source of truth).
DECODED_CACHE_MAX = 10_000
#: Idle conversations forgotten per tick at most, from the local database (the
#: rest on the next ticks: one tick's deletes leave in one changelog flush).
EXPIRE_AT_ONCE = 10_000


def encode_entry(state: ConversationState) -> bytes:
    """The conversations table value: the conversation's state, as JSON.

    Every event rewrites its conversation's entry, so this is on the hot path:
    orjson serializes the dataclasses itself (fields in order, as
    ``ConversationState.to_dict`` lists them), ~5 µs for a typical state where
    building the dict first took ~12 µs and the standard library's encoder ~70.
    """
    return orjson.dumps({"state": state}, default=_sorted_set)


def _sorted_set(value: object) -> list[Any]:
    # orjson's hook for types it does not know; sets are the only ones in a state.
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a conversation state")


def decode_entry(raw: bytes | None) -> ConversationState:
    """Inverse of :func:`encode_entry`; a fresh state for a missing key.

    Values written before the history moved to its own table also carry a
    per-conversation ``history``, which is ignored.
    """
    if not raw:
        return ConversationState()
    return ConversationState.from_dict(orjson.loads(raw)["state"])


def activity_of_entry(key: bytes, raw: bytes) -> float:
    """The state's last activity, for the local database's expiry index (0: unreadable,
    so it expires). Only the JSON is parsed, not the state built from it."""
    try:
        return float(orjson.loads(raw)["state"].get("last_activity", 0.0))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return 0.0


class ConversationStore:
    """Each conversation's state in ``table``; idle ones forgotten after ``ttl``."""

    def __init__(self, table: BatchedChangelogTable, ttl: timedelta) -> None:
        self.table = table
        self._ttl = ttl
        # Decoded table entries of recently written conversations (see ``load``).
        self._decoded: dict[bytes, tuple[bytes, ConversationState]] = {}
        # Each conversation's last activity and the table value it was read from
        # (see ``expire_idle``).
        self._activity: dict[bytes, tuple[bytes, float]] = {}
        rows = local_rows(table)
        if rows is not None:
            rows.stamp_of = self._activity_of

    def _activity_of(self, key: bytes, raw: bytes) -> float:
        """The local database's stamp of a row being stored: the last activity of the
        state :meth:`store` encoded into these very bytes, without parsing them again
        (a state popped by :meth:`load` is not in the cache while it changes), else
        read from the JSON (:func:`activity_of_entry`)."""
        cached = self._decoded.get(key)
        if cached is not None and cached[0] is raw:
            return cached[1].last_activity
        return activity_of_entry(key, raw)

    def load(self, key: bytes) -> ConversationState:
        """The entry of ``key``, decoded from the table unless the same bytes were decoded before.

        The cached objects are taken out while they are worked on and put back by
        :meth:`store`, so a batch that fails halfway never leaves half-applied
        objects behind; and a table value that changed under the cache (restored
        from the changelog) does not match, so it is decoded afresh.
        """
        raw = self.table.get(key)
        cached = self._decoded.pop(key, None)
        if cached is not None and raw is not None and cached[0] == raw:
            return cached[1]
        return decode_entry(raw)

    def store(self, key: bytes, state: ConversationState) -> None:
        """Write ``state`` to the table (its changelog record leaves with :meth:`flush`)."""
        raw = encode_entry(state)
        self.table[key] = raw
        self._decoded[key] = (raw, state)
        if len(self._decoded) > DECODED_CACHE_MAX:
            # Dicts keep insertion order and entries are re-inserted on use: this is the LRU.
            del self._decoded[next(iter(self._decoded))]

    async def flush(self, after: asyncio.Future[None] | None = None) -> None:
        """Send the changelog records of what was stored (once ``after`` is done)."""
        await self.table.flush_changelog(after=after)

    async def expire_idle(self, now: datetime) -> list[bytes]:
        """Forget conversations idle for longer than the TTL; their keys. Counts the
        conversations held (``warmline_decisioning_conversations``)."""
        rows = local_rows(self.table)
        if rows is None:
            stale = self._idle_in_memory(now)
        else:
            idle = rows.stamped_before((now - self._ttl).timestamp())
            stale = [key for key, _ in itertools.islice(idle, EXPIRE_AT_ONCE)]
        for key in stale:
            del self.table[key]
            self._decoded.pop(key, None)
        await self.flush()
        DECISIONING_CONVERSATIONS.set(len(self.table))
        return stale

    def _idle_in_memory(self, now: datetime) -> list[bytes]:
        """Idle keys of a table held in memory.

        Each state's last activity is remembered with the table value it was read
        from, so a tick decodes only the states written since the previous one
        (decoding every state, ~24 µs each, on every tick would block the loop
        for about a second at 50,000 conversations).
        """
        activity: dict[bytes, tuple[bytes, float]] = {}
        for key, raw in list(self.table.items()):
            known = self._activity.get(key)
            if known is None or known[0] is not raw:
                known = (raw, self._peek(key, raw).last_activity)
            activity[key] = known
        # Rebuilt each tick: keys of revoked partitions and expired ones drop out.
        self._activity = activity
        stale = idle_keys({key: last for key, (_, last) in activity.items()}, now, self._ttl)
        for key in stale:
            del self._activity[key]
        return stale

    def _peek(self, key: bytes, raw: bytes) -> ConversationState:
        """The state of ``key`` for reading only: the cached one when it matches ``raw``."""
        cached = self._decoded.get(key)
        if cached is not None and cached[0] == raw:
            return cached[1]
        return decode_entry(raw)
