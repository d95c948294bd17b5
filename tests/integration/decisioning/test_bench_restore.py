"""The short version of ``warmline bench restore``: a decisioning worker process
started on filled changelogs decides a fresh event with the state it restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from warmline.bench.common import write_result
from warmline.bench.restore import Size, measure
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration


async def test_a_restarted_worker_decides_with_its_restored_conversations_and_history(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    result = await measure([Size(30, 100)], kafka_broker.version, broker=kafka_broker)
    out = tmp_path / "restore.json"
    write_result(out, result)
    written = json.loads(out.read_text())

    [size] = written["sizes"]
    # The probe alone is one negative turn: the streak is its restored earlier turn,
    # the repeat contact its customer's restored history.
    assert size["probe"] == {
        "action": "DECISION_ACTION_ESCALATE",
        "reasons": ["negative_streak", "repeat_contact"],
        "customer_escalations_in_window": 2,
    }
    assert (size["conversations"], size["customers"]) == (30, 100)
    assert size["conversation_records"] == 31  # and the probe's
    assert size["history_entries"] == 100 + 25 + 10
    for field in ("restart_to_deciding_s", "ready_s", "peak_rss_mib", "rss_mib", "write_s"):
        assert size[field] > 0, field
    assert size["peak_rss_mib"] >= size["rss_mib"]
    assert written["machine"]["cores"] and written["machine"]["memory_gib"]
    assert written["kafka_version"] == kafka_broker.version


async def test_a_second_start_on_the_local_database_decides_with_what_the_first_kept(
    kafka_broker: LocalKafka,
) -> None:
    result = await measure(
        [Size(30, 100)], kafka_broker.version, broker=kafka_broker, store="sqlite"
    )
    [size] = result["sizes"]
    assert result["store"] == "sqlite"
    assert size["conversation_records"] == 32  # and both probes'
    # The second probe's earlier turn and its customer's history came from the database.
    again = size["second_restart"]
    assert again["probe"]["reasons"] == ["negative_streak", "repeat_contact"]
    assert again["probe"]["customer_escalations_in_window"] >= 2
    assert again["restart_to_deciding_s"] > 0 and again["database_mib"] > 0
