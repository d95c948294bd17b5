"""``warmline bench record`` runs end to end on a tiny load (no timing is asserted)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.support import settings_for
from warmline.bench.record import BenchError, decisions, live_events, measure
from warmline.localkafka import LocalKafka
from warmline.record.database import RecordDatabase
from warmline.v1 import escalation_pb2, scoring_pb2


def test_live_records_are_new_to_the_record_not_replays_of_the_backlog() -> None:
    live = [scoring_pb2.ScoredEvent.FromString(v).event for _, v in live_events(20, 4)]
    assert all(
        e.event_id.startswith("live-") and e.conversation_id.startswith("live-conv-") for e in live
    )
    decided = [escalation_pb2.EscalationDecision.FromString(v) for _, v in decisions(4, "live-")]
    assert {d.conversation_id for d in decided} == {e.conversation_id for e in live}
    assert all(len(d.reasons) == 2 and len(d.trajectory) == 5 for d in decided)


def test_the_record_bench_writes_a_backlog_and_a_live_load(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    settings = settings_for(kafka_broker.bootstrap_servers)
    result = asyncio.run(measure(settings, tmp_path, 300, 10, live_rate=200, live_seconds=1))
    assert result["rows"] == {
        "turns": 300, "decisions": 10, "decision_reasons": 20, "decision_trajectory": 50,
    }  # fmt: skip
    # Rates are measured, not asserted: a tiny backlog may land in one transaction.
    assert result["events_per_s"] >= 0 and result["rows_per_s"] >= 0
    live = result["live"]
    assert live["events"] == 200
    assert {"lag_records_p50", "lag_records_max", "catch_up_s", "produced_per_s"} <= set(live)


def test_the_record_bench_writes_into_postgresql(
    kafka_broker: LocalKafka, postgres: RecordDatabase, tmp_path: Path
) -> None:
    settings = settings_for(kafka_broker.bootstrap_servers)
    result = asyncio.run(
        measure(settings, tmp_path, 300, 10, live_rate=200, live_seconds=1, database=postgres)
    )
    assert result["engine"] == "postgresql"
    assert result["rows"] == {
        "turns": 300, "decisions": 10, "decision_reasons": 20, "decision_trajectory": 50,
    }  # fmt: skip
    assert result["live"]["events"] == 200
    with contextlib.closing(postgres.connect(read_only=True)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 500
    assert not list(tmp_path.iterdir()), "no SQLite file beside a PostgreSQL record"


def test_the_record_bench_refuses_a_database_that_holds_a_run_already(
    kafka_broker: LocalKafka, postgres: RecordDatabase, tmp_path: Path
) -> None:
    settings = settings_for(kafka_broker.bootstrap_servers)
    asyncio.run(
        measure(settings, tmp_path, 100, 5, live_rate=100, live_seconds=1, database=postgres)
    )
    with pytest.raises(BenchError, match=r"already holds 200 turns.*give it an empty database"):
        asyncio.run(
            measure(settings, tmp_path, 100, 5, live_rate=100, live_seconds=1, database=postgres)
        )
