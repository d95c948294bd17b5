"""The record on a real broker: every decision found by audit, replays and restarts
add no row, poison goes to the dead-letter topic, the audit door checks tokens and
answers as its OpenAPI document says, the retention job deletes per tenant."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from typer.testing import CliRunner

from tests.integration.record.conftest import (
    TOKENS,
    assert_restarts_and_replays_add_no_row,
    counts,
    publish,
    reader,
    record_settings,
    wait_consumed,
)
from tests.openapi_contract import Contract
from tests.record_support import KnownSet, known_set
from tests.support import read_topic, wait_until
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

    assert_restarts_and_replays_add_no_row(
        make_record, running, settings, known, lambda: counts(data_dir), first
    )

    printed = CliRunner().invoke(
        app,
        ["audit", "conv-1", "--tenant", "acme", "--format", "json", "--data-dir", str(data_dir)],
    )
    assert printed.exit_code == 0, printed.output
    audit = json.loads(printed.stdout)
    assert [d["decision_id"] for d in audit["decisions"]] == known.decisions[("acme", "conv-1")]


async def _audit_answers(contract: Contract, base: str, known: KnownSet) -> None:
    path = "/v1/audit/{conversation_id}"
    url = f"{base}/v1/audit/conv-0"
    async with aiohttp.ClientSession() as http:

        async def get(token: str | None) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await contract.call(http, "get", path, url, headers=headers)

        status, body = await get("acme-supervisor")
        assert status == 200
        assert [d["decision_id"] for d in body["decisions"]] == known.decisions[("acme", "conv-0")]
        assert body["decisions"][0]["reasons"][0]["explanation"] == "Negativity stayed high."
        # Another tenant's token, or one for queues the conversation never reached: not found.
        assert (await get("globex-supervisor"))[0] == 404
        assert (await get("acme-general"))[0] == 404
        assert (await get(None))[0] == 401
        assert (await get("no-such-token"))[0] == 401
        await contract.call(http, "get", "/openapi.json", f"{base}/openapi.json")


def test_the_audit_endpoint_shows_a_tenants_conversation_to_its_tokens_only(
    kafka_broker: LocalKafka, make_record: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "record"
    settings = record_settings(kafka_broker.bootstrap_servers, data_dir)
    known = known_set(("acme",), conversations=1)
    asyncio.run(publish(settings, known.outputs(settings)))
    running = make_record(settings)
    wait_consumed(settings, settings.record.consumer_group)
    assert {"acme-supervisor", "acme-general", "globex-supervisor"} <= set(TOKENS)
    contract = Contract("record")
    asyncio.run(_audit_answers(contract, running.http_base, known))
    # Every documented answer was seen (503, a missing database, in the unit test;
    # the practice routes in test_practice_stream, insights in test_insights_stream).
    assert {
        u for u in contract.unseen() if "practice" not in u[1] and "insights" not in u[1]
    } == set()


def test_the_retention_job_deletes_only_what_is_old_for_each_tenant(
    kafka_broker: LocalKafka, make_record: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "record"
    settings = record_settings(
        kafka_broker.bootstrap_servers, data_dir,
        tenant_retention_days={"acme": 2}, retention_interval_s=0.5,
    )  # fmt: skip
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    old = known_set(("acme", "globex"), 2, three_days_ago, "old-")
    recent = known_set(("acme", "globex"), 2, prefix="new-")
    asyncio.run(publish(settings, old.outputs(settings) + recent.outputs(settings)))
    running = make_record(settings)
    wait_consumed(settings, settings.record.consumer_group)

    def kept() -> dict[tuple[str, str], int]:
        conn = reader(data_dir)
        try:
            rows = conn.execute(
                "SELECT tenant_id, substr(conversation_id, 1, 4), COUNT(*) FROM decisions "
                "GROUP BY 1, 2"
            ).fetchall()
        finally:
            conn.close()
        return {(tenant, age): n for tenant, age, n in rows}

    expected = {("acme", "new-"): 4, ("globex", "new-"): 4, ("globex", "old-"): 4}
    wait_until(lambda: kept() == expected, timeout=10, what="acme's old decisions deleted")
    assert counts(data_dir)["turns"] == 3 * 8
    metrics = asyncio.run(_metrics(running.service.ops.port))
    assert 'warmline_record_retention_deleted_total{table="decisions"}' in metrics
    assert 'warmline_record_rows_written_total{table="turns"}' in metrics


async def _metrics(port: int) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as reply,
    ):
        return await reply.text()
