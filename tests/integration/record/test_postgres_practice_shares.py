"""Sharing practice with the record in a real PostgreSQL server: a round shared over
the record's HTTP door reaches the supervisor, is gone once taken back, and shares
age out with the practice retention, as on SQLite."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.practice_support import AGENT_TOKEN, GOOD_REPLY, SUPERVISOR_TOKEN, agents
from tests.record_support import practice_conversation
from warmline.record.database import RecordDatabase
from warmline.record.handler import _READERS
from warmline.record.http_api import AuditHttpApi
from warmline.record.practice import PracticeRules, scenario_id
from warmline.record.practice_shares import Share, insert_share, shared_with
from warmline.record.rows import Rows
from warmline.record.store import RecordStore

PRACTICE = PracticeRules(frozenset({"acme"}))


def with_scenario(postgres: RecordDatabase) -> str:
    """Acme's one scenario written into ``postgres``; its id."""
    rows = Rows(practice_tenants=PRACTICE.tenants)
    for topic, records in practice_conversation("acme", "c1", datetime.now(UTC)).records.items():
        for _, value in records:
            _READERS[topic](rows, value)
    store = RecordStore(postgres, PRACTICE)
    try:
        assert store.write(rows)["practice_scenarios"] == 1
    finally:
        store.close()
    return scenario_id("acme", "c1")


async def test_a_round_shared_in_postgresql_reaches_the_supervisor_until_taken_back(
    postgres: RecordDatabase,
) -> None:
    scenario = with_scenario(postgres)
    app = AuditHttpApi(postgres, agents()).app()
    async with TestServer(app) as server, aiohttp.ClientSession() as http:

        async def call(method: str, path: str, token: str, **kw: Any) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.request(method, server.make_url(path), headers=headers, **kw) as r:
                return r.status, await r.json()

        body = {"kind": "round", "scenario_id": scenario, "reply": GOOD_REPLY}
        status, share = await call("POST", "/v1/practice/shares", AGENT_TOKEN, json=body)
        assert status == 201
        seen = await call("GET", "/v1/practice/shared", SUPERVISOR_TOKEN)
        assert seen == (200, {"shares": [share]})
        url = f"/v1/practice/shares/{share['share_id']}"
        assert (await call("DELETE", url, AGENT_TOKEN))[0] == 200
        assert await call("GET", "/v1/practice/shared", SUPERVISOR_TOKEN) == (200, {"shares": []})


def test_shares_age_out_in_postgresql(postgres: RecordDatabase) -> None:
    with_scenario(postgres)
    now = time.time()
    store = RecordStore(postgres, PRACTICE)
    try:
        for tenant, share_id, age_days in (("acme", "recent", 1), ("acme", "old", 91)):
            share = Share(share_id, "alice", "summary", ("billing",), {}, now - age_days * 86_400)
            insert_share(store.conn, tenant, share)
        assert store.enforce_retention(now, 365, {})["practice_shares"] == 1
        kept = shared_with(store.conn, "acme", "sam", lambda _: True)
        assert [s.share_id for s in kept] == ["recent"]
    finally:
        store.close()
