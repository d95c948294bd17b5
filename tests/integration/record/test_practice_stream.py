"""Empathy practice through a real broker: an opted-in tenant's conversation that
ended well becomes an anonymised scenario, another tenant's leaves no text, and the
practice routes answer as the OpenAPI document says, the review to the agent only;
a round the agent shares reaches the supervisor, beside the running writer, until
the agent takes it back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.record.conftest import publish, reader, record_settings, wait_consumed
from tests.openapi_contract import Contract
from tests.record_support import KnownSet, practice_conversation
from warmline.localkafka import LocalKafka
from warmline.record.practice import scenario_id

REPLY = "I'm so sorry, let me look into this now. Could you confirm the address?"


def both(*sets: KnownSet) -> KnownSet:
    joined = KnownSet()
    for known in sets:
        for topic, records in known.records.items():
            joined.records[topic] += records
    return joined


async def _practice_answers(contract: Contract, base: str, scenario: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:

        async def call(method: str, path: str, url: str, token: str | None, **kw: Any) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await contract.call(http, method, path, base + url, headers=headers, **kw)

        page = await call("get", "/practice", "/practice", None)
        assert page[0] == 200 and "Get feedback" in page[1]
        listed = "/v1/practice/scenarios"
        status, body = await call("get", listed, listed, "acme-supervisor")
        assert status == 200 and [s["scenario_id"] for s in body["scenarios"]] == [scenario]
        # A token of a queue the scenario never reached, or of another tenant, sees none.
        assert (await call("get", listed, listed, "acme-general"))[1] == {"scenarios": []}
        assert (await call("get", listed, listed, "globex-supervisor"))[1] == {"scenarios": []}
        assert (await call("get", listed, listed, None))[0] == 401
        one = "/v1/practice/scenarios/{scenario_id}"
        status, shown = await call("get", one, f"{listed}/{scenario}", "acme-supervisor")
        assert status == 200 and "example_opening" not in shown
        assert "Anna" not in str(shown) and "Person A" in str(shown)
        assert (await call("get", one, f"{listed}/{scenario}", "globex-supervisor"))[0] == 404
        assert (await call("get", one, f"{listed}/nope", None))[0] == 401
        review = "/v1/practice/review"
        ask = {"scenario_id": scenario, "reply": REPLY}
        status, reviewed = await call("post", review, review, "acme-supervisor", json=ask)
        assert status == 200 and reviewed["passed"] == reviewed["of"] == 5
        assert (await call("post", review, review, None, json=ask))[0] == 401
        other = {"scenario_id": scenario, "reply": REPLY}
        assert (await call("post", review, review, "globex-supervisor", json=other))[0] == 404
        status, refused = await call(
            "post", review, review, "acme-supervisor", json={"scenario_id": scenario, "reply": " "}
        )
        assert (status, refused["field"]) == (400, "reply")
        big = {"scenario_id": scenario, "reply": "x" * 70_000}
        assert (await call("post", review, review, "acme-supervisor", json=big))[0] == 413
        await _shared_until_taken_back(call, scenario)
        return reviewed  # type: ignore[no-any-return]


async def _shared_until_taken_back(call: Any, scenario: str) -> None:
    shares, shared = "/v1/practice/shares", "/v1/practice/shared"
    assert (await call("get", shared, shared, "acme-supervisor"))[1] == {"shares": []}
    body = {"kind": "round", "scenario_id": scenario, "reply": REPLY}
    status, share = await call("post", shares, shares, "acme-billing", json=body)
    assert (status, share["agent_id"], share["round"]["reply"]) == (201, "bea", REPLY)
    assert (await call("get", shared, shared, "acme-supervisor"))[1] == {"shares": [share]}
    assert (await call("get", shared, shared, "acme-general"))[0] == 403
    one = "/v1/practice/shares/{share_id}"
    url = f"{shares}/{share['share_id']}"
    assert (await call("delete", one, url, "acme-billing"))[0] == 200
    assert (await call("get", shared, shared, "acme-supervisor"))[1] == {"shares": []}


def test_a_conversation_that_ended_well_is_practised_and_the_result_stays_with_the_agent(
    kafka_broker: LocalKafka, make_record: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "record"
    settings = record_settings(
        kafka_broker.bootstrap_servers, data_dir, practice_tenants=frozenset({"acme"})
    )
    at = datetime.now(UTC)
    known = both(
        practice_conversation("acme", "conv-1", at),
        practice_conversation("globex", "conv-1", at),
    )
    asyncio.run(publish(settings, known.outputs(settings)))
    running = make_record(settings)
    wait_consumed(settings, settings.record.consumer_group)
    conn = reader(data_dir)
    try:
        stored = conn.execute("SELECT tenant_id, scenario_id FROM practice_scenarios").fetchall()
        waiting = conn.execute("SELECT COUNT(*) FROM practice_turns").fetchone()[0]
    finally:
        conn.close()
    scenario = scenario_id("acme", "conv-1")
    assert (stored, waiting) == ([("acme", scenario)], 0)

    contract = Contract("record")
    reviewed = asyncio.run(_practice_answers(contract, running.http_base, scenario))
    assert "Only you see this" in reviewed["private"]
    # Every answer of sharing is seen in tests/unit/record/test_practice_shares.py.
    assert {u for u in contract.unseen() if "practice" in u[1] and "/shar" not in u[1]} == set()
    # Nothing of the review was kept: no table holds the reply or a check's name.
    conn = reader(data_dir)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        values = [str(v) for t in tables for row in conn.execute(f"SELECT * FROM {t}") for v in row]
    finally:
        conn.close()
    assert not [v for v in values if "Could you confirm" in v or "takes_ownership" in v]
