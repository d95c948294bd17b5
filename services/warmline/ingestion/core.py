"""The one path every event takes, whichever door it came through.

gRPC (unary and stream), HTTP and platform webhooks all call
:meth:`IngestCore.ingest`: check the tenant, validate, de-duplicate,
rate-limit, redact personal data, publish, and acknowledge each event.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from warmline.common.keys import conversation_key
from warmline.common.metrics import INGEST_EVENTS, INGEST_REDACTIONS, INGEST_REJECTED
from warmline.common.settings import IngestionSettings
from warmline.ingestion.dedupe import IdempotencyWindow
from warmline.ingestion.publisher import EventPublisher, PublishUnavailable
from warmline.ingestion.ratelimit import TenantRateLimiter
from warmline.ingestion.redaction import PII_KINDS, redact_pii
from warmline.ingestion.validation import validate_event
from warmline.v1 import events_pb2, ingest_pb2

Event = events_pb2.InteractionEvent
Ack = ingest_pb2.EventAck

ACCEPTED = ingest_pb2.ACK_STATUS_ACCEPTED
DUPLICATE = ingest_pb2.ACK_STATUS_DUPLICATE
REJECTED = ingest_pb2.ACK_STATUS_REJECTED
RETRY = ingest_pb2.ACK_STATUS_RETRY

# Reason codes, shared by every API and documented in the README.
INVALID_ARGUMENT = "invalid_argument"
TENANT_MISMATCH = "tenant_mismatch"
RATE_LIMITED = "rate_limited"
# Retry after this long when Kafka is the problem: long enough for a leader
# election, short enough that platforms do not give up.
_KAFKA_RETRY_MS = 1_000


class IngestCore:
    """Validates, redacts, de-duplicates and publishes events for a tenant."""

    def __init__(
        self,
        limits: IngestionSettings,
        publisher: EventPublisher,
        dedupe: IdempotencyWindow,
        limiter: TenantRateLimiter,
    ) -> None:
        self._limits = limits
        self._publisher = publisher
        self._dedupe = dedupe
        self._limiter = limiter
        # Events being published right now, so a concurrent retry waits for the
        # first attempt instead of writing the event twice.
        self._in_flight: dict[tuple[str, str], asyncio.Future[bool]] = {}

    @property
    def max_batch_events(self) -> int:
        """Most events one request may carry."""
        return self._limits.max_batch_events

    async def ingest(self, tenant_id: str, events: Sequence[Event]) -> list[Ack]:
        """Acknowledge each event, in order. Never raises for a bad event."""
        now = datetime.now(UTC)
        now_s = now.timestamp()
        acks: list[Ack | None] = [None] * len(events)
        fresh: list[int] = []
        waits: list[tuple[int, asyncio.Future[bool]]] = []
        batch_ids: set[str] = set()
        for i, event in enumerate(events):
            ack = self._precheck(tenant_id, event, now_s)
            if ack is None:
                key = (tenant_id, event.event_id)
                if event.event_id in batch_ids or self._dedupe.seen(*key):
                    ack = Ack(event_id=event.event_id, status=DUPLICATE)
                elif (pending := self._in_flight.get(key)) is not None:
                    waits.append((i, pending))
                    continue
                else:
                    batch_ids.add(event.event_id)
                    fresh.append(i)
                    continue
            acks[i] = ack

        if fresh:
            for i, ack in zip(
                fresh, await self._publish(tenant_id, [events[i] for i in fresh], now), strict=True
            ):
                acks[i] = ack
        for i, pending in waits:
            accepted = await asyncio.shield(pending)
            acks[i] = (
                Ack(event_id=events[i].event_id, status=DUPLICATE)
                if accepted
                else _retry(events[i].event_id, "kafka_unavailable", _KAFKA_RETRY_MS)
            )
        result = [a for a in acks if a is not None]
        self._count(tenant_id, events, result)
        return result

    def _precheck(self, tenant_id: str, event: Event, now_s: float) -> Ack | None:
        if event.tenant_id and event.tenant_id != tenant_id:
            return Ack(
                event_id=event.event_id,
                status=REJECTED,
                reason=TENANT_MISMATCH,
                field_violations=[
                    ingest_pb2.FieldViolation(
                        field="tenant_id",
                        description="differs from the tenant of the credential; leave it empty",
                    )
                ],
            )
        violations = validate_event(event, self._limits, now_s)
        if violations:
            return Ack(
                event_id=event.event_id,
                status=REJECTED,
                reason=INVALID_ARGUMENT,
                field_violations=violations,
            )
        return None

    async def _publish(self, tenant_id: str, events: list[Event], now: datetime) -> list[Ack]:
        wait_s = self._limiter.try_acquire(tenant_id, len(events))
        if wait_s > 0:
            retry_ms = max(1, math.ceil(wait_s * 1000))
            return [_retry(e.event_id, RATE_LIMITED, retry_ms) for e in events]

        records = [
            (conversation_key(tenant_id, e.conversation_id), _prepare(e, tenant_id, now))
            for e in events
        ]
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[bool] = loop.create_future()
        keys = [(tenant_id, e.event_id) for e in events]
        for key in keys:
            self._in_flight[key] = outcome
        try:
            await self._publisher.publish(records)
        except PublishUnavailable as exc:
            outcome.set_result(False)
            return [_retry(e.event_id, exc.reason, _KAFKA_RETRY_MS) for e in events]
        finally:
            for key in keys:
                self._in_flight.pop(key, None)
            if not outcome.done():
                outcome.set_result(True)
        for key in keys:
            self._dedupe.remember(*key)
        return [Ack(event_id=e.event_id, status=ACCEPTED) for e in events]

    @staticmethod
    def _count(tenant_id: str, events: Sequence[Event], acks: list[Ack]) -> None:
        # Counted per batch: label lookups per event would cost more than the rest.
        outcomes: Counter[tuple[int, int]] = Counter(
            (e.channel, a.status) for e, a in zip(events, acks, strict=True)
        )
        for (channel, status), n in outcomes.items():
            INGEST_EVENTS.labels(tenant_id, _channel_label(channel), _OUTCOME[status]).inc(n)
        for reason, n in Counter(a.reason for a in acks if a.reason).items():
            INGEST_REJECTED.labels(tenant_id, reason).inc(n)


_OUTCOME: dict[int, str] = {
    v.number: v.name.removeprefix("ACK_STATUS_").lower()
    for v in ingest_pb2.AckStatus.DESCRIPTOR.values
}
_CHANNEL: dict[int, str] = {
    v.number: v.name.removeprefix("CHANNEL_").lower() for v in events_pb2.Channel.DESCRIPTOR.values
}


def _channel_label(channel: int) -> str:
    return _CHANNEL.get(channel, "unknown")


def _retry(event_id: str, reason: str, retry_after_ms: int) -> Ack:
    return Ack(event_id=event_id, status=RETRY, reason=reason, retry_after_ms=retry_after_ms)


def _prepare(event: Event, tenant_id: str, now: datetime) -> bytes:
    """The record written to Kafka: tenant from the credential, PII redacted.

    Works on the request's own message (no copy): it is not used afterwards.
    """
    event.tenant_id = tenant_id
    event.ingested_at.seconds = int(now.timestamp())
    event.ingested_at.nanos = now.microsecond * 1000
    event.text = _redacted(event.text)
    for key in list(event.metadata):
        event.metadata[key] = _redacted(event.metadata[key])
    return event.SerializeToString()


# The counter of each kind, looked up once (labels() per event costs more than the rest).
_REDACTED = {kind: INGEST_REDACTIONS.labels(kind) for kind in PII_KINDS}


def _redacted(text: str) -> str:
    result = redact_pii(text)
    for kind, count in result.counts.items():
        _REDACTED[kind].inc(count)
    return result.text
