"""The worker's records to Kafka: decisions and dead letters, each tracked until acknowledged."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from warmline.common.metrics import DECISION_REASONS, DECISIONS, KAFKA_RECORDS_PRODUCED
from warmline.common.pipeline import dead_letter
from warmline.decisioning.faust_runtime.deliveries import Deliveries, kafka_producer
from warmline.v1 import escalation_pb2

#: How dead letters name the consumer that gave up on a record (the shadow worker
#: reads the same records, so it names itself apart).
CONSUMER = "decisioning"
SHADOW_CONSUMER = "decisioning-shadow"
_Message = TypeVar("_Message", bound=Message)


class Outputs:
    """Sends decisions to ``escalations`` and undecodable records to ``deadletter``.

    Each send is tracked in ``deliveries``; none is awaited here.
    """

    def __init__(
        self,
        app: Any,
        deliveries: Deliveries,
        escalations: str,
        deadletter: str,
        consumer: str = CONSUMER,
    ) -> None:
        self._app = app
        self._consumer = consumer
        self._deliveries = deliveries
        self._escalations = escalations
        self._deadletter = deadletter

    async def decision(
        self, key: bytes, decision: escalation_pb2.EscalationDecision
    ) -> asyncio.Future[Any]:
        """Count and send one decision; the future of its acknowledgement."""
        action = escalation_pb2.DecisionAction.Name(decision.action).removeprefix(
            "DECISION_ACTION_"
        )
        shadow = str(decision.shadow).lower()
        DECISIONS.labels(action.lower(), decision.queue, shadow).inc()
        for reason in decision.reasons:
            DECISION_REASONS.labels(reason.code, shadow).inc()
        return await self._send(self._escalations, key, decision.SerializeToString(), "a decision")

    async def decode(self, event: Any, message_type: type[_Message]) -> _Message | None:
        """The record's protobuf; None when it is undecodable, after dead-lettering it."""
        try:
            return message_type.FromString(event.value or b"")
        except DecodeError as exc:
            letter = dead_letter(
                event.message,
                topic=self._deadletter,
                consumer=self._consumer,
                reason="undecodable",
                detail=repr(exc),
            )
            await self._send(letter.topic, letter.key, letter.value, "a dead letter")
            return None

    async def _send(
        self, topic: str, key: bytes | None, value: bytes, what: str
    ) -> asyncio.Future[Any]:
        """Hand one output to the producer and track its acknowledgement."""
        KAFKA_RECORDS_PRODUCED.labels(topic).inc()
        producer = kafka_producer(self._app)
        sent: asyncio.Future[Any] = await producer.send(topic, key=key, value=value)
        self._deliveries.track(sent, what)
        return sent
