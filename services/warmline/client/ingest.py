"""A client for platforms and tools: publish events, retry what may be retried, safely.

Every retry re-sends the same ``event_id``: the ingestion service acknowledges
an event it already took as ``DUPLICATE`` and does not write it again, so a
retry after a lost answer or a broken stream cannot duplicate an event. An
event sent without an ``event_id`` gets a random one before its first attempt
(set your platform's message id instead: then your own retries de-duplicate too).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

from warmline.client.backoff import Backoff
from warmline.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

# Answers after which the same request may succeed later.
_TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}


class ReplayFileError(ValueError):
    """A line of a replay file is not an event; the message names the line."""


def read_events(path: Path) -> Iterator[events_pb2.InteractionEvent]:
    """Events of a JSONL file (one event a line, the proto's JSON mapping)."""
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json_format.Parse(line, events_pb2.InteractionEvent())
            except json_format.ParseError as exc:
                raise ReplayFileError(f"{path}:{number}: {exc}") from exc


@dataclass
class PublishSummary:
    """What happened to the events sent."""

    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, ack: ingest_pb2.EventAck) -> None:
        """Count one final acknowledgement."""
        self.outcomes[
            ingest_pb2.AckStatus.Name(ack.status).removeprefix("ACK_STATUS_").lower()
        ] += 1
        if ack.reason:
            self.reasons[ack.reason] += 1

    def as_dict(self) -> dict[str, object]:
        """For JSON output."""
        return {"outcomes": dict(self.outcomes), "reasons": dict(self.reasons)}


class IngestClient:
    """Publishes events: one with ``Publish``, many over one ``PublishStream`` per call.

    ``credentials`` (``grpc.ssl_channel_credentials(...)``) for a TLS endpoint;
    ``retry_backoff`` makes the waits between retries of one call (default
    :class:`Backoff`); a wait is never shorter than the delay the service asked for.
    """

    def __init__(
        self,
        target: str,
        api_key: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        retry_backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        self._channel = (
            grpc.aio.secure_channel(target, credentials)
            if credentials
            else grpc.aio.insecure_channel(target)
        )
        self._stub = ingest_pb2_grpc.IngestServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._backoff = retry_backoff

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def publish_event(
        self,
        event: events_pb2.InteractionEvent,
        *,
        max_attempts: int = 10,
        timeout_s: float = 10.0,
    ) -> ingest_pb2.EventAck:
        """Publish one event; its ``ACCEPTED`` or ``DUPLICATE`` acknowledgement.

        ``UNAVAILABLE``, ``RESOURCE_EXHAUSTED`` and ``DEADLINE_EXCEEDED`` are retried
        (same ``event_id``) up to ``max_attempts`` times; any other refusal
        (``INVALID_ARGUMENT``, ``UNAUTHENTICATED``, ``PERMISSION_DENIED``), or the
        last transient one, raises :class:`grpc.aio.AioRpcError`.
        """
        request = ingest_pb2.PublishRequest(event=with_event_id(event))
        backoff = self._backoff()
        attempt = 1
        while True:
            try:
                reply: ingest_pb2.PublishResponse = await self._stub.Publish(
                    request, metadata=self._metadata, timeout=timeout_s
                )
                return reply.ack
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in _TRANSIENT or attempt >= max_attempts:
                    raise
                await asyncio.sleep(max(retry_delay_s(exc), backoff.next_delay()))
            attempt += 1

    async def publish(
        self,
        events: Iterable[events_pb2.InteractionEvent],
        *,
        batch_size: int = 100,
        max_attempts: int = 10,
        on_ack: Callable[[ingest_pb2.EventAck], None] | None = None,
    ) -> PublishSummary:
        """Send all events in batches, until each has a final acknowledgement.

        Events acknowledged ``RETRY`` are sent again after the delay they were
        given, and so are those a broken stream left unanswered. After ``max_attempts`` rounds a ``RETRY`` counts as the final answer; a stream
        still failing then raises :class:`grpc.aio.AioRpcError`, as does a refusal
        of the whole call (``UNAUTHENTICATED``).
        """
        summary = PublishSummary()
        pending = [with_event_id(e) for e in events]
        backoff = self._backoff()
        for attempt in range(1, max_attempts + 1):
            last = attempt == max_attempts
            retry: list[events_pb2.InteractionEvent] = []
            delay_s = 0.0
            answered = 0
            try:
                async for event, ack in self._stream(pending, batch_size):
                    answered += 1
                    if ack.status == ingest_pb2.ACK_STATUS_RETRY and not last:
                        retry.append(event)
                        delay_s = max(delay_s, ack.retry_after_ms / 1000)
                        continue
                    summary.add(ack)
                    if on_ack is not None:
                        on_ack(ack)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in _TRANSIENT or last:
                    raise
                retry += pending[answered:]
            if not retry:
                break
            pending = retry
            await asyncio.sleep(max(delay_s, backoff.next_delay()))
        return summary

    async def _stream(
        self, events: list[events_pb2.InteractionEvent], batch_size: int
    ) -> AsyncIterator[tuple[events_pb2.InteractionEvent, ingest_pb2.EventAck]]:
        batches = [events[i : i + batch_size] for i in range(0, len(events), batch_size)]

        async def requests() -> AsyncIterator[ingest_pb2.PublishStreamRequest]:
            for batch in batches:
                yield ingest_pb2.PublishStreamRequest(events=batch)

        call = self._stub.PublishStream(requests(), metadata=self._metadata)
        index = 0
        async for reply in call:
            for ack in reply.acks:
                yield events[index], ack
                index += 1


def with_event_id(event: events_pb2.InteractionEvent) -> events_pb2.InteractionEvent:
    """``event`` itself when it has an id; otherwise a copy with a random one."""
    if event.event_id:
        return event
    named = events_pb2.InteractionEvent()
    named.CopyFrom(event)
    named.event_id = uuid.uuid4().hex
    return named


def retry_delay_s(error: grpc.aio.AioRpcError) -> float:
    """The delay the service asked for (``google.rpc.RetryInfo``), 0 when it named none."""
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin" or not isinstance(value, bytes):
            continue
        retry = error_details_pb2.RetryInfo()
        for detail in status_pb2.Status.FromString(value).details:
            if detail.Unpack(retry):
                return float(retry.retry_delay.ToMilliseconds()) / 1000
    return 0.0
