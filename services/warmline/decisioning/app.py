"""The decisioning stream application (faust-streaming).

One agent reads ``ScoredEvent`` records from the scored topic in small batches,
keeps each conversation's :class:`ConversationState` in a Faust table keyed by
the record key (``tenant/conversation``), and produces every decision to the
escalations topic under the same key. A second agent counts agents' false-alarm
feedback into the customer history kept with the conversation.

State store: ``memory://`` (rocksdict is not installed). The table is backed by a
compacted changelog topic, so a restarted worker restores its partitions' states
from Kafka before it processes new records.

Delivery: at-least-once. Input offsets are acknowledged only after the batch's
decisions were acknowledged by the brokers; a replayed event is recognised by
the state's recent event ids, and decision ids are derived from
``tenant, conversation, event id, policy version``, so consumers de-duplicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from google.protobuf.message import DecodeError

from warmline.common.metrics import (
    DEAD_LETTERS,
    DECISION_REASONS,
    DECISIONING_CONVERSATIONS,
    DECISIONS,
    KAFKA_RECORDS_CONSUMED,
    KAFKA_RECORDS_PRODUCED,
    POLICY_INFO,
    POLICY_RELOAD_ERRORS,
)
from warmline.common.settings import WarmlineSettings
from warmline.decisioning.decide import apply_event, apply_feedback, expire
from warmline.decisioning.policy_store import PolicyStore, ReloadStatus
from warmline.decisioning.state import ConversationState, CustomerHistory
from warmline.v1 import deadletter_pb2, escalation_pb2, feedback_pb2, scoring_pb2

log = logging.getLogger(__name__)

CONSUMER = "decisioning"
#: Records taken per batch, and how long a batch waits to fill.
BATCH_MAX = 100
BATCH_WITHIN_S = 0.05


def store_url() -> str:
    """``rocksdb://`` when rocksdict is importable, else ``memory://``."""
    try:
        import rocksdict  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return "memory://"
    return "rocksdb://"


def encode_entry(state: ConversationState, history: CustomerHistory) -> bytes:
    """The table value: the conversation's state and its customer history, as JSON."""
    return json.dumps(
        {"state": state.to_dict(), "history": history.to_dict()}, separators=(",", ":")
    ).encode()


def decode_entry(raw: bytes | None) -> tuple[ConversationState, CustomerHistory]:
    """Inverse of :func:`encode_entry`; fresh objects for a missing key."""
    if not raw:
        return ConversationState(), CustomerHistory()
    data = json.loads(raw)
    return (
        ConversationState.from_dict(data["state"]),
        CustomerHistory.from_dict(data.get("history", {})),
    )


class DecisioningApp:
    """The Faust app, its topics, table, agents and timer, built from settings.

    Build it inside the running event loop that will drive it.
    """

    def __init__(self, settings: WarmlineSettings, policies: PolicyStore) -> None:
        self.settings = settings
        self.policies = policies
        d = settings.decisioning
        brokers = [
            f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")
        ]
        self.app = faust.App(
            d.app_id,
            broker=brokers,
            store=store_url(),
            datadir=str(d.data_dir),
            web_enabled=False,
            web_port=d.http_port,
            processing_guarantee="at_least_once",
            topic_partitions=settings.topics.partitions,
            topic_replication_factor=settings.topics.replication_factor,
            value_serializer="raw",
            key_serializer="raw",
            # Expiry writes tombstones from a timer; a standby copy must not do that.
            table_standby_replicas=0,
            producer_acks=-1,
        )
        topics = settings.topics

        def raw_topic(name: str) -> Any:
            return self.app.topic(
                topics.name(name),
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
            )

        self.scored = raw_topic("scored")
        self.feedback = raw_topic("feedback")
        self.escalations = raw_topic("escalations")
        self.deadletter = raw_topic("deadletter")
        # Keys are the records' own keys; the partitioner puts each in the partition
        # its source records use, so writes from the timer are allowed too.
        self.table = self.app.Table(
            "conversations",
            key_type=bytes,
            value_type=bytes,
            partitions=topics.partitions,
            use_partitioner=True,
        )
        self.app.agent(self.scored, name="decide")(self._decide_agent)
        self.app.agent(self.feedback, name="feedback")(self._feedback_agent)
        self.app.timer(d.policy_reload_s, name="maintenance")(self._maintenance)
        POLICY_INFO.info({"version": policies.current.version})

    # --- agents -----------------------------------------------------------
    async def _decide_agent(self, stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            await self.process(events)

    async def process(self, events: Sequence[Any]) -> None:
        """Decide on a batch of scored records; returns once all outputs are acknowledged."""
        pending: list[Awaitable[Any]] = []
        policy = self.policies.current
        for event in events:
            message = event.message
            KAFKA_RECORDS_CONSUMED.labels(message.topic).inc()
            key: bytes = event.key or b""
            value: bytes = event.value or b""
            try:
                scored = scoring_pb2.ScoredEvent.FromString(value)
            except DecodeError as exc:
                pending.append(await self._dead_letter(message, key, value, "undecodable", exc))
                continue
            state, history = decode_entry(self.table.get(key))
            decision = apply_event(state, scored, policy, datetime.now(UTC), history)
            self.table[key] = encode_entry(state, history)
            if decision is not None:
                pending.append(await self._publish(key, decision))
        DECISIONING_CONVERSATIONS.set(len(self.table))
        if pending:
            await asyncio.gather(*pending)

    async def _publish(self, key: bytes, decision: escalation_pb2.EscalationDecision) -> Any:
        action = escalation_pb2.DecisionAction.Name(decision.action).removeprefix(
            "DECISION_ACTION_"
        )
        DECISIONS.labels(action.lower(), decision.queue, str(decision.shadow).lower()).inc()
        for reason in decision.reasons:
            DECISION_REASONS.labels(reason.code).inc()
        KAFKA_RECORDS_PRODUCED.labels(self.escalations.get_topic_name()).inc()
        return await self.escalations.send(key=key, value=decision.SerializeToString())

    async def _dead_letter(
        self, message: Any, key: bytes, value: bytes, reason: str, exc: Exception
    ) -> Any:
        letter = deadletter_pb2.DeadLetter(
            source_topic=message.topic,
            source_partition=message.partition,
            source_offset=message.offset,
            original_key=key,
            original_value=value,
            reason=reason,
            detail=repr(exc)[:2000],
            consumer=CONSUMER,
        )
        letter.failed_at.FromDatetime(datetime.now(UTC))
        DEAD_LETTERS.labels(CONSUMER, reason).inc()
        log.warning("record dead-lettered", extra={"reason": reason, "topic": message.topic})
        return await self.deadletter.send(key=key, value=letter.SerializeToString())

    async def _feedback_agent(self, stream: Any) -> None:
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_S):
            pending: list[Awaitable[Any]] = []
            for event in events:
                key: bytes = event.key or b""
                value: bytes = event.value or b""
                try:
                    feedback = feedback_pb2.Feedback.FromString(value)
                except DecodeError as exc:
                    pending.append(
                        await self._dead_letter(event.message, key, value, "undecodable", exc)
                    )
                    continue
                raw = self.table.get(key)
                if raw is None:
                    continue  # conversation already expired: nothing to count against
                state, history = decode_entry(raw)
                apply_feedback(history, feedback)
                self.table[key] = encode_entry(state, history)
            if pending:
                await asyncio.gather(*pending)

    # --- timer ------------------------------------------------------------
    async def _maintenance(self) -> None:
        self.reload_policy()
        self.expire_idle(datetime.now(UTC))

    def reload_policy(self) -> None:
        """Swap in a changed policy file; a bad one is counted and the old policy kept."""
        result = self.policies.reload_if_changed()
        if result.status == ReloadStatus.RELOADED:
            POLICY_INFO.info({"version": result.version})
            log.info("policy reloaded", extra={"version": result.version})
        elif result.status == ReloadStatus.REJECTED:
            POLICY_RELOAD_ERRORS.inc()
            log.error("policy reload rejected", extra={"error": result.error})

    def expire_idle(self, now: datetime) -> list[bytes]:
        """Forget conversations idle for longer than the configured TTL."""
        states = {key: decode_entry(raw)[0] for key, raw in list(self.table.items())}
        ttl = timedelta(seconds=self.settings.decisioning.conversation_ttl_s)
        stale = expire(states, now, ttl)
        for key in stale:
            del self.table[key]
        DECISIONING_CONVERSATIONS.set(len(self.table))
        return stale  # type: ignore[return-value]
