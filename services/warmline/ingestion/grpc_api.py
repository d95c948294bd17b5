"""gRPC ``IngestService``: unary ``Publish`` and batched ``PublishStream``.

Unary calls map a refusal onto the standard status codes with rich details
(``google.rpc.BadRequest`` field violations, ``RetryInfo``); the stream never
fails for one bad event, it acknowledges each event in order instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from warmline.common.metrics import INGEST_ACK_SECONDS, INGEST_AUTH_FAILURES
from warmline.common.tenants import TenantDirectory, require_tenant
from warmline.ingestion.core import (
    INVALID_ARGUMENT,
    RATE_LIMITED,
    REJECTED,
    RETRY,
    TENANT_MISMATCH,
    IngestCore,
)
from warmline.v1 import ingest_pb2, ingest_pb2_grpc

T = TypeVar("T")

# Batches of one stream in progress at once; enough to hide Kafka's ack latency.
_PIPELINE_DEPTH = 8


def _status(code: int, message: str, *details: object) -> grpc.Status:
    status = status_pb2.Status(code=code, message=message)
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)  # type: ignore[arg-type]
        status.details.append(packed)
    return rpc_status.to_status(status)


def _batch_too_large(size: int, limit: int) -> grpc.Status:
    return _status(
        code_pb2.INVALID_ARGUMENT,
        f"batch of {size} events exceeds {limit}",
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="events", description=f"at most {limit} per message"
                )
            ]
        ),
    )


def refusal_status(ack: ingest_pb2.EventAck) -> grpc.Status:
    """The gRPC status a unary caller gets for a refused event."""
    if ack.status == REJECTED and ack.reason == TENANT_MISMATCH:
        return _status(code_pb2.PERMISSION_DENIED, "tenant_id differs from the credential's tenant")
    if ack.status == REJECTED:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in ack.field_violations
            ]
        )
        summary = "; ".join(f"{v.field}: {v.description}" for v in ack.field_violations)
        return _status(code_pb2.INVALID_ARGUMENT, f"{INVALID_ARGUMENT}: {summary}", bad)
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(
            seconds=ack.retry_after_ms // 1000, nanos=(ack.retry_after_ms % 1000) * 1_000_000
        )
    )
    if ack.reason == RATE_LIMITED:
        return _status(code_pb2.RESOURCE_EXHAUSTED, "tenant rate limit exceeded", retry)
    return _status(code_pb2.UNAVAILABLE, f"{ack.reason}: Kafka cannot take events now", retry)


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    """Authenticates the caller and hands events to the :class:`IngestCore`."""

    def __init__(self, core: IngestCore, tenants: TenantDirectory) -> None:
        self._core = core
        self._tenants = tenants

    async def _tenant(self, context: grpc.aio.ServicerContext, api: str) -> str:
        return await require_tenant(context, self._tenants, INGEST_AUTH_FAILURES.labels(api))

    async def Publish(
        self, request: ingest_pb2.PublishRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.PublishResponse:
        """Publish one event; a refusal is a gRPC error with details."""
        started = time.perf_counter()
        tenant = await self._tenant(context, "grpc_unary")
        [ack] = await self._core.ingest(tenant, [request.event])
        INGEST_ACK_SECONDS.labels("grpc_unary").observe(time.perf_counter() - started)
        if ack.status in (REJECTED, RETRY):
            await context.abort_with_status(refusal_status(ack))
        return ingest_pb2.PublishResponse(ack=ack)

    async def PublishStream(
        self,
        request_iterator: AsyncIterator[ingest_pb2.PublishStreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[ingest_pb2.PublishStreamResponse]:
        """Acknowledge every event of every batch, in order."""
        requests = aiter(request_iterator)
        # Take the first batch off the wire before a possible refusal: a server
        # that closes a stream before reading it makes grpc clients report their
        # own failed write (INTERNAL) instead of our UNAUTHENTICATED.
        first = await anext(requests, None)
        tenant = await self._tenant(context, "grpc_stream")
        if first is None:
            return
        # Batches are pipelined: the next is validated and handed to Kafka while
        # the previous waits for its acknowledgement; acks still leave in order.
        in_flight: asyncio.Queue[asyncio.Task[list[ingest_pb2.EventAck]] | None] = asyncio.Queue()
        slots = asyncio.Semaphore(_PIPELINE_DEPTH)
        reader = asyncio.create_task(
            self._read_batches(context, tenant, _prepend(first, requests), in_flight, slots)
        )
        try:
            while (task := await in_flight.get()) is not None:
                acks = await task
                slots.release()
                yield ingest_pb2.PublishStreamResponse(acks=acks)
            await reader  # surfaces a refusal raised while reading
        finally:
            reader.cancel()

    async def _read_batches(
        self,
        context: grpc.aio.ServicerContext,
        tenant: str,
        requests: AsyncIterator[ingest_pb2.PublishStreamRequest],
        in_flight: asyncio.Queue[asyncio.Task[list[ingest_pb2.EventAck]] | None],
        slots: asyncio.Semaphore,
    ) -> None:
        limit = self._core.max_batch_events
        try:
            async for request in requests:
                if len(request.events) > limit:
                    await context.abort_with_status(_batch_too_large(len(request.events), limit))
                await slots.acquire()
                task = asyncio.create_task(self._timed_ingest(tenant, request))
                in_flight.put_nowait(task)
        finally:
            in_flight.put_nowait(None)

    async def _timed_ingest(
        self, tenant: str, request: ingest_pb2.PublishStreamRequest
    ) -> list[ingest_pb2.EventAck]:
        started = time.perf_counter()
        acks = await self._core.ingest(tenant, request.events)
        INGEST_ACK_SECONDS.labels("grpc_stream").observe(time.perf_counter() - started)
        return acks


async def _prepend(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    yield first
    async for item in rest:
        yield item
