"""Platform webhooks through the real HTTP door into Kafka."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import aiohttp
import pytest

from tests.integration.ingestion.conftest import CHATWOOT_SECRET, ZENDESK_SECRET, RunningIngestion
from tests.support import read_topic
from tests.unit.adapters.support import chatwoot_headers, raw
from warmline.v1 import events_pb2

pytestmark = pytest.mark.integration


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers={**headers, "Content-Type": "application/json"}) as r,
    ):
        return r.status, await r.json()


async def test_a_signed_chatwoot_message_lands_as_a_customer_event(
    ingestion: RunningIngestion,
) -> None:
    body = raw("chatwoot", "message_created_incoming")
    url = f"{ingestion.http_base}/v1/webhooks/chatwoot/acme"
    status, _ = await post(url, body, chatwoot_headers(CHATWOOT_SECRET, body, int(time.time())))
    assert status == 200
    # The platform retries a delivery it thinks failed: acknowledged, not re-written.
    status, reply = await post(url, body, chatwoot_headers(CHATWOOT_SECRET, body, int(time.time())))
    assert status == 200
    assert reply["acks"][0]["status"] == "ACK_STATUS_DUPLICATE"  # type: ignore[index]

    records = await read_topic(
        ingestion.settings.kafka.bootstrap_servers, ingestion.topic, 1, settle=1.0
    )
    [event] = [events_pb2.InteractionEvent.FromString(r.value or b"") for r in records]
    assert event.tenant_id == "acme"
    assert event.role == events_pb2.ROLE_CUSTOMER
    assert event.event_id.startswith("chatwoot:message:")


async def test_a_zendesk_message_with_the_integration_key_is_accepted(
    ingestion: RunningIngestion,
) -> None:
    body = raw("zendesk", "conversation_message_user")
    url = f"{ingestion.http_base}/v1/webhooks/zendesk/acme"
    status, _ = await post(url, body, {"X-API-Key": ZENDESK_SECRET})
    assert status == 200
    [record] = await read_topic(ingestion.settings.kafka.bootstrap_servers, ingestion.topic, 1)
    assert events_pb2.InteractionEvent.FromString(record.value or b"").event_id.startswith(
        "zendesk:"
    )


@pytest.mark.parametrize(
    ("path", "headers", "status", "error"),
    [
        ("chatwoot/acme", {"X-Chatwoot-Signature": "sha256=00"}, 401, "unauthenticated"),
        ("chatwoot/globex", {}, 401, "unauthenticated"),  # globex set no chatwoot secret
        ("zendesk/acme", {"X-API-Key": "guess"}, 401, "unauthenticated"),
        ("intercom/acme", {}, 404, "unknown_platform"),
    ],
)
async def test_unsigned_forged_or_unknown_webhooks_are_refused(
    ingestion: RunningIngestion, path: str, headers: dict[str, str], status: int, error: str
) -> None:
    body = raw("chatwoot", "message_created_incoming")
    got, reply = await post(f"{ingestion.http_base}/v1/webhooks/{path}", body, headers)
    assert (got, reply["error"]) == (status, error)


async def test_a_signed_but_malformed_payload_is_a_400_naming_the_problem(
    ingestion: RunningIngestion,
) -> None:
    body = b'{"event": "message_created", "id": "not-a-number"}'
    stamp = int(datetime.now(UTC).timestamp())
    got, reply = await post(
        f"{ingestion.http_base}/v1/webhooks/chatwoot/acme",
        body,
        chatwoot_headers(CHATWOOT_SECRET, body, stamp),
    )
    assert got == 400
    assert reply["error"] == "invalid_payload"
    assert reply["message"]


async def test_a_deeply_nested_body_is_refused_not_crashed(ingestion: RunningIngestion) -> None:
    body = b"[" * 200_000
    got, reply = await post(
        f"{ingestion.http_base}/v1/events", body, {"Authorization": "Bearer acme-key-7f3a"}
    )
    assert (got, reply["error"]) == (400, "invalid_json")
