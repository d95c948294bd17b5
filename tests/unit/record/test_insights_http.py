"""``GET /v1/insights`` and the supervisor page on the record's HTTP door: tokens,
queues, refusals, all as the OpenAPI document says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.insights_support import AGENT, floor
from tests.openapi_contract import STUBBED, Contract
from warmline.common.credentials import hash_key
from warmline.notification.tokens import AgentDirectory
from warmline.record.http_api import AuditHttpApi

TOKENS = {
    "acme-all": ("acme", "sam", ["*"]),
    "acme-billing": ("acme", "bea", ["billing"]),
    "globex-all": ("globex", "gina", ["*"]),
}
WINDOW = {"from": "2026-12-01", "to": "2026-12-02"}


def agents() -> AgentDirectory:
    return AgentDirectory.from_mapping(
        {"agents": [
            {"token_sha256": hash_key(t), "tenant": tenant, "agent_id": agent, "queues": queues}
            for t, (tenant, agent, queues) in TOKENS.items()
        ]}
    )  # fmt: skip


async def test_insights_answer_each_token_for_its_tenant_and_queues_as_documented(
    tmp_path: Path,
) -> None:
    contract = Contract("record")
    app = AuditHttpApi(floor(tmp_path / "record.sqlite3"), agents(), insights_min_group=2).app()
    path = "/v1/insights"
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        url = str(server.make_url(path))

        async def get(token: str | None, **params: str) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await contract.call(http, "get", path, url, params=params, headers=headers)

        status, every = await get("acme-all", **WINDOW)
        assert status == 200
        assert every["queues"] is None and every["min_group"] == 2
        totals = [r for r in every["climate"] if r["bucket"] is None and r["queue"] is None]
        assert totals[0]["conversations"] == 13
        assert AGENT not in str(every)
        status, billing = await get("acme-billing", tenant="acme", **WINDOW)
        assert (status, billing["queues"]) == (200, ["billing"])
        assert {r["queue"] for r in billing["climate"]} == {None, "billing"}
        status, other = await get("globex-all", **WINDOW)
        assert (status, other["tenant"]) == (200, "globex")

        assert (await get("acme-all", tenant="globex", **WINDOW))[0] == 403
        status, refused = await get("acme-all", **{"from": "last week"})
        assert (status, refused["field"]) == (400, "from")
        assert (await get(None, **WINDOW))[0] == 401
        assert (await get("no-such-token", **WINDOW))[0] == 401

        status, page = await contract.call(
            http, "get", "/insights", str(server.make_url("/insights"))
        )
        assert status == 200 and "/v1/insights" in page
    unseen = {u for u in contract.unseen() if "insights" in u[1]}
    assert unseen == set()
    assert ("record", "get", path, "503") in STUBBED
