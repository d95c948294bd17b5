"""A running notification service answers as its OpenAPI document says, every documented answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.integration.notification.conftest import Running, decision, publish, token
from tests.openapi_contract import Contract
from warmline.common.openapi import service_document
from warmline.v1 import escalation_pb2

pytestmark = pytest.mark.integration

TOO_LARGE = b"{" + b" " * (64 * 1024) + b"}"


def auth(agent: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(agent)}"}


class Stream:
    """An SSE stream read in the background; every event checked against the document."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.events: list[tuple[str, str, Any]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self, http: aiohttp.ClientSession, base: str, agent: str) -> None:
        reply = await http.get(
            f"{base}/v1/stream", params={"queues": "billing"}, headers=auth(agent)
        )
        self.contract.response(
            "get", "/v1/stream", reply.status, reply.content_type, dict(reply.headers), b""
        )
        self._task = asyncio.create_task(self._read(reply))

    async def _read(self, reply: aiohttp.ClientResponse) -> None:
        kind, ident, data = "message", "", ""
        async with reply:
            async for raw in reply.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("id: "):
                    ident = line.removeprefix("id: ")
                elif line.startswith("data: "):
                    data += line.removeprefix("data: ")
                elif not line and data:
                    self.events.append((kind, ident, self.contract.sse_event(kind, data)))
                    self._arrived.set()
                    kind, ident, data = "message", "", ""

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.events]

    async def until(self, kind: str, count: int = 1, within_s: float = 20.0) -> None:
        async with asyncio.timeout(within_s):
            while self.kinds().count(kind) < count:
                assert self._task is not None and not self._task.done(), self.kinds()
                self._arrived.clear()
                await self._arrived.wait()


async def check_claims(contract: Contract, http: aiohttp.ClientSession, base: str) -> None:
    async def claim(agent: str, body: object, **kwargs: Any) -> tuple[int, Any]:
        return await contract.call(
            http, "post", "/v1/claim", f"{base}/v1/claim", json=body, headers=auth(agent), **kwargs
        )

    request = {"decision_id": decision("oa-open").decision_id}
    contract.request("post", "/v1/claim", request)
    assert await claim("alice", request) == (200, {"granted": True, "holder_agent_id": "alice"})
    status, body = await claim("alice", {})
    assert (status, body["field"]) == (400, "decision_id")
    assert (await claim("nobody", request))[0] == 401
    assert (await claim("alice", {**request, "agent_id": "bob"}))[0] == 403
    assert (await claim("alice", {"decision_id": "no-such-decision"}))[0] == 404
    status, _ = await contract.call(
        http,
        "post",
        "/v1/claim",
        f"{base}/v1/claim",
        data=TOO_LARGE,
        headers={**auth("alice"), "Content-Type": "application/json"},
    )
    assert status == 413
    # The escalation that is already over: 409 once the replica has read its end.
    over = {"decision_id": decision("oa-over").decision_id}
    for _ in range(100):
        if (await claim("bob", over))[0] == 409:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the ended escalation was never refused with 409")


async def check_actions(
    contract: Contract, http: aiohttp.ClientSession, base: str, cursor: str
) -> None:
    async def post(path: str, agent: str, body: object) -> tuple[int, Any]:
        return await contract.call(
            http, "post", path, f"{base}{path}", json=body, headers=auth(agent)
        )

    open_id = decision("oa-open").decision_id
    abusive_id = decision("oa-abuse").decision_id
    good = {
        "/v1/ack": {"cursor": cursor},
        "/v1/feedback": {"decision_id": open_id, "verdict": "useful", "comment": "right call"},
        "/v1/reveal": {"decision_id": abusive_id},
    }
    bad = {
        "/v1/ack": ({"cursor": "garbage"}, "cursor"),
        "/v1/feedback": ({"decision_id": open_id, "verdict": "meh"}, "verdict"),
        "/v1/reveal": ({}, "decision_id"),
    }
    for path, body in good.items():
        contract.request("post", path, body)
        status, reply = await post(path, "bob", body)
        assert status == 200, (path, reply)
        body_bad, field = bad[path]
        status, reply = await post(path, "bob", body_bad)
        assert (status, reply["field"]) == (400, field)
        assert (await post(path, "nobody", body))[0] == 401
        assert (await post(path, "bob", {**body, "agent_id": "alice"}))[0] == 403
        if path != "/v1/ack":
            assert (await post(path, "bob", {**body, "decision_id": "no-such"}))[0] == 404
        status, _ = await contract.call(
            http,
            "post",
            path,
            f"{base}{path}",
            data=TOO_LARGE,
            headers={**auth("bob"), "Content-Type": "application/json"},
        )
        assert status == 413
    status, reply = await post("/v1/reveal", "bob", good["/v1/reveal"])
    assert reply == {"text": "you are an idiot"}


async def check_pause(
    contract: Contract, http: aiohttp.ClientSession, base: str, bob: Stream
) -> None:
    async def post(path: str, agent: str, body: object) -> tuple[int, Any]:
        return await contract.call(
            http, "post", path, f"{base}{path}", json=body, headers=auth(agent)
        )

    cases = {
        "/v1/pause": ({"duration_s": 120}, {"duration_s": 10**6}, "duration_s"),
        "/v1/resume": ({}, {"agent_id": 5}, "agent_id"),
    }
    for path, (body, body_bad, field) in cases.items():
        contract.request("post", path, body)
        status, reply = await post(path, "bob", body)
        assert status == 200 and reply["paused"] == (path == "/v1/pause"), reply
        await bob.until("pause", 1 if path == "/v1/pause" else 2)
        status, reply = await post(path, "bob", body_bad)
        assert (status, reply["field"]) == (400, field)
        assert (await post(path, "nobody", body))[0] == 401
        assert (await post(path, "bob", {**body, "agent_id": "alice"}))[0] == 403
        status, _ = await contract.call(
            http,
            "post",
            path,
            f"{base}{path}",
            data=TOO_LARGE,
            headers={**auth("bob"), "Content-Type": "application/json"},
        )
        assert status == 413


async def check_stream_refusals(contract: Contract, http: aiohttp.ClientSession, base: str) -> None:
    url = f"{base}/v1/stream"
    for agent, params, status in (
        ("bob", {"queues": "billing", "cursor": "garbage"}, 400),
        ("nobody", {"queues": "billing"}, 401),
        ("bob", {"queues": "general"}, 403),
    ):
        got, _ = await contract.call(
            http, "get", "/v1/stream", url, params=params, headers=auth(agent)
        )
        assert got == status


async def test_every_documented_answer_of_the_console_matches_the_document(
    make_notification: Any,
) -> None:
    replica: Running = make_notification(heartbeat_s=0.5)
    contract = Contract("notification")
    base = replica.http_base
    await publish(
        replica.settings,
        [
            decision("oa-open"),
            decision("oa-abuse", abusive=True, text="you are an ***", unmasked="you are an idiot"),
            decision("oa-over"),
            decision(
                "oa-over",
                action=escalation_pb2.DECISION_ACTION_RESOLVED,
                trigger="oa-over-ended",
            ),
        ],
    )
    async with aiohttp.ClientSession() as http:
        _, page = await contract.call(http, "get", "/", f"{base}/")
        assert "<html" in page.lower()
        _, document = await contract.call(http, "get", "/openapi.json", f"{base}/openapi.json")
        assert document == json.loads(json.dumps(service_document("notification")))

        bob = Stream(contract)
        await bob.open(http, base, "bob")
        await bob.until("delivery", 2)
        await bob.until("heartbeat")
        await check_claims(contract, http, base)
        await bob.until("claimed")  # alice took oa-open
        cursor = next(ident for kind, ident, _ in bob.events if kind == "delivery" and ident)
        await check_actions(contract, http, base, cursor)
        await check_pause(contract, http, base, bob)
        await check_stream_refusals(contract, http, base)

        await asyncio.to_thread(replica.stop)  # the service ends every stream
        await bob.until("closed")
    assert {"subscribed", "delivery", "claimed", "heartbeat", "closed"} <= set(bob.kinds())
    assert not contract.unseen(), sorted(contract.unseen())
