"""The record's handler dead-letters what it cannot read and writes the rest in one go;
the audit command says when there is nothing to show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from typer.testing import CliRunner

from tests.insights_support import T0, floor
from tests.record_support import known_set
from tests.support import settings_for
from warmline.cli import app
from warmline.common.metrics import (
    RECORD_NEGATIVE_SHARE,
    RECORD_NEWEST_WRITTEN,
    RECORD_ROWS_WRITTEN,
)
from warmline.record.handler import RecordHandler
from warmline.record.rows import Rows
from warmline.record.service import export_climate
from warmline.record.store import RecordStore, database_path
from warmline.v1 import deadletter_pb2, feedback_pb2

SETTINGS = settings_for("localhost:9")


def record(
    topic: str, offset: int, value: bytes, timestamp_ms: int = 0
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=SETTINGS.topics.name(topic), partition=0, offset=offset, timestamp=timestamp_ms,
        timestamp_type=0, key=b"acme/c", value=value, checksum=None, serialized_key_size=6,
        serialized_value_size=len(value), headers=(),
    )  # fmt: skip


async def test_poison_is_dead_lettered_and_the_rest_written_in_one_transaction() -> None:
    writes: list[Rows] = []

    async def write(rows: Rows) -> dict[str, Any]:
        writes.append(rows)
        return {"decisions": len(rows.by_table["decisions"])}

    known = known_set(("acme",), conversations=1)
    records = [record("escalations", 0, b"\xff\xff\xff not a protobuf")]
    records += [
        record(
            "feedback",
            1,
            feedback_pb2.Feedback(verdict=feedback_pb2.VERDICT_USEFUL).SerializeToString(),
        )
    ]
    records += [
        record(topic, 2 + n, value)
        for topic, values in known.records.items()
        for n, (_, value) in enumerate(values)
    ]
    letters = await RecordHandler(SETTINGS, write)(records)

    assert [o.topic for o in letters] == [SETTINGS.topics.name("deadletter")] * 2
    parsed = [deadletter_pb2.DeadLetter.FromString(o.value) for o in letters]
    assert [(d.consumer, d.reason, d.source_offset) for d in parsed] == [
        ("record", "undecodable", 0), ("record", "invalid_schema", 1),
    ]  # fmt: skip
    assert len(writes) == 1
    assert len(writes[0].by_table["decisions"]) == 2
    assert len(writes[0].by_table["claims"]) == 1  # the ack is not kept


def test_audit_exits_1_without_decisions_and_2_without_a_database(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["audit", "c1", "--data-dir", str(tmp_path / "none")])
    assert missing.exit_code == 2
    assert "cannot read the record" in missing.output
    RecordStore(database_path(tmp_path)).close()
    empty = runner.invoke(app, ["audit", "c1", "--data-dir", str(tmp_path)])
    assert empty.exit_code == 1
    assert "no recorded decision" in empty.output


async def test_the_write_rate_counts_rows_added_and_the_newest_written_time_is_per_topic(
    tmp_path: Path,
) -> None:
    store = RecordStore(database_path(tmp_path))
    known = known_set(("acme",), conversations=1)
    records = [
        record(topic, n, value, timestamp_ms=1_000_000 + n)
        for topic, values in known.records.items()
        for n, (_, value) in enumerate(values)
    ]

    async def write(rows: Rows) -> dict[str, int]:
        return store.write(rows)

    overload = SETTINGS.topics.name("overload_alerts")
    before = RECORD_ROWS_WRITTEN.labels("overload_alerts")._value.get()
    await RecordHandler(SETTINGS, write)(records)
    assert RECORD_ROWS_WRITTEN.labels("overload_alerts")._value.get() - before == 2
    assert RECORD_NEWEST_WRITTEN.labels(overload)._value.get() == 1_000.001
    assert RECORD_NEWEST_WRITTEN.labels(SETTINGS.topics.name("scored"))._value.get() == 1_000.003
    # A replay adds no row, so the write rate does not move.
    await RecordHandler(SETTINGS, write)(records)
    assert RECORD_ROWS_WRITTEN.labels("overload_alerts")._value.get() - before == 2
    store.close()


def test_the_climate_gauge_is_the_last_hours_unsuppressed_groups(tmp_path: Path) -> None:
    database = floor(database_path(tmp_path))
    RECORD_NEGATIVE_SHARE.labels("acme", "gone").set(1)
    export_climate(database, T0 + 3_600, min_group=5)
    assert RECORD_NEGATIVE_SHARE.labels("acme", "billing")._value.get() == 0.5
    shown = {s.labels["queue"] for m in RECORD_NEGATIVE_SHARE.collect() for s in m.samples}
    assert shown == {"billing", ""}  # general and the never-escalated are suppressed
