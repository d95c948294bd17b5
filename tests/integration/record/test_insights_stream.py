"""Insights of what the record consumed from a real broker: the CLI and the HTTP
door give the same numbers, as the OpenAPI document says."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from typer.testing import CliRunner

from tests.integration.record.conftest import publish, record_settings, wait_consumed
from tests.openapi_contract import Contract
from tests.record_support import known_set
from warmline.cli import app
from warmline.localkafka import LocalKafka


def test_insights_of_the_consumed_stream_are_the_same_from_the_cli_and_over_http(
    kafka_broker: LocalKafka, make_record: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "record"
    settings = record_settings(kafka_broker.bootstrap_servers, data_dir)
    at = datetime.now(UTC) - timedelta(minutes=5)
    # Five conversations of acme, each escalated to billing, claimed, judged a false
    # alarm and rated 2; one of globex, which acme's figures never include.
    known = known_set(("acme",), conversations=5, at=at)
    other = known_set(("globex",), conversations=1, at=at)
    asyncio.run(publish(settings, known.outputs(settings) + other.outputs(settings)))
    running = make_record(settings)
    wait_consumed(settings, settings.record.consumer_group)

    window = [
        "--from",
        (at - timedelta(hours=1)).isoformat(),
        "--to",
        datetime.now(UTC).isoformat(),
    ]
    printed = CliRunner().invoke(
        app,
        ["insights", "--tenant", "acme", "--format", "json", "--data-dir", str(data_dir), *window],
    )
    assert printed.exit_code == 0, printed.output
    numbers = json.loads(printed.stdout)
    billing = next(
        r
        for r in numbers["escalations"]
        if r["queue"] == "billing" and r["bucket"] is None and r["reason"] is None
    )
    assert (billing["escalations"], billing["conversations"]) == (5, 5)
    verdicts = next(
        r for r in numbers["false_alarms"] if r["queue"] is None and r["reason"] is None
    )
    assert verdicts["false_alarm_rate"] == 1.0
    claims = next(r for r in numbers["timings"] if r["queue"] is None and r["bucket"] is None)
    assert (claims["claimed"], claims["claim_s_median"]) == (5, 3.0)

    contract = Contract("record")
    answered = asyncio.run(_insights(contract, running.http_base, window))
    assert answered | {"from": numbers["from"], "to": numbers["to"]} == numbers


async def _insights(contract: Contract, base: str, window: list[str]) -> Any:
    params = {"from": window[1], "to": window[3]}
    async with aiohttp.ClientSession() as http:
        status, body = await contract.call(
            http, "get", "/v1/insights", f"{base}/v1/insights", params=params,
            headers={"Authorization": "Bearer acme-supervisor"},
        )  # fmt: skip
        assert status == 200
        return body
