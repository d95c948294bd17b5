"""Turns a batch of interaction records into scored records, in order.

Every record produces exactly one output: a ``ScoredEvent`` on the scored
topic (customer messages with scores, everything else passed through), or a
``DeadLetter`` when the record cannot be read. Outputs keep the input order,
so each conversation stays in order on its partition.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from aiokafka import ConsumerRecord
from google.protobuf.message import DecodeError

from warmline.common.metrics import SCORING_MESSAGES
from warmline.common.pipeline import Output, dead_letter
from warmline.common.settings import WarmlineSettings
from warmline.model.turns import Speaker, Turn, TurnScore
from warmline.scoring.convert import to_proto
from warmline.v1 import events_pb2, scoring_pb2

ScoreTurns = Callable[[Sequence[Turn]], Awaitable[list[TurnScore]]]
CONSUMER = "scoring"


class _Poison(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def needs_scores(event: events_pb2.InteractionEvent) -> bool:
    """Only customers' messages are scored; agents' emotions never are."""
    return event.role == events_pb2.ROLE_CUSTOMER and event.kind == events_pb2.EVENT_KIND_MESSAGE


def is_message(event: events_pb2.InteractionEvent) -> bool:
    """A customer's message (always scored, even empty) or a bot's or agent's message
    with text (read for context)."""
    if event.kind != events_pb2.EVENT_KIND_MESSAGE:
        return False
    if event.role == events_pb2.ROLE_CUSTOMER:
        return True
    return event.role in (events_pb2.ROLE_BOT, events_pb2.ROLE_AGENT) and bool(event.text)


def ends_conversation(event: events_pb2.InteractionEvent) -> bool:
    """The conversation is over: the scorer can drop what it kept of it."""
    return event.kind == events_pb2.EVENT_KIND_CONVERSATION_ENDED


def as_turn(event: events_pb2.InteractionEvent) -> Turn:
    """The event as a turn of its conversation (tenant-qualified, so two tenants'
    conversation ids never share a window); an ending as an ``END`` turn."""
    key = f"{event.tenant_id}/{event.conversation_id}"
    if ends_conversation(event):
        return Turn("", Speaker.END, key)
    speaker = Speaker.CUSTOMER if needs_scores(event) else Speaker.OTHER
    return Turn(event.text, speaker, key)


def unsupported_language(language: str) -> bool:
    """A declared BCP 47 language that is not English (empty means undeclared)."""
    language = language.lower()
    return bool(language) and language != "en" and not language.startswith("en-")


def declared_unsupported(event: events_pb2.InteractionEvent) -> bool:
    """The platform told us the language, and it is not English."""
    return unsupported_language(event.language)


def _decode(record: ConsumerRecord[bytes, bytes], max_bytes: int) -> events_pb2.InteractionEvent:
    value = record.value or b""
    if len(value) > max_bytes:
        raise _Poison("oversized", f"{len(value)} bytes exceeds {max_bytes}")
    try:
        event = events_pb2.InteractionEvent.FromString(value)
    except DecodeError as exc:
        raise _Poison("undecodable", f"not an InteractionEvent: {exc}") from exc
    if not event.event_id or not event.tenant_id or not event.conversation_id:
        raise _Poison("invalid_schema", "event_id, tenant_id and conversation_id are required")
    return event


class ScoringHandler:
    """The pipeline handler of the scoring service."""

    def __init__(
        self,
        settings: WarmlineSettings,
        score: ScoreTurns,
        model_version: str,
        taxonomy_version: str,
    ) -> None:
        self._score = score
        self._unsupported = scoring_pb2.EmotionScores(
            status=scoring_pb2.SCORE_STATUS_UNSUPPORTED_LANGUAGE,
            model_version=model_version,
            taxonomy_version=taxonomy_version,
        )
        self._scored_topic = settings.topics.name("scored")
        self._dead_topic = settings.topics.name("deadletter")
        self._max_bytes = settings.scoring.max_record_bytes

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Output]:
        """Outputs for ``records``, one each, in the same order."""
        decoded: list[events_pb2.InteractionEvent | Output] = []
        for record in records:
            try:
                decoded.append(_decode(record, self._max_bytes))
            except _Poison as poison:
                decoded.append(
                    dead_letter(
                        record,
                        topic=self._dead_topic,
                        consumer=CONSUMER,
                        reason=poison.reason,
                        detail=str(poison),
                    )
                )
        # Every message is read (bot and agent turns as context only) unless the
        # platform declared a language the model does not read; endings drop the
        # conversation's window, in order with its turns.
        to_read = [
            d
            for d in decoded
            if isinstance(d, events_pb2.InteractionEvent)
            and (is_message(d) or ends_conversation(d))
            and not (needs_scores(d) and declared_unsupported(d))
        ]
        started = time.perf_counter()
        results = iter(await self._score([as_turn(e) for e in to_read]))
        inference_ms = (time.perf_counter() - started) * 1000
        now = datetime.now(UTC)
        statuses: Counter[str] = Counter()
        outputs = []
        for record, item in zip(records, decoded, strict=True):
            if isinstance(item, Output):
                outputs.append(item)
                continue
            scored = scoring_pb2.ScoredEvent(event=item)
            scored.scored_at.FromDatetime(now)
            if needs_scores(item) and declared_unsupported(item):
                scored.scores.CopyFrom(self._unsupported)
                statuses["unsupported_language"] += 1
            elif is_message(item):
                read = next(results)
                scored.context.context_turns = read.context_turns
                scored.context.repeat_similarity = read.repeat_similarity
                if read.result is not None:
                    scored.scores.CopyFrom(to_proto(read.result))
                    scored.inference_ms = inference_ms
                    statuses[read.result.status.value.lower()] += 1
                else:
                    statuses["passthrough"] += 1
            else:
                if ends_conversation(item):
                    next(results)
                statuses["passthrough"] += 1
            outputs.append(Output(self._scored_topic, record.key, scored.SerializeToString()))
        for status, n in statuses.items():
            SCORING_MESSAGES.labels(status).inc(n)
        return outputs
