"""The customer history as the worker keeps it: indexed at once, written at a batch's end.

The entries and their index are :mod:`~warmline.decisioning.history`; the table
is a one-partition GlobalTable every worker reads in full. An entry recorded
mid-batch is indexed at once (the batch's later events see it) and written to
the table when the batch ends (after the batch's decisions are acknowledged,
for escalations). Every changelog record, other workers' and this one's, is
folded into the index as it is read. With the local database the index is
:class:`~warmline.decisioning.history.StoredHistory`, which reads the table's
rows, and the records read are stored there by the table itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from warmline.decisioning.faust_runtime.batched_table import OnePartitionGlobalTable
from warmline.decisioning.history import CustomerHistories, HistoryEntry, HistoryIndex
from warmline.decisioning.policy_store import PolicyStore


def changelog_reader(index: HistoryIndex) -> Callable[[Any], Awaitable[None]]:
    """The history table's ``on_changelog_event``: fold each record into ``index``."""

    async def on_record(event: Any) -> None:
        # Every record of the history changelog, other workers' and our own, live
        # and during recovery; applying one twice changes nothing. The message's
        # raw value, because that is where a tombstone shows as None.
        index.apply(event.message.key, event.message.value)

    return on_record


class HistoryRecorder:
    """Records escalations and false alarms in ``table`` and its ``index``; prunes old ones."""

    def __init__(
        self, table: OnePartitionGlobalTable, index: CustomerHistories, policies: PolicyStore
    ) -> None:
        self.table = table
        self.index = index
        self._policies = policies
        # Entries indexed by this batch, written at its end (see ``record``).
        self._unwritten: list[tuple[bytes, HistoryEntry]] = []
        table.on_recover(self._rebuild)

    def record(self, record: tuple[bytes, HistoryEntry]) -> None:
        """Index a history entry at once, for :meth:`write` to write (once: a replay
        finds it indexed already).

        The batch's later events see it; the table write waits for the end of the
        batch, so no other writer's flush (the timer's) can send it early.
        """
        key, entry = record
        if key in self.index:
            return
        self.index.add(key, entry)
        self._unwritten.append(record)

    async def write(self, after: asyncio.Future[None] | None = None) -> None:
        """Write the entries recorded so far and flush them (after ``after``)."""
        for key, entry in self._unwritten:
            self.table[key] = entry.encode()
        self.index.written(key for key, _ in self._unwritten)
        self._unwritten = []
        await self.table.flush_changelog(after=after)

    async def prune(self, now: datetime) -> list[bytes]:
        """Delete history entries older than their tenant's history window; their keys."""
        policy = self._policies.current
        shortest = min(
            body.history_window_days for body in (policy.defaults, *policy.tenants.values())
        )
        stale = self.index.expired(
            now.timestamp(), lambda tenant: policy.for_tenant(tenant).history_window_days, shortest
        )
        for key in stale:
            self.index.discard(key)
            # Every worker prunes; one that saw another's tombstone has nothing to delete.
            if key in self.table:
                del self.table[key]
        await self.table.flush_changelog()
        return stale

    async def _rebuild(self) -> None:
        # After a recovery the table holds everything, also what a persistent
        # store kept from before the restart and so was never read as a record.
        self.index.rebuild(self.table.items())
