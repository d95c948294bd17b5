"""Builders for scored events with hand-set signals, so no model is needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from warmline.decisioning.decide import apply_event
from warmline.decisioning.policy import Policy, load_policy
from warmline.decisioning.state import ConversationState
from warmline.v1 import escalation_pb2, events_pb2, scoring_pb2

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
CALM = {"negativity": 0.05, "neutral": 0.9}


class Conversation:
    """Emits the events of one conversation with increasing ids and times."""

    def __init__(
        self,
        tenant: str = "acme",
        conversation: str = "c1",
        customer: str = "u1",
        tier: events_pb2.CustomerTier.ValueType = events_pb2.CUSTOMER_TIER_STANDARD,
    ) -> None:
        self.tenant, self.conversation, self.customer_id, self.tier = (
            tenant,
            conversation,
            customer,
            tier,
        )
        self.n = 0

    def now(self) -> datetime:
        """The decision clock: one second after the latest event."""
        return T0 + timedelta(seconds=self.n + 1)

    def _event(
        self,
        role: events_pb2.Role.ValueType,
        kind: events_pb2.EventKind.ValueType,
        text: str = "",
    ) -> events_pb2.InteractionEvent:
        self.n += 1
        event = events_pb2.InteractionEvent(
            event_id=f"e{self.n}",
            tenant_id=self.tenant,
            conversation_id=self.conversation,
            customer_id=self.customer_id,
            channel=events_pb2.CHANNEL_CHAT,
            role=role,
            kind=kind,
            text=text,
            customer_tier=self.tier,
        )
        event.occurred_at.FromDatetime(T0 + timedelta(seconds=self.n))
        event.ingested_at.FromDatetime(T0 + timedelta(seconds=self.n, milliseconds=200))
        return event

    def customer(
        self,
        text: str = "hello",
        signals: dict[str, float] | None = None,
        labels: dict[str, float] | None = None,
        situations: dict[str, float] | None = None,
        repeat: float = 0.0,
    ) -> scoring_pb2.ScoredEvent:
        """A scored customer message; ``signals`` default to calm; ``situations``
        as the model's situation head would read them; ``repeat`` the similarity
        to the customer's recent turns the scoring service measured."""
        event = self._event(events_pb2.ROLE_CUSTOMER, events_pb2.EVENT_KIND_MESSAGE, text)
        scores = scoring_pb2.EmotionScores(
            status=scoring_pb2.SCORE_STATUS_SCORED,
            labels=labels or {"neutral": 0.9},
            signals=scoring_pb2.Signals(**(signals or CALM)),
            model_version="m-test",
        )
        if situations is not None:
            scores.situations.CopyFrom(scoring_pb2.Situations(**situations))
        scored = scoring_pb2.ScoredEvent(event=event, scores=scores)
        scored.context.context_turns = self.n - 1
        scored.context.repeat_similarity = repeat
        scored.scored_at.FromDatetime(T0 + timedelta(seconds=self.n, milliseconds=500))
        return scored

    def other(
        self,
        role: events_pb2.Role.ValueType,
        text: str = "",
        kind: events_pb2.EventKind.ValueType = events_pb2.EVENT_KIND_MESSAGE,
        repeat: float = 0.0,
    ) -> scoring_pb2.ScoredEvent:
        """An unscored event (bot, agent, system, or a non-message kind); ``repeat``:
        how similar the scoring service found it to the same side's previous turn."""
        scored = scoring_pb2.ScoredEvent(event=self._event(role, kind, text))
        if repeat:
            scored.context.context_turns = self.n - 1
            scored.context.repeat_similarity = repeat
        return scored


def negative(level: float) -> dict[str, float]:
    """Signals with the given negativity and matching frustration."""
    return {"negativity": level, "frustration": level}


def policy_with(yaml_tail: str = "") -> Policy:
    """The default policy with ``yaml_tail`` appended (usually a tenants section)."""
    from warmline.decisioning.policy import DEFAULT_POLICY_PATH, parse_policy

    text = DEFAULT_POLICY_PATH.read_text().replace("tenants: {}\n", "")
    return parse_policy(text + yaml_tail)


def escalates(policy: Policy, tenant: str, levels: tuple[float, ...]) -> bool:
    """Whether customer turns of these negativities (different words each, so no
    loop) escalate for ``tenant``."""
    conversation, state = Conversation(tenant=tenant), ConversationState()
    words = ("my parcel is late", "nobody told me why", "what happens now then")
    decisions = [
        apply_event(state, conversation.customer(text, negative(level)), policy, conversation.now())
        for text, level in zip(words, levels, strict=False)
    ]
    return any(
        d is not None and d.action == escalation_pb2.DECISION_ACTION_ESCALATE for d in decisions
    )


DEFAULT = load_policy()
