"""A client for platforms and tools: stream events in batches, retry what may be retried."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import json_format

from warmline.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc


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
    """Publishes events over one ``PublishStream`` per call, in batches."""

    def __init__(
        self, target: str, api_key: str, *, credentials: grpc.ChannelCredentials | None = None
    ) -> None:
        self._channel = (
            grpc.aio.secure_channel(target, credentials)
            if credentials
            else grpc.aio.insecure_channel(target)
        )
        self._stub = ingest_pb2_grpc.IngestServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def publish(
        self,
        events: Iterable[events_pb2.InteractionEvent],
        *,
        batch_size: int = 100,
        max_attempts: int = 10,
        on_ack: Callable[[ingest_pb2.EventAck], None] | None = None,
    ) -> PublishSummary:
        """Send all events; re-send those acknowledged RETRY after the delay they were given."""
        summary = PublishSummary()
        pending = list(events)
        for attempt in range(max_attempts):
            retry: list[events_pb2.InteractionEvent] = []
            delay_ms = 0
            last = attempt == max_attempts - 1
            async for event, ack in self._stream(pending, batch_size):
                if ack.status == ingest_pb2.ACK_STATUS_RETRY and not last:
                    retry.append(event)
                    delay_ms = max(delay_ms, ack.retry_after_ms)
                    continue
                summary.add(ack)
                if on_ack is not None:
                    on_ack(ack)
            if not retry:
                break
            pending = retry
            await asyncio.sleep(delay_ms / 1000)
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


def summary_json(summary: PublishSummary, sent: int) -> str:
    """The summary line printed by ``warmline replay``."""
    return json.dumps({"sent": sent, **summary.as_dict()})
