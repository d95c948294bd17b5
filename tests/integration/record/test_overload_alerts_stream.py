"""Overload alerts through a real broker: kept once however many replicas raised them
and however often they are replayed, never with the agent's id, counted in the
leaders' insights."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.integration.record.conftest import (
    counts,
    publish,
    reader,
    record_settings,
    wait_consumed,
)
from tests.record_support import overload_alert, stored_values
from warmline.cli import app
from warmline.common.pipeline import Output
from warmline.localkafka import LocalKafka

AGENT = "alice-named-by-choice"


def test_overload_alerts_are_kept_once_without_the_agent_and_counted_per_queue(
    kafka_broker: LocalKafka, make_record: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "record"
    settings = record_settings(kafka_broker.bootstrap_servers, data_dir)
    topic = settings.topics.name("overload_alerts")
    at = datetime.now(UTC) - timedelta(minutes=5)
    alerts = [overload_alert("acme", "billing", at + timedelta(seconds=n)) for n in range(4)]
    alerts.append(overload_alert("acme", "billing", at, agent=AGENT, measure="minutes"))
    alerts.append(overload_alert("globex", "billing", at))
    # Two replicas raise each alert with the same id.
    outputs = [Output(topic, f"{a.tenant_id}/{a.queue}".encode(), a.SerializeToString())
               for a in alerts for _ in range(2)]  # fmt: skip
    asyncio.run(publish(settings, outputs))
    running = make_record(settings)
    wait_consumed(settings, settings.record.consumer_group)
    assert counts(data_dir)["overload_alerts"] == 6

    # A restart and every alert again: no row more.
    running.stop()
    restarted = make_record(settings)
    asyncio.run(publish(settings, outputs))
    wait_consumed(settings, settings.record.consumer_group)
    assert counts(data_dir)["overload_alerts"] == 6
    metrics = f"http://127.0.0.1:{restarted.service.ops.port}/metrics"
    with urllib.request.urlopen(metrics, timeout=5) as answer:
        page = answer.read().decode()
    assert f'warmline_record_newest_written_timestamp_seconds{{topic="{topic}"}}' in page
    assert 'warmline_record_rows_written_total{table="overload_alerts"}' in page
    conn = reader(data_dir)
    assert not [v for v in stored_values(conn) if isinstance(v, str) and AGENT in v]
    conn.close()

    printed = CliRunner().invoke(app, [
        "insights", "--tenant", "acme", "--from", (at - timedelta(hours=1)).isoformat(),
        "--to", datetime.now(UTC).isoformat(), "--format", "json", "--data-dir", str(data_dir),
    ])  # fmt: skip
    assert printed.exit_code == 0, printed.output
    numbers = json.loads(printed.stdout)
    billing = [r for r in numbers["overload_alerts"] if r["queue"] == "billing" and not r["bucket"]]
    assert billing == [{"bucket": None, "queue": "billing", "suppressed": False, "alerts": 5,
                        "queue_alerts": 4, "agent_alerts": 1, "team_alerts": 0}]  # fmt: skip
    assert AGENT not in printed.stdout
