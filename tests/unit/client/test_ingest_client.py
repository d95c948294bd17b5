"""IngestClient retries against a flaky in-process gRPC server: same event ids, nothing lost."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from warmline.client import Backoff, IngestClient
from warmline.client.ingest import retry_delay_s
from warmline.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

ACCEPTED = ingest_pb2.ACK_STATUS_ACCEPTED


def unavailable_details(retry_ms: int) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata of an UNAVAILABLE with RetryInfo, as the ingestion service sends it."""
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=retry_ms * 1_000_000))
    )
    status = status_pb2.Status(code=code_pb2.UNAVAILABLE, message="Kafka is down", details=[detail])
    return (("grpc-status-details-bin", status.SerializeToString()),)


class FlakyIngest(ingest_pb2_grpc.IngestServiceServicer):
    """Fails the first ``failures`` calls of each method, then acknowledges everything."""

    def __init__(self, failures: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        self.failures = failures
        self.code = code
        self.published: list[str] = []
        self.streams: list[list[str]] = []

    async def Publish(
        self, request: ingest_pb2.PublishRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> ingest_pb2.PublishResponse:
        self.published.append(request.event.event_id)
        if len(self.published) <= self.failures:
            await context.abort(self.code, "not now", unavailable_details(20))
        return ingest_pb2.PublishResponse(
            ack=ingest_pb2.EventAck(event_id=request.event.event_id, status=ACCEPTED)
        )

    async def PublishStream(
        self,
        requests: AsyncIterator[ingest_pb2.PublishStreamRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[ingest_pb2.PublishStreamResponse]:
        seen: list[str] = []
        self.streams.append(seen)
        breaking = len(self.streams) <= self.failures
        async for request in requests:
            if breaking and seen:  # answered the first batch, then the stream breaks
                await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
            ids = [e.event_id for e in request.events]
            seen += ids
            yield ingest_pb2.PublishStreamResponse(
                acks=[ingest_pb2.EventAck(event_id=i, status=ACCEPTED) for i in ids]
            )


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[FlakyIngest], Any]]:
    servers: list[grpc.aio.Server] = []

    async def start(servicer: FlakyIngest) -> IngestClient:
        server = grpc.aio.server()
        ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append(server)
        return IngestClient(
            f"127.0.0.1:{port}",
            "key",
            retry_backoff=lambda: Backoff(0.01, 0.05, rng=random.Random(5)),
        )

    yield start
    for server in servers:
        await server.stop(None)


def event(event_id: str = "") -> events_pb2.InteractionEvent:
    return events_pb2.InteractionEvent(event_id=event_id, conversation_id="c1", text="hello")


async def test_an_unavailable_publish_is_retried_with_the_same_generated_event_id(
    serve: Any,
) -> None:
    servicer = FlakyIngest(failures=2)
    client = await serve(servicer)
    try:
        ack = await client.publish_event(event())
    finally:
        await client.close()
    assert ack.status == ACCEPTED
    assert len(servicer.published) == 3
    assert len(set(servicer.published)) == 1
    assert servicer.published[0]  # an id was given before the first attempt


async def test_a_refusal_is_raised_at_once_and_the_last_transient_failure_too(serve: Any) -> None:
    refused = FlakyIngest(failures=5, code=grpc.StatusCode.INVALID_ARGUMENT)
    client = await serve(refused)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.publish_event(event("e1"))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.published == ["e1"]
    finally:
        await client.close()
    down = FlakyIngest(failures=5)
    client = await serve(down)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.publish_event(event("e2"), max_attempts=3)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert down.published == ["e2"] * 3
    finally:
        await client.close()


async def test_a_broken_stream_resends_only_what_was_not_acknowledged(serve: Any) -> None:
    servicer = FlakyIngest(failures=1)
    client = await serve(servicer)
    events = [event(f"e{i}") for i in range(6)]
    try:
        summary = await client.publish(events, batch_size=2)
    finally:
        await client.close()
    assert summary.outcomes == {"accepted": 6}
    first, second = servicer.streams
    assert first == ["e0", "e1"]
    assert second == ["e2", "e3", "e4", "e5"]


def test_the_delay_the_service_asked_for_is_read_from_its_retry_info() -> None:
    trailing = grpc.aio.Metadata(*unavailable_details(1500))
    error = grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), trailing)
    assert retry_delay_s(error) == 1.5
    bare = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata()
    )
    assert retry_delay_s(bare) == 0.0
