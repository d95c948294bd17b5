"""What agents can do, whichever door they use (gRPC or the browser bridge).

Authorisation, validation and the writes to Kafka live here once; the gRPC
servicer and the HTTP bridge only translate requests and errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from google.protobuf.message import Message

from warmline.common.keys import conversation_key, derived_id
from warmline.common.metrics import (
    KAFKA_RECORDS_PRODUCED,
    NOTIFICATION_CLAIM_SECONDS,
    NOTIFICATION_CLAIMS,
    NOTIFICATION_FEEDBACK,
    NOTIFICATION_HIGH_INTENSITY_CLAIMS,
    NOTIFICATION_PAUSES,
    NOTIFICATION_REVEALS,
)
from warmline.common.settings import WarmlineSettings
from warmline.notification.board import Escalation, Pause, high_intensity
from warmline.notification.cursor import CursorError, decode_cursor
from warmline.notification.feed import Feed
from warmline.notification.hub import Hub, Subscription
from warmline.notification.tokens import ALL_QUEUES, AgentDirectory, AgentScope
from warmline.v1 import feedback_pb2, notification_pb2


class Refusal(StrEnum):
    """Why a request was refused; each door maps these to its own status codes."""

    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    FAILED_PRECONDITION = "failed_precondition"
    UNAVAILABLE = "unavailable"


class Refused(Exception):
    """A request refused with a reason and a message for the console."""

    def __init__(self, reason: Refusal, message: str, field: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        # The request field at fault, for INVALID_ARGUMENT.
        self.field = field


def authenticate(agents: AgentDirectory, token: str | None) -> AgentScope:
    """The scope of an agent's bearer token, or UNAUTHENTICATED (every door that
    agents' tokens open: the console's, the record's audit, practice, insights)."""
    scope = agents.scope_for(token)
    if scope is None:
        raise Refused(Refusal.UNAUTHENTICATED, "missing or unknown agent token")
    return scope


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """Who holds the escalation after a claim."""

    granted: bool
    holder_agent_id: str


class NotificationCore:
    """Subscriptions, claims, acknowledgements, pauses, feedback and reveals for one replica."""

    def __init__(
        self,
        settings: WarmlineSettings,
        agents: AgentDirectory,
        hub: Hub,
        feed: Feed,
        producer: AIOKafkaProducer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.agents = agents
        self.hub = hub
        self.board = hub.board
        self.feed = feed
        self._producer = producer
        self._clock = clock
        n = settings.notification
        self._timeout_s = settings.kafka.delivery_timeout_ms / 1000
        self._max_comment = n.max_comment_chars

    # --- who is asking ----------------------------------------------------------
    def authenticate(self, token: str | None) -> AgentScope:
        """The scope of a bearer token, or UNAUTHENTICATED."""
        return authenticate(self.agents, token)

    @staticmethod
    def check_agent(scope: AgentScope, agent_id: str) -> None:
        """An agent acts only as themselves: the request's agent must be the token's."""
        if agent_id and agent_id != scope.agent_id:
            raise Refused(
                Refusal.PERMISSION_DENIED,
                f"this token belongs to agent {scope.agent_id!r}, not {agent_id!r}",
            )

    def _ready(self) -> None:
        if not self.feed.caught_up.is_set():
            raise Refused(Refusal.UNAVAILABLE, "this replica is still reading the escalation log")

    # --- subscribe ----------------------------------------------------------------
    def subscribe(
        self,
        scope: AgentScope,
        *,
        queues: Sequence[str],
        agent_id: str,
        tenant_id: str,
        resume_cursor: str,
        api: str,
        resend_open: bool = False,
    ) -> Subscription:
        """Register a console for its queues, from its cursor or its last ack."""
        self.check_agent(scope, agent_id)
        if tenant_id and tenant_id != scope.tenant_id:
            raise Refused(
                Refusal.PERMISSION_DENIED,
                f"this token is scoped to tenant {scope.tenant_id!r}, not {tenant_id!r}",
            )
        wanted = frozenset(q for q in queues if q)
        if not wanted:
            if ALL_QUEUES in scope.queues:
                raise Refused(Refusal.INVALID_ARGUMENT, "queues: name at least one queue", "queues")
            wanted = scope.queues
        if refused := scope.refused(wanted):
            raise Refused(
                Refusal.PERMISSION_DENIED, f"this token does not cover queue(s) {refused}"
            )
        self._ready()
        if resume_cursor:
            start = self._parse_cursor(resume_cursor, "resume_cursor")
            return self.hub.subscribe(scope, wanted, start, api)
        # No cursor: resume from the agent's last ack (nothing acknowledged is
        # re-sent), plus what is still open before it for a console that asks.
        acked = self.board.acked(scope.tenant_id, scope.agent_id)
        return self.hub.subscribe(scope, wanted, acked, api, console_kept_nothing=resend_open)

    # --- claim --------------------------------------------------------------------
    async def claim(self, scope: AgentScope, agent_id: str, decision_id: str) -> ClaimOutcome:
        """Take an escalation. The first claim in the agent-actions log wins, on every replica."""
        self.check_agent(scope, agent_id)
        escalation = self._escalation(scope, decision_id)
        if not escalation.open:
            raise Refused(Refusal.FAILED_PRECONDITION, f"escalation {decision_id} is already over")
        holder = self.board.holder(escalation.escalation_id)
        if holder is None:
            started = time.perf_counter()
            action = self._action(scope, "claimed", escalation.escalation_id)
            intense = high_intensity(escalation.latest.decision)
            action.claimed.CopyFrom(
                notification_pb2.Claimed(
                    escalation_id=escalation.escalation_id,
                    decision_id=decision_id,
                    conversation_id=escalation.latest.decision.conversation_id,
                    queue=escalation.queue,
                    high_intensity=intense,
                )
            )
            key = conversation_key(scope.tenant_id, escalation.latest.decision.conversation_id)
            await self._write_applied(key, action, started, "claim")
            holder = self.board.holder(escalation.escalation_id)
            if holder == scope.agent_id:
                NOTIFICATION_CLAIM_SECONDS.observe(max(0.0, self._clock() - escalation.offered_at))
                if intense:
                    NOTIFICATION_HIGH_INTENSITY_CLAIMS.labels(escalation.queue).inc()
        granted = holder == scope.agent_id
        NOTIFICATION_CLAIMS.labels("granted" if granted else "refused").inc()
        return ClaimOutcome(granted, holder or "")

    # --- the agent's own pause -----------------------------------------------------
    async def pause(
        self, scope: AgentScope, agent_id: str, duration_s: int, all_offers: bool
    ) -> Pause | None:
        """Hold offers back from the agent for ``duration_s`` (0: the default).

        Answered once this replica applied it, so no offer it holds back arrives
        after the answer; every replica applies it from the agent-actions log.
        """
        self.check_agent(scope, agent_id)
        n = self.settings.notification
        if duration_s < 0 or duration_s > n.pause_max_s:
            raise Refused(
                Refusal.INVALID_ARGUMENT,
                f"duration_s: between 1 and {n.pause_max_s} seconds (0 for {n.pause_default_s})",
                "duration_s",
            )
        started = time.perf_counter()
        until = datetime.now(UTC) + timedelta(seconds=duration_s or n.pause_default_s)
        action = self._action(scope, "paused", f"{until.isoformat()}/{all_offers}")
        action.paused.until.FromDatetime(until)
        action.paused.all_offers = all_offers
        action.paused.queues.extend(sorted(scope.queues))
        await self._write_applied(self._agent_key(scope), action, started, "pause")
        NOTIFICATION_PAUSES.labels("paused").inc()
        return self.board.pause(scope.tenant_id, scope.agent_id, self._clock())

    async def resume(self, scope: AgentScope, agent_id: str) -> None:
        """End the agent's pause now (nothing to do when there is none)."""
        self.check_agent(scope, agent_id)
        if self.board.pause(scope.tenant_id, scope.agent_id, self._clock()) is None:
            return
        started = time.perf_counter()
        action = self._action(scope, "resumed", "")
        action.action_id = derived_id(action.action_id, str(action.acted_at.ToNanoseconds()))
        action.paused.until.CopyFrom(action.acted_at)
        action.paused.queues.extend(sorted(scope.queues))
        await self._write_applied(self._agent_key(scope), action, started, "resume")
        NOTIFICATION_PAUSES.labels("resumed").inc()

    # --- ack ----------------------------------------------------------------------
    async def ack(self, scope: AgentScope, agent_id: str, cursor: str) -> None:
        """Record how far the console got; a console without a cursor resumes from here."""
        self.check_agent(scope, agent_id)
        if not cursor:
            raise Refused(Refusal.INVALID_ARGUMENT, "cursor: required", "cursor")
        self._parse_cursor(cursor, "cursor")
        action = self._action(scope, "acked", cursor)
        action.acked.cursor = cursor
        await self._write(self.feed.actions_topic, self._agent_key(scope), action)

    # --- feedback -----------------------------------------------------------------
    async def feedback(
        self,
        scope: AgentScope,
        agent_id: str,
        decision_id: str,
        verdict: feedback_pb2.Verdict.ValueType,
        comment: str,
    ) -> str:
        """Write the agent's verdict to the feedback topic; returns its id."""
        self.check_agent(scope, agent_id)
        if (
            verdict == feedback_pb2.VERDICT_UNSPECIFIED
            or verdict not in feedback_pb2.Verdict.values()
        ):
            raise Refused(
                Refusal.INVALID_ARGUMENT,
                "verdict: one of VERDICT_USEFUL, VERDICT_FALSE_ALARM, VERDICT_WRONG_QUEUE",
                "verdict",
            )
        if len(comment) > self._max_comment:
            raise Refused(
                Refusal.INVALID_ARGUMENT,
                f"comment: longer than {self._max_comment} characters",
                "comment",
            )
        decision = self._escalation(scope, decision_id).latest.decision
        verdict_name = feedback_pb2.Verdict.Name(verdict)
        feedback = feedback_pb2.Feedback(
            feedback_id=derived_id(scope.tenant_id, decision_id, scope.agent_id, verdict_name),
            tenant_id=scope.tenant_id,
            conversation_id=decision.conversation_id,
            decision_id=decision_id,
            agent_id=scope.agent_id,
            verdict=verdict,
            comment=comment,
            customer_id=decision.customer_id,
        )
        feedback.submitted_at.FromDatetime(datetime.now(UTC))
        key = conversation_key(scope.tenant_id, decision.conversation_id)
        await self._write(self.settings.topics.name("feedback"), key, feedback)
        NOTIFICATION_FEEDBACK.labels(verdict_name.removeprefix("VERDICT_").lower()).inc()
        return feedback.feedback_id

    # --- reveal -------------------------------------------------------------------
    async def reveal(self, scope: AgentScope, agent_id: str, decision_id: str) -> str:
        """The unmasked last customer message, at the agent's own request.

        The reveal is written to the agent-actions log first: it counts towards
        the agent's exposure on every replica (overload alerts).
        """
        self.check_agent(scope, agent_id)
        escalation = self._escalation(scope, decision_id)
        action = self._action(scope, "revealed", escalation.escalation_id)
        action.revealed.escalation_id = escalation.escalation_id
        action.revealed.queue = escalation.queue
        await self._write(self.feed.actions_topic, self._agent_key(scope), action)
        NOTIFICATION_REVEALS.inc()
        return escalation.unmasked_text or escalation.latest.decision.last_customer_text

    # --- helpers ------------------------------------------------------------------
    def _escalation(self, scope: AgentScope, decision_id: str) -> Escalation:
        if not decision_id:
            raise Refused(Refusal.INVALID_ARGUMENT, "decision_id: required", "decision_id")
        self._ready()
        escalation = self.board.escalation(scope.tenant_id, decision_id)
        # Another tenant's decision is reported exactly like an unknown one.
        if escalation is None:
            raise Refused(Refusal.NOT_FOUND, f"no escalation with decision id {decision_id!r}")
        queue = escalation.queue
        supervisor = self.settings.notification.supervisor_queue
        if not (scope.allows(queue) or (escalation.raised and scope.allows(supervisor))):
            raise Refused(Refusal.PERMISSION_DENIED, f"this token does not cover queue {queue!r}")
        return escalation

    @staticmethod
    def _agent_key(scope: AgentScope) -> bytes:
        return conversation_key(scope.tenant_id, f"agent:{scope.agent_id}")

    async def _write_applied(
        self, key: bytes, action: notification_pb2.AgentAction, started: float, what: str
    ) -> None:
        """Write an agent action and return once this replica has applied it."""
        partition, offset = await self._write(self.feed.actions_topic, key, action)
        try:
            await asyncio.wait_for(
                self.feed.applied(partition, offset),
                self._timeout_s - (time.perf_counter() - started),
            )
        except (TimeoutError, ConnectionError) as exc:
            raise Refused(Refusal.UNAVAILABLE, f"the {what} was not confirmed in time") from exc

    @staticmethod
    def _parse_cursor(cursor: str, field: str) -> dict[int, int]:
        try:
            return decode_cursor(cursor)
        except CursorError as exc:
            raise Refused(Refusal.INVALID_ARGUMENT, f"{field}: {exc}", field) from exc

    def _action(self, scope: AgentScope, kind: str, subject: str) -> notification_pb2.AgentAction:
        action = notification_pb2.AgentAction(
            action_id=derived_id(scope.tenant_id, scope.agent_id, kind, subject),
            tenant_id=scope.tenant_id,
            agent_id=scope.agent_id,
        )
        action.acted_at.FromDatetime(datetime.now(UTC))
        return action

    async def _write(self, topic: str, key: bytes, message: Message) -> tuple[int, int]:
        """Send and wait for the brokers' acknowledgement; UNAVAILABLE when they do not answer."""
        value = message.SerializeToString()
        try:
            future = await asyncio.wait_for(
                self._producer.send(topic, value, key=key), self._timeout_s
            )
            metadata = await asyncio.wait_for(future, self._timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise Refused(Refusal.UNAVAILABLE, "Kafka did not acknowledge the write") from exc
        KAFKA_RECORDS_PRODUCED.labels(topic).inc()
        return int(metadata.partition), int(metadata.offset)
