"""The console's HTTP door refuses malformed input with a clear 4xx, never a 500."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import grpc
import pytest

from tests.integration.notification.conftest import token

pytestmark = pytest.mark.integration

BAD_CURSORS = ["v1.0:\u00b2", "v1.0:" + "9" * 5_000, "v1.\u0661:0", "garbage"]


async def raw_request(port: int, head: bytes) -> bytes:
    """Send a request written byte for byte (clients refuse non-UTF-8 headers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return status_line


async def test_an_authorization_header_that_is_not_utf8_gets_401(make_notification: Any) -> None:
    replica = make_notification()
    status = await raw_request(
        replica.service.http_port,
        b"GET /v1/stream?queues=billing HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer \xff\xc3\x28\r\nConnection: close\r\n\r\n",
    )
    assert status.startswith(b"HTTP/1.1 401"), status


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_malformed_resume_cursor_gets_400_on_the_stream_and_on_ack(
    make_notification: Any, cursor: str
) -> None:
    replica = make_notification()
    headers = {"Authorization": f"Bearer {token('bob')}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{replica.http_base}/v1/stream",
            params={"queues": "billing", "cursor": cursor},
            headers=headers,
        ) as r:
            assert r.status == 400
            assert (await r.json())["field"] == "resume_cursor"
        async with http.post(
            f"{replica.http_base}/v1/ack", json={"cursor": cursor}, headers=headers
        ) as r:
            assert r.status == 400, await r.text()
            assert "cursor" in (await r.json())["message"]


async def test_a_lone_surrogate_in_a_json_field_gets_400(make_notification: Any) -> None:
    replica = make_notification()
    headers = {"Authorization": f"Bearer {token('bob')}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        for path, field in (("/v1/claim", "decision_id"), ("/v1/ack", "cursor")):
            body = json.dumps({field: "PLACEHOLDER"}).replace("PLACEHOLDER", "\\ud800")
            async with http.post(replica.http_base + path, data=body, headers=headers) as r:
                assert r.status == 400, (path, await r.text())
                assert (await r.json())["field"] == field

    # The replica still serves a well-formed console afterwards.
    bob = replica.client("bob")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bob.ack("v1.0:\u00b2")
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await bob.close()
