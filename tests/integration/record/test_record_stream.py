"""The record on a real broker: every decision found by audit, replays and restarts
add no row, poison goes to the dead-letter topic, the audit door checks tokens."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.integration.record.conftest import (
    TOKENS,
    counts,
    publish,
    reader,
    record_settings,
    wait_consumed,
)
from tests.record_support import known_set
from tests.support import read_topic, unique
from warmline.cli import app
from warmline.common.keys import conversation_key
from warmline.common.pipeline import Output
from warmline.localkafka import LocalKafka
from warmline.record.audit import conversation_audit
from warmline.v1 import deadletter_pb2, feedback_pb2


def test_every_decision_is_recorded_once_through_replays_restarts_and_poison(
    kafka_broker: LocalKafka, make_record: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "record"
    settings = record_settings(kafka_broker.bootstrap_servers, data_dir)
    group = settings.record.consumer_group
    known = known_set()
    key = conversation_key("acme", "conv-0")
    # Poison first, on the partition of a conversation whose records follow it.
    poison = [
        Output(settings.topics.name("escalations"), key, b"\xff\xff\xff not a protobuf"),
        Output(settings.topics.name("feedback"), key, feedback_pb2.Feedback().SerializeToString()),
    ]
    asyncio.run(publish(settings, poison + known.outputs(settings)))
    running = make_record(settings)
    wait_consumed(settings, group)

    first = counts(data_dir)
    assert {t: first[t] for t in ("turns", "decisions", "claims", "verdicts")} == {
        "turns": 32, "decisions": 16, "claims": 8, "verdicts": 8,
    }  # fmt: skip
    conn = reader(data_dir)
    for (tenant, conversation), decision_ids in known.decisions.items():
        audited = conversation_audit(conn, conversation, tenant)
        assert [d["decision_id"] for d in audited] == decision_ids, (tenant, conversation)
        assert audited[0]["claims"] and audited[0]["verdicts"]
    conn.close()

    letters = [
        deadletter_pb2.DeadLetter.FromString(r.value or b"")
        for r in asyncio.run(
            read_topic(kafka_broker.bootstrap_servers, settings.topics.name("deadletter"), 2)
        )
    ]
    assert {(d.consumer, d.reason) for d in letters} == {
        ("record", "undecodable"), ("record", "invalid_schema"),
    }  # fmt: skip

    # A restart, then every record of every topic again: no row more.
    running.stop()
    make_record(settings)
    asyncio.run(publish(settings, known.outputs(settings)))
    wait_consumed(settings, group)
    assert counts(data_dir) == first

    # A new consumer group reads every topic from the start: still no row more.
    replay_group = unique("record-replay")
    fresh = settings.model_copy(
        update={"record": settings.record.model_copy(update={"consumer_group": replay_group})}
    )
    make_record(fresh)
    wait_consumed(fresh, replay_group)
    assert counts(data_dir) == first

    printed = CliRunner().invoke(
        app,
        ["audit", "conv-1", "--tenant", "acme", "--format", "json", "--data-dir", str(data_dir)],
    )
    assert printed.exit_code == 0, printed.output
    audit = json.loads(printed.output)
    assert [d["decision_id"] for d in audit["decisions"]] == known.decisions[("acme", "conv-1")]


def _get(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_audit_endpoint_shows_a_tenants_conversation_to_its_tokens_only(
    kafka_broker: LocalKafka, make_record: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "record"
    settings = record_settings(kafka_broker.bootstrap_servers, data_dir)
    known = known_set(("acme",), conversations=1)
    asyncio.run(publish(settings, known.outputs(settings)))
    running = make_record(settings)
    wait_consumed(settings, settings.record.consumer_group)
    assert "acme-supervisor" in TOKENS

    status, body = _get(f"{running.audit_url}/conv-0", "acme-supervisor")
    assert status == 200
    assert [d["decision_id"] for d in body["decisions"]] == known.decisions[("acme", "conv-0")]
    assert body["decisions"][0]["reasons"][0]["explanation"] == "Negativity stayed high."
    # Another tenant's token, or one for queues the conversation never reached: not found.
    assert _get(f"{running.audit_url}/conv-0", "globex-supervisor")[0] == 404
    assert _get(f"{running.audit_url}/conv-0", "acme-general")[0] == 404
    assert _get(f"{running.audit_url}/conv-0", None)[0] == 401
    assert _get(f"{running.audit_url}/conv-0", "no-such-token")[0] == 401
