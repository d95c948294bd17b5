"""The record's pipeline handler: decode a poll, write it in one transaction,
dead-letter what cannot be read.

It returns only once the transaction is on disk; the pipeline then sends the
dead letters and commits the offsets. A crash in between replays the poll, which
the store ignores (at-least-once into an idempotent store).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import ConsumerRecord
from google.protobuf.message import DecodeError

from warmline.common.metrics import (
    RECORD_LAST_COMMIT,
    RECORD_NEWEST_WRITTEN,
    RECORD_ROWS_WRITTEN,
    RECORD_WRITE_SECONDS,
)
from warmline.common.pipeline import Output, dead_letter
from warmline.common.settings import WarmlineSettings
from warmline.record.rows import (
    InvalidRecord,
    Rows,
    add_agent_action,
    add_decision,
    add_feedback,
    add_overload_alert,
    add_scored,
    add_shadow_decision,
)

CONSUMER = "record"
#: What each logical topic holds, and how its records become rows.
_READERS: dict[str, Callable[[Rows, bytes], None]] = {
    "scored": add_scored,
    "escalations": add_decision,
    "shadow_escalations": add_shadow_decision,
    "feedback": add_feedback,
    "agent_actions": add_agent_action,
    "overload_alerts": add_overload_alert,
}

WriteRows = Callable[[Rows], Awaitable[dict[str, int]]]


def recorded_topics(settings: WarmlineSettings) -> list[str]:
    """The full names of the topics the record consumes."""
    return [settings.topics.name(topic) for topic in _READERS]


class RecordHandler:
    """Turns a poll into one transaction and the dead letters of its poison records."""

    def __init__(self, settings: WarmlineSettings, write: WriteRows) -> None:
        self._write = write
        self._practice_tenants = settings.record.practice_tenants
        self._readers = {settings.topics.name(t): read for t, read in _READERS.items()}
        self._dead_topic = settings.topics.name("deadletter")

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Output]:
        """Write the rows of ``records``; return the dead letters of those that failed."""
        rows = Rows(practice_tenants=self._practice_tenants)
        letters = []
        newest: dict[str, int] = {}
        for record in records:
            newest[record.topic] = max(newest.get(record.topic, 0), record.timestamp)
            try:
                self._readers[record.topic](rows, record.value or b"")
            except (DecodeError, InvalidRecord) as exc:
                letters.append(self._dead_letter(record, exc))
        if len(rows):
            started = time.perf_counter()
            added = await self._write(rows)
            RECORD_WRITE_SECONDS.observe(time.perf_counter() - started)
            RECORD_LAST_COMMIT.set(time.time())
            for table, n in added.items():
                if n:
                    RECORD_ROWS_WRITTEN.labels(table).inc(n)
        for topic, stamp_ms in newest.items():
            RECORD_NEWEST_WRITTEN.labels(topic).set(stamp_ms / 1000)
        return letters

    def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> Output:
        reason = "undecodable" if isinstance(exc, DecodeError) else "invalid_schema"
        return dead_letter(
            record, topic=self._dead_topic, consumer=CONSUMER, reason=reason, detail=repr(exc)
        )
