"""Customer history shared by all of a customer's conversations, on every worker.

Conversations are partitioned by ``tenant/conversation``, so two conversations of
one customer may be decided on two workers. Their history therefore lives in a
Faust *GlobalTable*: every worker reads all of its changelog, so every worker
sees every customer, and the compacted changelog restores it after a restart.

Why entries, not one value per customer: every escalation and every false alarm
is an entry of its own, written once under its own key (the customer, the kind
and the decision id) and never read-modified-written. Two workers recording
escalations of one customer at the same moment write two different keys, so
neither update is lost; a replayed event or feedback record rewrites the same
key with the same value. (A topic repartitioned by customer would also give each
customer a single writer, but at the cost of another hop and another table, and
readers on other workers would still need a global copy of it.)

Each worker folds the entries into a :class:`HistoryIndex`, grouped by customer,
from its own writes and from the changelog records it reads, so a decision
finds the customer's history with one dict lookup. With the local database
(``DECISIONING__STORE=sqlite``), :class:`StoredHistory` reads them from the
table's rows instead: one indexed range per lookup (the keys start with the
customer), nothing held in memory beyond a batch's unwritten entries.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from warmline.decisioning.state import CustomerHistory
from warmline.decisioning.state_database import TableRows
from warmline.v1 import escalation_pb2, feedback_pb2

log = logging.getLogger(__name__)

ESCALATION = "escalation"
FALSE_ALARM = "false_alarm"
#: Separates the customer, the kind and the decision id in an entry's key. The
#: customer comes first and may contain anything; the other two never contain it.
_SEP = "\x1f"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One escalation or false alarm of a customer (``at``: epoch seconds)."""

    customer: str
    kind: str
    at: float
    conversation_id: str

    def key(self, decision_id: str) -> bytes:
        """The table key: unique per customer, kind and decision."""
        return f"{self.customer}{_SEP}{self.kind}{_SEP}{decision_id}".encode()

    def encode(self) -> bytes:
        """The table value (the customer and kind are in the key)."""
        return json.dumps(
            {"at": self.at, "conversation": self.conversation_id}, separators=(",", ":")
        ).encode()

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> HistoryEntry:
        """Inverse of :meth:`key` and :meth:`encode`; ValueError when malformed."""
        customer, kind, _ = key.decode().rsplit(_SEP, 2)
        if kind not in (ESCALATION, FALSE_ALARM):
            raise ValueError(f"unknown kind {kind!r}")
        data = json.loads(value)
        return cls(customer, kind, float(data["at"]), str(data["conversation"]))


#: History entries looked at per pruning at most (entries past the shortest
#: window but inside their own tenant's longer one are looked at and kept).
PRUNE_SCAN_MAX = 100_000


def customer_key(tenant_id: str, customer_id: str) -> str:
    """How a customer is named in the history: ``tenant/customer``."""
    return f"{tenant_id}/{customer_id}"


def escalation_entry(
    decision: escalation_pb2.EscalationDecision, at: float
) -> tuple[bytes, HistoryEntry] | None:
    """The key and entry recording an escalation decided at ``at``; None without a customer."""
    if not decision.customer_id:
        return None
    entry = HistoryEntry(
        customer_key(decision.tenant_id, decision.customer_id),
        ESCALATION,
        at,
        decision.conversation_id,
    )
    return entry.key(decision.decision_id), entry


def false_alarm_entry(feedback: feedback_pb2.Feedback) -> tuple[bytes, HistoryEntry] | None:
    """The key and entry recording a false-alarm verdict.

    None for other verdicts and for feedback without a customer. Keyed by the
    decision, so two agents calling one escalation a false alarm count once.
    """
    if feedback.verdict != feedback_pb2.VERDICT_FALSE_ALARM or not feedback.customer_id:
        return None
    stamp = feedback.submitted_at
    entry = HistoryEntry(
        customer_key(feedback.tenant_id, feedback.customer_id),
        FALSE_ALARM,
        stamp.seconds + stamp.nanos / 1e9,
        feedback.conversation_id,
    )
    return entry.key(feedback.decision_id or feedback.feedback_id), entry


class CustomerHistories(Protocol):
    """Where a worker finds customers' history: :class:`HistoryIndex` or :class:`StoredHistory`."""

    def __contains__(self, key: bytes) -> bool: ...

    def add(self, key: bytes, entry: HistoryEntry) -> None:
        """Make ``entry`` visible at once, before it is written to the table."""

    def written(self, keys: Iterable[bytes]) -> None:
        """The entries under ``keys`` are in the table now."""

    def discard(self, key: bytes) -> None:
        """Forget the entry under ``key``."""

    def rebuild(self, records: Iterable[tuple[bytes, bytes]]) -> None:
        """After a recovery: the table's whole contents."""

    def history(self, tenant_id: str, customer_id: str) -> CustomerHistory:
        """A fresh copy of the customer's escalations and false alarms."""
        ...

    def expired(
        self, now: float, window_days: Callable[[str], int], shortest_days: int
    ) -> list[bytes]:
        """Keys of entries older than their tenant's window."""
        ...


class HistoryIndex:
    """The history table's entries grouped by customer, kept in step with the table."""

    def __init__(self) -> None:
        self._customers: dict[str, dict[bytes, HistoryEntry]] = {}

    def __contains__(self, key: bytes) -> bool:
        customer = _customer_of(key)
        return customer is not None and key in self._customers.get(customer, {})

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._customers.values())

    def add(self, key: bytes, entry: HistoryEntry) -> None:
        """Index ``entry`` under ``key`` (again: no change)."""
        self._customers.setdefault(entry.customer, {})[key] = entry

    def discard(self, key: bytes) -> None:
        """Forget the entry under ``key``, if indexed."""
        customer = _customer_of(key)
        if customer is None or customer not in self._customers:
            return
        entries = self._customers[customer]
        entries.pop(key, None)
        if not entries:
            del self._customers[customer]

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Fold in one table record: a value adds its entry, a tombstone removes it."""
        if key is None:
            return
        if value is None:
            self.discard(key)
            return
        try:
            entry = HistoryEntry.decode(key, value)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "unreadable customer history record", extra={"key": key, "error": repr(exc)}
            )
            return
        self.add(key, entry)

    def written(self, keys: Iterable[bytes]) -> None:
        """Nothing to do: the index holds every entry anyway."""

    def rebuild(self, records: Iterable[tuple[bytes, bytes]]) -> None:
        """Replace the index with the given table contents."""
        self._customers.clear()
        for key, value in records:
            self.apply(key, value)

    def history(self, tenant_id: str, customer_id: str) -> CustomerHistory:
        """A fresh copy of the customer's escalations and false alarms, every conversation's."""
        entries = self._customers.get(customer_key(tenant_id, customer_id)) if customer_id else None
        return _history_of(entries.values() if entries else ())

    def expired(
        self, now: float, window_days: Callable[[str], int], shortest_days: int = 1
    ) -> list[bytes]:
        """Keys of entries older than their tenant's window (``window_days(tenant_id)``)."""
        stale = []
        for customer, entries in self._customers.items():
            cutoff = now - window_days(customer.split("/", 1)[0]) * 86400
            stale += [key for key, entry in entries.items() if entry.at < cutoff]
        return stale


class StoredHistory:
    """The history table's entries read from its rows in the local database.

    An entry recorded mid-batch is kept here until it is written to the table
    (:meth:`written`); from then on the table's rows show it (their overlay
    until the brokers acknowledged it, the database after).
    """

    def __init__(self, rows: TableRows) -> None:
        self._rows = rows
        self._unwritten: dict[bytes, HistoryEntry] = {}

    def __contains__(self, key: bytes) -> bool:
        return key in self._unwritten or key in self._rows

    def add(self, key: bytes, entry: HistoryEntry) -> None:
        """Keep ``entry`` visible until :meth:`written`."""
        self._unwritten[key] = entry

    def written(self, keys: Iterable[bytes]) -> None:
        """The entries under ``keys`` are in the table's rows now."""
        for key in keys:
            self._unwritten.pop(key, None)

    def discard(self, key: bytes) -> None:
        """Forget an unwritten entry (a written one goes with the table's delete)."""
        self._unwritten.pop(key, None)

    def rebuild(self, records: Iterable[tuple[bytes, bytes]]) -> None:
        """Nothing to rebuild: the rows are read where they are."""

    def history(self, tenant_id: str, customer_id: str) -> CustomerHistory:
        """The customer's entries: one range of the rows' keys, and unwritten ones."""
        if not customer_id:
            return CustomerHistory()
        customer = customer_key(tenant_id, customer_id)
        entries: dict[bytes, HistoryEntry] = {}
        for key, value in self._rows.prefixed(f"{customer}{_SEP}".encode()):
            try:
                entry = HistoryEntry.decode(key, value)
            except (ValueError, KeyError, TypeError):
                continue  # logged when it was read into the table; never counted
            if entry.customer == customer:  # a customer id may contain the separator
                entries[key] = entry
        for key, entry in self._unwritten.items():
            if entry.customer == customer:
                entries[key] = entry
        return _history_of(entries.values())

    def expired(
        self, now: float, window_days: Callable[[str], int], shortest_days: int
    ) -> list[bytes]:
        """Keys of stored entries older than their tenant's window, oldest first: the
        rows' stamps (each entry's time) below the shortest window, at most
        :data:`PRUNE_SCAN_MAX` of them looked at."""
        stale = []
        candidates = self._rows.stamped_before(now - shortest_days * 86400)
        for key, at in itertools.islice(candidates, PRUNE_SCAN_MAX):
            customer = _customer_of(key)
            if customer is not None and at < now - window_days(customer.split("/", 1)[0]) * 86400:
                stale.append(key)
        return stale


def stamp_of_entry(key: bytes, value: bytes) -> float:
    """A history row's stamp in the local database: the entry's time (an unreadable
    entry never expires, as it never counts)."""
    try:
        return HistoryEntry.decode(key, value).at
    except (ValueError, KeyError, TypeError):
        return math.inf


def _history_of(entries: Iterable[HistoryEntry]) -> CustomerHistory:
    history = CustomerHistory()
    for entry in entries:
        kind = history.escalations if entry.kind == ESCALATION else history.false_alarms
        kind.append(entry.at)
    return history


def _customer_of(key: bytes) -> str | None:
    parts = key.decode(errors="replace").rsplit(_SEP, 2)
    return parts[0] if len(parts) == 3 else None
