"""The HTTP door: same validation and reason codes as gRPC, JSON in and out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from google.protobuf import json_format

from tests.integration.ingestion.conftest import ACME_KEY, RunningIngestion, message
from tests.support import read_topic
from warmline.v1 import events_pb2

pytestmark = pytest.mark.integration

HEADERS = {"Authorization": f"Bearer {ACME_KEY}"}


def as_json(event: events_pb2.InteractionEvent) -> dict[str, Any]:
    return json_format.MessageToDict(event, preserving_proto_field_name=True)


async def post(base: str, body: object, headers: dict[str, str] = HEADERS) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = (
            {"data": body, "headers": {**headers, "Content-Type": "application/json"}}
            if isinstance(body, bytes)
            else {"json": body, "headers": headers}
        )
        async with http.post(f"{base}/v1/events", **kwargs) as r:
            return r.status, await r.json()


async def test_a_single_event_is_accepted_then_recognised_as_duplicate(
    ingestion: RunningIngestion,
) -> None:
    body = as_json(message("h-1", text="My parcel never arrived"))
    assert (await post(ingestion.http_base, body))[0] == 202
    status, reply = await post(ingestion.http_base, body)
    assert (status, reply["ack"]["status"]) == (200, "ACK_STATUS_DUPLICATE")
    [record] = await read_topic(ingestion.settings.kafka.bootstrap_servers, ingestion.topic, 1)
    assert (
        events_pb2.InteractionEvent.FromString(record.value or b"").text
        == "My parcel never arrived"
    )


async def test_a_batch_gets_one_ack_per_event_in_order(ingestion: RunningIngestion) -> None:
    good = [as_json(message(f"b-{i}")) for i in range(3)]
    bad = {**as_json(message("b-bad")), "channel": "CHANNEL_CARRIER_PIGEON"}
    status, reply = await post(ingestion.http_base, {"events": [good[0], bad, good[1], good[2]]})
    assert status == 200
    statuses = [a["status"] for a in reply["acks"]]
    assert statuses == [
        "ACK_STATUS_ACCEPTED",
        "ACK_STATUS_REJECTED",
        "ACK_STATUS_ACCEPTED",
        "ACK_STATUS_ACCEPTED",
    ]
    rejected = reply["acks"][1]
    assert rejected["event_id"] == "b-bad"
    assert rejected["reason"] == "invalid_argument"
    assert "CHANNEL_CARRIER_PIGEON" in rejected["field_violations"][0]["description"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "invalid_json"),
        ({"events": "all of them"}, 400, "invalid_argument"),
        ({"event_id": "x", "conversation_id": "c"}, 400, "invalid_argument"),
        ({"events": [{}] * 1001}, 413, "batch_too_large"),
    ],
)
async def test_malformed_requests_get_a_specific_error(
    ingestion: RunningIngestion, body: object, status: int, error: str
) -> None:
    got_status, reply = await post(ingestion.http_base, body)
    assert (got_status, reply["error"]) == (status, error)


async def test_field_violations_are_listed_for_a_single_event(ingestion: RunningIngestion) -> None:
    body = {"event_id": "v-1", "conversation_id": "c", "occurred_at": datetime.now(UTC).isoformat()}
    status, reply = await post(ingestion.http_base, body)
    assert status == 400
    fields = {v["field"] for v in reply["field_violations"]}
    assert {"channel", "role", "kind"} <= fields


async def test_http_needs_a_valid_key_and_respects_the_tenant(ingestion: RunningIngestion) -> None:
    body = as_json(message("t-1"))
    assert (await post(ingestion.http_base, body, headers={}))[0] == 401
    assert (await post(ingestion.http_base, body, headers={"Authorization": "Bearer nope"}))[
        0
    ] == 401
    status, reply = await post(ingestion.http_base, {**body, "tenant_id": "globex"})
    assert (status, reply["error"]) == (403, "tenant_mismatch")
