"""A running ingestion service answers as its OpenAPI document says, every documented answer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.protobuf import json_format

from tests.integration.ingestion.conftest import (
    ACME_KEY,
    CHATWOOT_SECRET,
    GLOBEX_KEY,
    RunningIngestion,
    message,
    start_ingestion,
)
from tests.openapi_contract import Contract
from tests.unit.adapters.support import chatwoot_headers, load, raw
from warmline.common.openapi import service_document
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration

EVENTS = "/v1/events"
WEBHOOK = "/v1/webhooks/{platform}/{tenant}"
BURST = 40


@pytest.fixture
def limited(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[RunningIngestion]:
    """A service whose tenants may burst :data:`BURST` events, then one every two seconds."""
    yield from start_ingestion(
        kafka_broker.bootstrap_servers, tmp_path, rate_limit_per_s=0.5, rate_limit_burst=BURST
    )


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = json_format.MessageToDict(
        message(event_id, **fields), preserving_proto_field_name=True
    )
    return body


def auth(key: str = ACME_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def check_events(contract: Contract, http: aiohttp.ClientSession, base: str) -> None:
    url = base + EVENTS

    async def post(body: object, headers: dict[str, str], **kwargs: Any) -> tuple[int, Any]:
        return await contract.call(http, "post", EVENTS, url, json=body, headers=headers, **kwargs)

    single = event("oa-1")
    batch = {"events": [event("oa-2"), {**event("oa-3"), "channel": "CHANNEL_PIGEON"}]}
    contract.request("post", EVENTS, single)
    contract.request("post", EVENTS, {"events": batch["events"][:1]})
    assert (await post(single, auth()))[0] == 202
    status, body = await post(single, auth())
    assert (status, body["ack"]["status"]) == (200, "ACK_STATUS_DUPLICATE")
    status, body = await post(batch, auth())
    assert [a["status"] for a in body["acks"]] == ["ACK_STATUS_ACCEPTED", "ACK_STATUS_REJECTED"]
    status, body = await post({"event_id": "oa-4", "conversation_id": "c"}, auth())
    assert (status, body["error"]) == (400, "invalid_argument")
    assert {"channel", "role", "kind"} <= {v["field"] for v in body["field_violations"]}
    status, body = await contract.call(
        http,
        "post",
        EVENTS,
        url,
        data=b"{nope",
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert (status, body["error"]) == (400, "invalid_json")
    assert (await post(single, {"Authorization": "Bearer wrong"}))[0] == 401
    status, body = await post({**event("oa-5"), "tenant_id": "globex"}, auth())
    assert (status, body["error"]) == (403, "tenant_mismatch")
    status, body = await post({"events": [{}] * 1001}, auth())
    assert (status, body["error"]) == (413, "batch_too_large")
    status, text = await contract.call(
        http,
        "post",
        EVENTS,
        url,
        data=b"x" * (16 * 1024 * 1024 + 1),
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert status == 413
    assert "exceeded" in text
    status, body = await contract.call(
        http,
        "post",
        EVENTS,
        url,
        data=json.dumps(single),
        headers={**auth(), "Content-Type": "text/plain"},
    )
    assert (status, body["error"]) == (415, "unsupported_media_type")
    # globex spends its burst, then is told when to come back.
    flood = {"events": [event(f"oa-flood-{i}") for i in range(BURST)]}
    status, body = await post(flood, auth(GLOBEX_KEY))
    assert {a["status"] for a in body["acks"]} == {"ACK_STATUS_ACCEPTED"}
    status, body = await post(event("oa-late"), auth(GLOBEX_KEY))
    assert (status, body["error"]) == (429, "rate_limited")


async def check_webhooks(contract: Contract, http: aiohttp.ClientSession, base: str) -> None:
    async def post(
        platform: str, body: bytes, headers: dict[str, str], kind: str = "application/json"
    ) -> tuple[int, Any]:
        url = f"{base}/v1/webhooks/{platform}/acme"
        headers = {**headers, "Content-Type": kind}
        return await contract.call(http, "post", WEBHOOK, url, data=body, headers=headers)

    def signed(body: bytes) -> dict[str, str]:
        return chatwoot_headers(CHATWOOT_SECRET, body, int(time.time()))

    good = raw("chatwoot", "message_created_incoming")
    status, body = await post("chatwoot", good, signed(good))
    assert (status, body["acks"][0]["status"]) == (200, "ACK_STATUS_ACCEPTED")
    for bad, error in ((b"{nope", "invalid_json"), (b"[1]", "invalid_payload")):
        status, body = await post("chatwoot", bad, signed(bad))
        assert (status, body["error"]) == (400, error)
    status, body = await post(
        "chatwoot", good, {**signed(good), "X-Chatwoot-Signature": "sha256=00"}
    )
    assert (status, body["error"]) == (401, "unauthenticated")
    status, body = await post("carrier-pigeon", good, {})
    assert (status, body["error"]) == (404, "unknown_platform")
    huge = b"x" * (16 * 1024 * 1024 + 1)
    assert (await post("chatwoot", huge, {}))[0] == 413
    status, body = await post("chatwoot", good, signed(good), kind="text/plain")
    assert (status, body["error"]) == (415, "unsupported_media_type")
    too_long = load("chatwoot", "message_created_incoming")
    too_long["id"] += 1
    too_long["content"] = "So long. " * 2_000
    long_body = json.dumps(too_long).encode()
    status, body = await post("chatwoot", long_body, signed(long_body))
    assert (status, body["acks"][0]["status"]) == (422, "ACK_STATUS_REJECTED")


async def test_every_documented_answer_of_ingestion_matches_the_document(
    limited: RunningIngestion,
) -> None:
    contract = Contract("ingestion")
    async with aiohttp.ClientSession() as http:
        _, body = await contract.call(
            http, "get", "/openapi.json", limited.http_base + "/openapi.json"
        )
        assert body == json.loads(json.dumps(service_document("ingestion")))
        await check_events(contract, http, limited.http_base)
        await check_webhooks(contract, http, limited.http_base)
    assert not contract.unseen(), sorted(contract.unseen())
