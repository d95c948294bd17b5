"""The gRPC door on a real broker: order, errors, auth, tenants, duplicates, PII."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from tests.integration.ingestion.conftest import (
    ACME_KEY,
    GLOBEX_KEY,
    RunningIngestion,
    message,
)
from tests.support import read_topic
from warmline.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

pytestmark = pytest.mark.integration


def auth(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def rich_status(err: grpc.aio.AioRpcError) -> status_pb2.Status:
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("no rich status details on the error")


def violations(err: grpc.aio.AioRpcError) -> dict[str, str]:
    bad = error_details_pb2.BadRequest()
    [detail] = rich_status(err).details
    assert detail.Unpack(bad)
    return {v.field: v.description for v in bad.field_violations}


async def test_streamed_events_land_in_order_per_conversation(ingestion: RunningIngestion) -> None:
    events = [message(f"e{i}", conversation=f"conv-{i % 3}", text=f"turn {i}") for i in range(300)]

    async def batches() -> AsyncIterator[ingest_pb2.PublishStreamRequest]:
        for start in range(0, len(events), 100):
            yield ingest_pb2.PublishStreamRequest(events=events[start : start + 100])

    async with grpc.aio.insecure_channel(ingestion.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        acks = [
            a async for r in stub.PublishStream(batches(), metadata=auth(ACME_KEY)) for a in r.acks
        ]
    assert [a.event_id for a in acks] == [e.event_id for e in events]
    assert {a.status for a in acks} == {ingest_pb2.ACK_STATUS_ACCEPTED}

    records = await read_topic(ingestion.settings.kafka.bootstrap_servers, ingestion.topic, 300)
    stored = [(r.key, events_pb2.InteractionEvent.FromString(r.value or b"")) for r in records]
    for conv in ("conv-0", "conv-1", "conv-2"):
        turns = [int(e.text.split()[1]) for k, e in stored if e.conversation_id == conv]
        assert turns == sorted(turns) and len(turns) == 100
        assert {k for k, e in stored if e.conversation_id == conv} == {f"acme/{conv}".encode()}
    assert all(e.tenant_id == "acme" and e.HasField("ingested_at") for _, e in stored)


async def test_each_invalid_field_is_named_in_invalid_argument(ingestion: RunningIngestion) -> None:
    bad = message("", text="x" * 9_000)
    bad.channel = 42  # type: ignore[assignment]  # an enum value from a newer client
    bad.occurred_at.FromDatetime(datetime.now(UTC) + timedelta(hours=2))
    async with grpc.aio.insecure_channel(ingestion.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Publish(ingest_pb2.PublishRequest(event=bad), metadata=auth(ACME_KEY))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = violations(caught.value)
    assert fields["event_id"] == "required"
    assert "unknown value 42" in fields["channel"]
    assert "longer than 8000" in fields["text"]
    assert "in the future" in fields["occurred_at"]


@pytest.mark.parametrize("metadata", [(), auth("not-a-key"), (("authorization", "Basic abc"),)])
async def test_missing_or_wrong_key_is_unauthenticated(
    ingestion: RunningIngestion, metadata: tuple[tuple[str, str], ...]
) -> None:
    async with grpc.aio.insecure_channel(ingestion.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as unary:
            await stub.Publish(ingest_pb2.PublishRequest(event=message("a1")), metadata=metadata)
        assert unary.value.code() == grpc.StatusCode.UNAUTHENTICATED

        async def one() -> AsyncIterator[ingest_pb2.PublishStreamRequest]:
            yield ingest_pb2.PublishStreamRequest(events=[message("a2")])

        call = stub.PublishStream(one(), metadata=metadata)
        with pytest.raises(grpc.aio.AioRpcError):
            async for _ in call:
                pass
        # The call's status is the server's verdict (the raised error may instead
        # report the client's own write racing the server's early close).
        assert await call.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_key_of_one_tenant_cannot_write_for_another(ingestion: RunningIngestion) -> None:
    async with grpc.aio.insecure_channel(ingestion.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        forged = message("forged-1", tenant_id="globex")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Publish(ingest_pb2.PublishRequest(event=forged), metadata=auth(ACME_KEY))
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # The same conversation id under each key stays two tenants' conversations.
        await stub.Publish(
            ingest_pb2.PublishRequest(event=message("g-1")), metadata=auth(GLOBEX_KEY)
        )
        await stub.Publish(ingest_pb2.PublishRequest(event=message("a-1")), metadata=auth(ACME_KEY))
    records = await read_topic(
        ingestion.settings.kafka.bootstrap_servers, ingestion.topic, 2, settle=1.0
    )
    stored = {events_pb2.InteractionEvent.FromString(r.value or b"").event_id: r for r in records}
    assert set(stored) == {"g-1", "a-1"}
    assert stored["g-1"].key == b"globex/conv-1"
    assert events_pb2.InteractionEvent.FromString(stored["g-1"].value or b"").tenant_id == "globex"


async def test_a_repeated_event_id_is_acknowledged_but_written_once(
    ingestion: RunningIngestion,
) -> None:
    async with grpc.aio.insecure_channel(ingestion.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        first = await stub.Publish(
            ingest_pb2.PublishRequest(event=message("dup-1")), metadata=auth(ACME_KEY)
        )
        again = await stub.Publish(
            ingest_pb2.PublishRequest(event=message("dup-1")), metadata=auth(ACME_KEY)
        )

        async def twice_in_one_batch() -> AsyncIterator[ingest_pb2.PublishStreamRequest]:
            yield ingest_pb2.PublishStreamRequest(events=[message("dup-2"), message("dup-2")])

        [reply] = [
            r async for r in stub.PublishStream(twice_in_one_batch(), metadata=auth(ACME_KEY))
        ]
    assert first.ack.status == ingest_pb2.ACK_STATUS_ACCEPTED
    assert again.ack.status == ingest_pb2.ACK_STATUS_DUPLICATE
    assert [a.status for a in reply.acks] == [
        ingest_pb2.ACK_STATUS_ACCEPTED,
        ingest_pb2.ACK_STATUS_DUPLICATE,
    ]
    records = await read_topic(
        ingestion.settings.kafka.bootstrap_servers, ingestion.topic, 2, settle=1.0
    )
    assert len(records) == 2


async def test_no_raw_personal_data_ever_reaches_kafka(ingestion: RunningIngestion) -> None:
    secrets = {
        "jane.doe@example.com": "[EMAIL]",
        "4111 1111 1111 1111": "[CARD]",
        "GB82 WEST 1234 5698 7654 32": "[IBAN]",
        "078-05-1120": "[SSN]",
        "+44 20 7946 0958": "[PHONE]",
        "203.0.113.7": "[IP]",
        # The formats issue #15 found going through.
        "jane@exämple.de": "[EMAIL]",
        "030 1234567": "[PHONE]",
        "+49 (0)30 12345678": "[PHONE]",
        "+91 98765 43210": "[PHONE]",
        "4111.1111.1111.1111": "[CARD]",
        "de89370400440532013000": "[IBAN]",
        "SSN 123456789": "SSN [SSN]",
        "my name is Maria Lopez": "my name is [NAME]",
        "I live at 14 Elm Grove Road": "I live at [ADDRESS]",
        "DOB 12/03/1985": "DOB [DOB]",
        "passport number 533380006": "passport number [PASSPORT]",
    }
    text = "I'm furious. " + " and ".join(secrets)
    event = message("pii-1", text=text, metadata={"contact": "jane.doe@example.com"})
    async with grpc.aio.insecure_channel(ingestion.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        await stub.Publish(ingest_pb2.PublishRequest(event=event), metadata=auth(ACME_KEY))
    [record] = await read_topic(ingestion.settings.kafka.bootstrap_servers, ingestion.topic, 1)
    raw = (record.value or b"") + (record.key or b"")
    for secret, placeholder in secrets.items():
        assert secret.split()[-1].encode() not in raw, secret
        assert placeholder.encode() in raw
    stored = events_pb2.InteractionEvent.FromString(record.value or b"")
    assert stored.text.startswith("I'm furious.")
    assert stored.metadata["contact"] == "[EMAIL]"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"customer_id": "jane.doe@example.com"}, "customer_id"),
        ({"conversation_id": "+4915112345678"}, "conversation_id"),
        ({"metadata": {"jane.doe@example.com": "vip"}}, "metadata"),
    ],
)
async def test_an_identifier_that_identifies_the_customer_is_refused(
    ingestion: RunningIngestion, fields: dict[str, object], field: str
) -> None:
    event = message("pii-id")
    event.MergeFrom(events_pb2.InteractionEvent(**fields))  # type: ignore[arg-type]
    async with grpc.aio.insecure_channel(ingestion.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Publish(ingest_pb2.PublishRequest(event=event), metadata=auth(ACME_KEY))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "personal data" in violations(refused.value)[field]
