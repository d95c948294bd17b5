"""Arbitrary payloads at both doors: never a crash, never INTERNAL or 500,
and every refusal says specifically why."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_counts import count_case
from tests.integration.ingestion.conftest import ACME_KEY, RunningIngestion
from warmline.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

pytestmark = pytest.mark.integration

EXPECTED_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
}
EXPECTED_HTTP = {200, 202, 400, 403, 413, 429, 503}

_text = st.text(max_size=60)
_ids = st.one_of(_text, st.text(min_size=100, max_size=200))

events = st.builds(
    events_pb2.InteractionEvent,
    event_id=_ids,
    tenant_id=st.sampled_from(["", "acme", "globex"]),
    conversation_id=_ids,
    customer_id=_text,
    channel=st.integers(min_value=-3, max_value=9),
    role=st.integers(min_value=-3, max_value=9),
    kind=st.integers(min_value=-3, max_value=9),
    text=st.one_of(_text, st.text(min_size=7_990, max_size=8_010)),
    language=_text,
    customer_tier=st.integers(min_value=-1, max_value=5),
    metadata=st.dictionaries(_text, _text, max_size=40),
    csat_score=st.integers(min_value=-2, max_value=7),
    occurred_at=st.one_of(
        st.none(),
        st.builds(
            timestamp_pb2.Timestamp, seconds=st.integers(min_value=0, max_value=4_102_444_800)
        ),
    ),
)

# Text with lone surrogates too: JSON can escape one ("\ud800"), Unicode has none.
_json_text = st.text(max_size=30) | st.text(
    st.characters(categories=["Cs", "Cf", "Zs", "Nd", "No"]), max_size=5
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _json_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=6)
    ),
    max_leaves=25,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "event_id": json_values,
        "conversation_id": json_values,
        "channel": st.sampled_from(["CHANNEL_CHAT", "CHANNEL_X", 3, 99, None, 1.5, True]),
        "role": st.sampled_from(["ROLE_CUSTOMER", "customer", 1, -1, 2**32 + 1]),
        "customer_tier": st.sampled_from([0, 2, 4294967297, -1, "2", False]),
        "kind": st.sampled_from(["EVENT_KIND_MESSAGE", 1, "message"]),
        "text": json_values,
        "occurred_at": st.sampled_from(
            ["2026-11-23T10:00:00Z", "yesterday", 5, "9999-01-01T00:00:00Z"]
        ),
        "metadata": json_values,
        "tenant_id": st.sampled_from(["acme", "globex", 7]),
    },
)
http_bodies = st.one_of(
    json_values, event_like, st.builds(lambda e: {"events": e}, st.lists(event_like, max_size=4))
)

_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(event=events)
def test_grpc_answers_every_event_with_ok_or_a_specific_refusal(
    ingestion: RunningIngestion, event: events_pb2.InteractionEvent
) -> None:
    count_case("gRPC Publish door")
    with grpc.insecure_channel(ingestion.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        try:
            reply = stub.Publish(
                ingest_pb2.PublishRequest(event=event),
                metadata=(("authorization", f"Bearer {ACME_KEY}"),),
                timeout=30,
            )
        except grpc.RpcError as err:
            assert err.code() in EXPECTED_GRPC, err
            assert err.details()
        else:
            assert reply.ack.status in (
                ingest_pb2.ACK_STATUS_ACCEPTED,
                ingest_pb2.ACK_STATUS_DUPLICATE,
            )


@_SETTINGS
@given(body=http_bodies)
def test_http_answers_every_body_with_ok_or_a_specific_refusal(
    ingestion: RunningIngestion, body: Any
) -> None:
    count_case("HTTP events door")
    request = urllib.request.Request(
        f"{ingestion.http_base}/v1/events",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ACME_KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, reply = response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        status, reply = err.code, json.loads(err.read())
    assert status in EXPECTED_HTTP, (status, reply)
    if status >= 400:
        assert reply["error"] and reply["message"]
    elif "acks" in reply:
        for ack in reply["acks"]:
            if ack["status"] in ("ACK_STATUS_REJECTED", "ACK_STATUS_RETRY"):
                assert ack["reason"]


@_SETTINGS
@given(data=st.binary(max_size=200), authenticated=st.booleans())
def test_grpc_answers_arbitrary_bytes_with_ok_or_a_specific_refusal(
    ingestion: RunningIngestion, data: bytes, authenticated: bool
) -> None:
    count_case("gRPC Publish door, raw bytes")
    metadata = (("authorization", f"Bearer {ACME_KEY}"),) if authenticated else ()
    with grpc.insecure_channel(ingestion.grpc_target) as channel:
        publish = channel.unary_unary(
            "/warmline.v1.IngestService/Publish",
            request_serializer=lambda raw: raw,
            response_deserializer=ingest_pb2.PublishResponse.FromString,
        )
        try:
            publish(data, metadata=metadata, timeout=30)
        except grpc.RpcError as err:
            assert err.code() in EXPECTED_GRPC | {grpc.StatusCode.UNAUTHENTICATED}, err
            assert err.details()
