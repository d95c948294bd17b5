"""A known set of pipeline records for the record's tests: scored turns, decisions,
claims, acks and verdicts of a few conversations, every text field filled with a
marker that must never reach the database."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from warmline.common.keys import conversation_key, derived_id
from warmline.common.pipeline import Output
from warmline.common.settings import WarmlineSettings
from warmline.v1 import escalation_pb2, events_pb2, feedback_pb2, notification_pb2, scoring_pb2

#: Put in every text field of the known set; no stored value may contain it.
SECRET = "SECRET-MARKER"


@dataclass
class KnownSet:
    """Records by logical topic, and the decisions among them by conversation."""

    records: dict[str, list[tuple[bytes, bytes]]] = field(
        default_factory=lambda: {
            "scored": [],
            "escalations": [],
            "feedback": [],
            "agent_actions": [],
            "overload_alerts": [],
        }
    )
    decisions: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def outputs(self, settings: WarmlineSettings) -> list[Output]:
        """Every record as an output to its topic of ``settings``."""
        return [
            Output(settings.topics.name(topic), key, value)
            for topic, records in self.records.items()
            for key, value in records
        ]

    def count(self) -> int:
        """How many records the set holds."""
        return sum(len(r) for r in self.records.values())


def _stamp(message: object, name: str, when: datetime) -> None:
    getattr(message, name).FromDatetime(when)


def scored(
    tenant: str, conversation: str, n: int, when: datetime, *, csat: int = 0
) -> scoring_pb2.ScoredEvent:
    """A scored customer turn (or a CSAT event) carrying the marker as its text."""
    kind = events_pb2.EVENT_KIND_CSAT if csat else events_pb2.EVENT_KIND_MESSAGE
    event = events_pb2.InteractionEvent(
        event_id=f"{conversation}-e{n}", tenant_id=tenant, conversation_id=conversation,
        customer_id=f"cust-{conversation}", channel=events_pb2.CHANNEL_CHAT,
        role=events_pb2.ROLE_CUSTOMER, kind=kind, text=f"{SECRET} turn {n}", language="en",
        metadata={"email": f"{SECRET}@example.com"}, csat_score=csat,
    )  # fmt: skip
    _stamp(event, "occurred_at", when)
    _stamp(event, "ingested_at", when)
    scores = scoring_pb2.EmotionScores(
        status=scoring_pb2.SCORE_STATUS_SCORED, model_version="model-7",
        taxonomy_version="tax-1", predicted_labels=["anger"],
        signals=scoring_pb2.Signals(anger=0.2 * n, negativity=0.3 * n, neutral=0.1),
    )  # fmt: skip
    out = scoring_pb2.ScoredEvent(event=event, scores=scores)
    _stamp(out, "scored_at", when)
    return out


def decision(
    tenant: str,
    conversation: str,
    trigger: str,
    when: datetime,
    action: escalation_pb2.DecisionAction.ValueType = escalation_pb2.DECISION_ACTION_ESCALATE,
    queue: str = "billing",
) -> escalation_pb2.EscalationDecision:
    """A decision whose texts and quoted explanation carry the marker."""
    d = escalation_pb2.EscalationDecision(
        decision_id=derived_id(tenant, conversation, trigger, "policy-3"), tenant_id=tenant,
        conversation_id=conversation, customer_id=f"cust-{conversation}", action=action,
        queue=queue, priority=escalation_pb2.PRIORITY_HIGH, dominant_emotion="anger",
        opening_line=f"{SECRET} opening", policy_version="policy-3", model_version="model-7",
        trigger_event_id=trigger, last_customer_text=f"{SECRET} last",
        unmasked_customer_text=f"{SECRET} unmasked",
        reasons=[
            escalation_pb2.Reason(code="sustained_negativity", explanation="Negativity stayed high."),
            escalation_pb2.Reason(
                code="loop_complaint",
                explanation=f"The customer said the conversation is going nowhere: \u201c{SECRET} again\u201d.",
            ),
        ],
    )  # fmt: skip
    for n in (1, 2):
        point = d.trajectory.add(event_id=f"{conversation}-e{n}", dominant_emotion="anger")
        point.signals.negativity = 0.3 * n
        _stamp(point, "occurred_at", when)
    _stamp(d.timings, "decided_at", when)
    return d


def claim(tenant: str, d: escalation_pb2.EscalationDecision, agent: str, when: datetime) -> bytes:
    """An agent's claim of ``d``."""
    action = notification_pb2.AgentAction(
        action_id=derived_id(d.decision_id, agent, "claim"), tenant_id=tenant, agent_id=agent,
        claimed=notification_pb2.Claimed(
            escalation_id=d.decision_id, decision_id=d.decision_id,
            conversation_id=d.conversation_id, queue=d.queue, high_intensity=True,
        ),
    )  # fmt: skip
    _stamp(action, "acted_at", when)
    return action.SerializeToString()


def ack(tenant: str, agent: str, when: datetime) -> bytes:
    """An agent's acknowledgement (not recorded)."""
    action = notification_pb2.AgentAction(
        action_id=derived_id(tenant, agent, str(when), "ack"), tenant_id=tenant, agent_id=agent,
        acked=notification_pb2.Acked(cursor="c1"),
    )  # fmt: skip
    _stamp(action, "acted_at", when)
    return action.SerializeToString()


def verdict(d: escalation_pb2.EscalationDecision, agent: str, when: datetime) -> bytes:
    """A false-alarm verdict on ``d`` with a comment carrying the marker."""
    f = feedback_pb2.Feedback(
        feedback_id=derived_id(d.decision_id, agent, "feedback"), tenant_id=d.tenant_id,
        conversation_id=d.conversation_id, decision_id=d.decision_id, agent_id=agent,
        verdict=feedback_pb2.VERDICT_FALSE_ALARM, comment=f"{SECRET} comment",
        customer_id=d.customer_id,
    )  # fmt: skip
    _stamp(f, "submitted_at", when)
    return f.SerializeToString()


def overload_alert(
    tenant: str, queue: str, when: datetime, *, agent: str = "", measure: str = "reveals"
) -> notification_pb2.OverloadAlert:
    """An overload alert about ``agent`` (named, and in its suggestion, as where the
    tenant names agents to supervisors) or, without one, about the queue."""
    scope = (
        notification_pb2.OVERLOAD_SCOPE_AGENT if agent else notification_pb2.OVERLOAD_SCOPE_QUEUE
    )
    alert = notification_pb2.OverloadAlert(
        alert_id=derived_id(tenant, queue, agent, measure, str(when)), tenant_id=tenant,
        queue=queue, scope=scope, agent_id=agent, measure=measure, value=4, threshold=3,
        window_s=7_200, suggestion=f"{agent or 'Queue'} on {queue}: consider a break.",
    )  # fmt: skip
    _stamp(alert, "raised_at", when)
    return alert


def known_set(
    tenants: tuple[str, ...] = ("acme", "globex"),
    conversations: int = 4,
    at: datetime | None = None,
    prefix: str = "",
) -> KnownSet:
    """Per tenant and conversation: three turns, a CSAT event, an escalation and an
    update, a claim, an ack and a verdict; per tenant, an overload alert about the
    billing queue and one naming an agent (the marker)."""
    at = at or datetime.now(UTC)
    known = KnownSet()
    for tenant in tenants:
        for agent in ("", f"{SECRET}-agent"):
            alert = overload_alert(tenant, "billing", at + timedelta(seconds=6), agent=agent)
            key = f"{tenant}/billing".encode()
            known.records["overload_alerts"].append((key, alert.SerializeToString()))
        for c in range(conversations):
            conversation = f"{prefix}conv-{c}"
            key = conversation_key(tenant, conversation)
            for n in (1, 2, 3):
                turn = scored(tenant, conversation, n, at + timedelta(seconds=n))
                known.records["scored"].append((key, turn.SerializeToString()))
            rating = scored(tenant, conversation, 4, at + timedelta(seconds=9), csat=2)
            known.records["scored"].append((key, rating.SerializeToString()))
            first = decision(tenant, conversation, f"{conversation}-e2", at + timedelta(seconds=2))
            update = decision(
                tenant, conversation, f"{conversation}-e3", at + timedelta(seconds=3),
                escalation_pb2.DECISION_ACTION_UPDATE,
            )  # fmt: skip
            for d in (first, update):
                known.records["escalations"].append((key, d.SerializeToString()))
            known.decisions[(tenant, conversation)] = [first.decision_id, update.decision_id]
            known.records["agent_actions"].append(
                (key, claim(tenant, first, "alice", at + timedelta(seconds=5)))
            )
            known.records["agent_actions"].append((key, ack(tenant, "alice", at)))
            known.records["feedback"].append(
                (key, verdict(first, "alice", at + timedelta(seconds=8)))
            )
    return known


def stored_values(conn: sqlite3.Connection) -> list[object]:
    """Every value of every user table of the database."""
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [v for t in tables for row in conn.execute(f"SELECT * FROM {t}") for v in row]


#: The turns of a conversation that ends well, as (role, text): up to the
#: escalation (the third customer turn), then one the agent answers.
PRACTICE_TURNS = (
    ("customer", "Hi, I'm Anna Berg. My order AB-12345 never came to my flat in Leeds."),
    ("bot", "Sorry to hear that. Can you tell me the order number?"),
    ("customer", "I told you, AB-12345! I paid 45.50 on 3 March. Anna is not happy."),
    ("customer", "This is the third time. Just get me a person."),
    ("customer", "Thanks, that is sorted now."),
)
PRACTICE_OPENING = "I'm sorry, Anna: let me find AB-12345 for you now."


def practice_conversation(
    tenant: str,
    conversation: str,
    at: datetime,
    *,
    csat: int = 5,
    judged_as: feedback_pb2.Verdict.ValueType = feedback_pb2.VERDICT_USEFUL,
    claimed: bool = True,
) -> KnownSet:
    """A conversation escalated at its fourth turn with the suggested opening
    :data:`PRACTICE_OPENING`; then, as asked, claimed, judged and rated."""
    known = KnownSet()
    key = conversation_key(tenant, conversation)
    for n, (role, text) in enumerate(PRACTICE_TURNS, 1):
        turn = scored(tenant, conversation, n, at + timedelta(seconds=n))
        turn.event.text = text
        turn.event.role = events_pb2.Role.Value(f"ROLE_{role.upper()}")
        known.records["scored"].append((key, turn.SerializeToString()))
    d = decision(
        tenant, conversation, f"{conversation}-e4", at + timedelta(seconds=4, milliseconds=500)
    )
    d.opening_line = PRACTICE_OPENING
    d.timings.occurred_at.FromDatetime(at + timedelta(seconds=4))
    known.records["escalations"].append((key, d.SerializeToString()))
    known.decisions[(tenant, conversation)] = [d.decision_id]
    if claimed:
        known.records["agent_actions"].append(
            (key, claim(tenant, d, "alice", at + timedelta(seconds=6)))
        )
    if judged_as:
        judged = feedback_pb2.Feedback.FromString(verdict(d, "alice", at + timedelta(seconds=7)))
        judged.verdict = judged_as
        known.records["feedback"].append((key, judged.SerializeToString()))
    if csat:
        rating = scored(tenant, conversation, 9, at + timedelta(seconds=9), csat=csat)
        known.records["scored"].append((key, rating.SerializeToString()))
    return known
