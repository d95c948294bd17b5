"""The record's handler dead-letters what it cannot read and writes the rest in one go;
the audit command says when there is nothing to show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from typer.testing import CliRunner

from tests.record_support import known_set
from tests.support import settings_for
from warmline.cli import app
from warmline.record.handler import RecordHandler
from warmline.record.rows import Rows
from warmline.record.store import RecordStore, database_path
from warmline.v1 import deadletter_pb2, feedback_pb2

SETTINGS = settings_for("localhost:9")


def record(topic: str, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=SETTINGS.topics.name(topic), partition=0, offset=offset, timestamp=0,
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
