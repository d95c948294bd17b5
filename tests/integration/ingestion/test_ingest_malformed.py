"""Each malformed input a user reported gets a clear 4xx or INVALID_ARGUMENT that
names the field, nothing of it reaches Kafka, and the service keeps serving."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format

from tests.integration.ingestion.conftest import (
    ACME_KEY,
    CHATWOOT_SECRET,
    RunningIngestion,
    message,
)
from tests.support import read_topic
from tests.unit.adapters.support import chatwoot_headers, raw
from warmline.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

pytestmark = pytest.mark.integration

JSON_HEADERS = {"Authorization": f"Bearer {ACME_KEY}", "Content-Type": "application/json"}


def event_json(id_: str, **fields: Any) -> dict[str, Any]:
    body = json_format.MessageToDict(message(id_), preserving_proto_field_name=True)
    return {**body, **fields}


async def post_raw(
    base: str, data: bytes, headers: dict[str, str] = JSON_HEADERS, path: str = "/v1/events"
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(base + path, data=data, headers=headers) as r,
    ):
        return r.status, await r.json()


async def topic_event_ids(ingestion: RunningIngestion, at_least: int) -> list[str]:
    records = await read_topic(
        ingestion.settings.kafka.bootstrap_servers, ingestion.topic, at_least, settle=1.0
    )
    return [events_pb2.InteractionEvent.FromString(r.value or b"").event_id for r in records]


# The JSON text is written by hand: json.dumps would refuse nothing, but these
# are the bytes a platform's buggy client sends.
SURROGATE_EVENT = (
    b'{"event_id": "\\ud800", "conversation_id": "c-1", "channel": "CHANNEL_CHAT",'
    b' "role": "ROLE_CUSTOMER", "kind": "EVENT_KIND_MESSAGE", "text": "hi",'
    b' "occurred_at": "' + datetime.now(UTC).isoformat().encode() + b'"}'
)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"channel": 1.5}, "channel", "not 1.5"),
        ({"role": True}, "role", "not true"),
        ({"customer_tier": 4294967297}, "customer_tier", "unknown value 4294967297"),
        ({"csat_score": "many"}, "csat_score", "whole number"),
        ({"text": "\u200b"}, "text", "invisible"),
        ({"text": " \u2060\ufeff "}, "text", "invisible"),
        ({"event_id": ""}, "event_id", "required"),
    ],
)
async def test_a_malformed_field_is_refused_by_name(
    ingestion: RunningIngestion, fields: dict[str, Any], field: str, says: str
) -> None:
    body = json.dumps(event_json("m-1", **fields)).encode()
    status, reply = await post_raw(ingestion.http_base, body)
    assert (status, reply["error"]) == (400, "invalid_argument")
    assert reply["message"].startswith(f"the event is invalid: {field}: ")
    [violation] = reply["field_violations"]
    assert violation["field"] == field and says in violation["description"]


async def test_a_lone_surrogate_is_refused_alone_and_in_a_batch(
    ingestion: RunningIngestion,
) -> None:
    status, reply = await post_raw(ingestion.http_base, SURROGATE_EVENT)
    assert (status, reply["error"]) == (400, "invalid_argument")
    assert reply["field_violations"][0]["field"] == "event_id"

    good = json.dumps(event_json("s-good")).encode()
    batch = b'{"events": [' + SURROGATE_EVENT + b", " + good + b"]}"
    status, reply = await post_raw(ingestion.http_base, batch)
    assert status == 200
    bad_ack, good_ack = reply["acks"]
    assert (bad_ack["status"], bad_ack["field_violations"][0]["field"]) == (
        "ACK_STATUS_REJECTED",
        "event_id",
    )
    assert good_ack["status"] == "ACK_STATUS_ACCEPTED"
    assert await topic_event_ids(ingestion, 1) == ["s-good"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_not_declared_json_gets_415(
    ingestion: RunningIngestion, content_type: str | None
) -> None:
    headers = {"Authorization": f"Bearer {ACME_KEY}"}
    if content_type:
        headers["Content-Type"] = content_type
    status, reply = await post_raw(
        ingestion.http_base, json.dumps(event_json("ct-1")).encode(), headers
    )
    assert (status, reply["error"]) == (415, "unsupported_media_type")
    # The same event declared as JSON (with a charset) goes through.
    headers["Content-Type"] = "application/json; charset=utf-8"
    status, _ = await post_raw(
        ingestion.http_base, json.dumps(event_json("ct-1")).encode(), headers
    )
    assert status == 202


async def test_an_authorization_header_that_is_not_utf8_gets_401(
    ingestion: RunningIngestion,
) -> None:
    # Written on a bare socket: HTTP clients refuse to send such a header.
    body = json.dumps(event_json("au-1")).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", ingestion.service.http_port)
    writer.write(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer \xff\xfe\xc3\x28\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    await writer.drain()
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 401"), response[:200]


async def test_a_webhook_with_a_lone_surrogate_is_refused(ingestion: RunningIngestion) -> None:
    payload = json.loads(raw("chatwoot", "message_created_incoming"))
    payload["content"] = "PLACEHOLDER"
    body = json.dumps(payload).encode().replace(b"PLACEHOLDER", b"\\udc00 help")
    url = f"{ingestion.http_base}/v1/webhooks/chatwoot/acme"
    headers = {**chatwoot_headers(CHATWOOT_SECRET, body, int(time.time()))}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers={**headers, "Content-Type": "application/json"}) as r,
    ):
        status, reply = r.status, await r.json()
    assert (status, reply["error"]) == (400, "invalid_payload")
    assert "Unicode" in reply["message"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\xff\xff\xff", "Wire format was corrupt"),
        # event (field 1) holding event_id (field 1) with the bytes C3 28: not UTF-8.
        (b"\x0a\x04\x0a\x02\xc3\x28", "UTF-8"),
    ],
)
@pytest.mark.parametrize("authenticated", [True, False])
async def test_undecodable_grpc_requests_get_invalid_argument(
    ingestion: RunningIngestion, data: bytes, says: str, authenticated: bool
) -> None:
    metadata = (("authorization", f"Bearer {ACME_KEY}"),) if authenticated else ()
    async with grpc.aio.insecure_channel(ingestion.grpc_target) as channel:
        publish = channel.unary_unary(
            "/warmline.v1.IngestService/Publish",
            request_serializer=lambda raw_bytes: raw_bytes,
            response_deserializer=ingest_pb2.PublishResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await publish(data, metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid PublishRequest" in (refused.value.details() or "")
        assert says in (refused.value.details() or "")

        stream = channel.stream_stream(
            "/warmline.v1.IngestService/PublishStream",
            request_serializer=lambda raw_bytes: raw_bytes,
            response_deserializer=ingest_pb2.PublishStreamResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in stream(iter([data]), metadata=metadata):
                pass
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        # The door still works for the next, well-formed caller.
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        reply = await stub.Publish(
            ingest_pb2.PublishRequest(event=message(f"after-{says[:4]}-{authenticated}")),
            metadata=(("authorization", f"Bearer {ACME_KEY}"),),
        )
        assert reply.ack.status == ingest_pb2.ACK_STATUS_ACCEPTED
