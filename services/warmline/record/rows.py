"""From the pipeline's records to the record's rows, and nothing more.

What is promised: no row holds message text (the scored event's ``text``, a
decision's ``last_customer_text``/``unmasked_customer_text``), an agent's comment,
a suggested opening line or an event's metadata; explanations lose the customer
words they quote. The one exception is empathy practice, for the tenants that
opted in (``Rows.practice_tenants``) and for nobody else: the redacted text of
their customer and bot turns and their escalations' suggested openings go to the
``practice_turns`` and ``practice_openings`` tables, to wait for the conversation
to qualify as a scenario (:mod:`warmline.record.practice`). Ids are the
pseudonymous ones the topics already carry; an overload alert keeps none of
an agent's, even where its tenant names agents to supervisors. What is not promised: that a
platform never put personal data into an id; ingestion refuses ids that look
like an email, phone or IBAN, and that is the guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from warmline.v1 import escalation_pb2, events_pb2, feedback_pb2, notification_pb2, scoring_pb2

# Quoted customer words in an explanation (“...”), e.g. a loop complaint.
_QUOTED = re.compile("\u201c[^\u201d]*\u201d")
WITHHELD = "[customer's words not recorded]"

TABLES = (
    "turns", "decisions", "decision_reasons", "decision_trajectory", "verdicts", "claims",
    "practice_turns", "practice_openings", "overload_alerts",
)  # fmt: skip
_PRACTICE_ROLES = ("customer", "bot")
_SIGNALS = ("frustration", "anger", "confusion", "distress", "gratitude", "negativity", "neutral")
_SITUATIONS = ("sensitive", "vulnerability", "churn_threat", "regulator_complaint")


class InvalidRecord(ValueError):
    """A record that decodes but lacks what the record keys it by."""


@dataclass(slots=True)
class Rows:
    """Rows to write in one transaction, by table, each a tuple in column order."""

    by_table: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {table: [] for table in TABLES}
    )
    #: Tenants that opted in to empathy practice: only their text is queued.
    practice_tenants: frozenset[str] = frozenset()
    #: Their conversations this batch touched, (tenant, conversation), to check
    #: whether they now qualify as practice scenarios.
    practice_candidates: set[tuple[str, str]] = field(default_factory=set)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        """Queue one row of ``table``."""
        self.by_table[table].append(row)

    def practice(self, tenant_id: str, conversation_id: str) -> bool:
        """Whether the tenant opted in; if so the conversation becomes a candidate."""
        if tenant_id not in self.practice_tenants:
            return False
        self.practice_candidates.add((tenant_id, conversation_id))
        return True

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.by_table.values())


def seconds(stamp: Timestamp) -> float | None:
    """Epoch seconds of a timestamp; None when it was never set."""
    if not stamp.seconds and not stamp.nanos:
        return None
    return stamp.seconds + stamp.nanos / 1e9


def _first(*stamps: Timestamp) -> float:
    """The first of ``stamps`` that is set (a row's age for retention), else 0."""
    return next((s for s in map(seconds, stamps) if s is not None), 0.0)


def without_quotes(explanation: str) -> str:
    """An explanation with the customer words it quotes taken out."""
    return _QUOTED.sub(WITHHELD, explanation)


def _enum(message: Message, name: str) -> str:
    """An enum field's value by name, without its prefix (``CHANNEL_CHAT`` -> ``chat``);
    a number this build does not know stays a number."""
    enum = message.DESCRIPTOR.fields_by_name[name].enum_type
    assert enum is not None
    number = getattr(message, name)
    value = enum.values_by_number.get(number)
    if value is None:
        return str(number)
    prefix = enum.values_by_number[0].name.removesuffix("UNSPECIFIED")
    return value.name.removeprefix(prefix).lower()


def _require(what: str, **ids: str) -> None:
    if missing := [name for name, value in ids.items() if not value]:
        raise InvalidRecord(f"{what} without {', '.join(missing)}")


def add_scored(rows: Rows, value: bytes) -> None:
    """Queue the turn of a scored event (raises DecodeError or InvalidRecord)."""
    scored = scoring_pb2.ScoredEvent.FromString(value)
    e, s = scored.event, scored.scores
    _require("scored event", event_id=e.event_id, tenant_id=e.tenant_id,
             conversation_id=e.conversation_id)  # fmt: skip
    has_scores = s.status == scoring_pb2.SCORE_STATUS_SCORED
    signals = [getattr(s.signals, n) if has_scores else None for n in _SIGNALS]
    situations = [getattr(s.situations, n) if has_scores else None for n in _SITUATIONS]
    csat = e.csat_score if e.kind == events_pb2.EVENT_KIND_CSAT else None
    rows.add("turns", (
        e.tenant_id, e.event_id, e.conversation_id, e.customer_id,
        _enum(e, "channel"), _enum(e, "role"), _enum(e, "kind"), _enum(e, "customer_tier"),
        e.language, _first(e.occurred_at, e.ingested_at, scored.scored_at), seconds(e.ingested_at),
        seconds(scored.scored_at), _enum(s, "status"), s.model_version, s.taxonomy_version,
        *signals, *situations, ",".join(s.predicted_labels),
        scored.context.context_turns, scored.context.repeat_similarity, csat,
    ))  # fmt: skip
    role = _enum(e, "role")
    if rows.practice(e.tenant_id, e.conversation_id) and (
        e.kind == events_pb2.EVENT_KIND_MESSAGE and role in _PRACTICE_ROLES and e.text
    ):
        rows.add("practice_turns", (
            e.tenant_id, e.event_id, e.conversation_id, role,
            _first(e.occurred_at, e.ingested_at, scored.scored_at), e.text,
        ))  # fmt: skip


def add_decision(rows: Rows, value: bytes, *, shadow: bool = False) -> None:
    """Queue a decision with its reasons and trajectory; ``shadow``: it came from the
    shadow worker's topic and is kept as shadow whatever its flag says."""
    d = escalation_pb2.EscalationDecision.FromString(value)
    d.shadow = d.shadow or shadow
    _require("decision", decision_id=d.decision_id, tenant_id=d.tenant_id,
             conversation_id=d.conversation_id)  # fmt: skip
    t, h = d.timings, d.customer_history
    rows.add("decisions", (
        d.tenant_id, d.decision_id, d.conversation_id, d.customer_id,
        _enum(d, "action"), d.queue, _enum(d, "priority"), d.dominant_emotion,
        d.policy_version, d.model_version, d.trigger_event_id, int(d.abusive), int(d.shadow),
        _enum(d, "channel"), _enum(d, "customer_tier"),
        h.escalations_in_window, h.false_alarms_in_window, h.window_days,
        seconds(t.occurred_at), seconds(t.ingested_at), seconds(t.scored_at),
        _first(t.decided_at, t.scored_at, t.occurred_at),
    ))  # fmt: skip
    if rows.practice(d.tenant_id, d.conversation_id) and d.opening_line and not d.shadow:
        rows.add("practice_openings", (
            d.tenant_id, d.decision_id, d.conversation_id, d.opening_line,
            _first(t.decided_at, t.scored_at, t.occurred_at),
        ))  # fmt: skip
    for position, reason in enumerate(d.reasons):
        rows.add("decision_reasons", (
            d.tenant_id, d.decision_id, position, reason.code, without_quotes(reason.explanation),
        ))  # fmt: skip
    for position, point in enumerate(d.trajectory):
        rows.add("decision_trajectory", (
            d.tenant_id, d.decision_id, position, point.event_id, seconds(point.occurred_at),
            point.dominant_emotion, *(getattr(point.signals, n) for n in _SIGNALS),
        ))  # fmt: skip


def add_shadow_decision(rows: Rows, value: bytes) -> None:
    """Queue a decision of the shadow worker (:func:`add_decision`, kept as shadow)."""
    add_decision(rows, value, shadow=True)


def add_feedback(rows: Rows, value: bytes) -> None:
    """Queue an agent's verdict (whether a comment was written, never the comment)."""
    f = feedback_pb2.Feedback.FromString(value)
    _require("feedback", feedback_id=f.feedback_id, tenant_id=f.tenant_id,
             decision_id=f.decision_id)  # fmt: skip
    rows.add("verdicts", (
        f.tenant_id, f.feedback_id, f.decision_id, f.conversation_id, f.customer_id,
        f.agent_id, _enum(f, "verdict"), int(bool(f.comment)), seconds(f.submitted_at) or 0.0,
    ))  # fmt: skip
    rows.practice(f.tenant_id, f.conversation_id)


def add_agent_action(rows: Rows, value: bytes) -> None:
    """Queue a claim; acknowledgements are only checked, not kept."""
    a = notification_pb2.AgentAction.FromString(value)
    _require("agent action", action_id=a.action_id, tenant_id=a.tenant_id)
    kind = a.WhichOneof("action")
    if kind is None:
        raise InvalidRecord("agent action with neither a claim nor an ack")
    if kind == "claimed":
        c = a.claimed
        _require("claim", decision_id=c.decision_id)
        rows.add("claims", (
            a.tenant_id, a.action_id, c.decision_id, c.escalation_id, c.conversation_id,
            c.queue, a.agent_id, int(c.high_intensity), seconds(a.acted_at) or 0.0,
        ))  # fmt: skip
        rows.practice(a.tenant_id, c.conversation_id)


def add_overload_alert(rows: Rows, value: bytes) -> None:
    """Queue an overload alert: its queue (empty for a team), scope and measure, never
    an agent's id or the suggestion (which may name one)."""
    a = notification_pb2.OverloadAlert.FromString(value)
    _require("overload alert", alert_id=a.alert_id, tenant_id=a.tenant_id)
    if not a.queue and a.scope != notification_pb2.OVERLOAD_SCOPE_TEAM:
        raise InvalidRecord(f"overload alert {a.alert_id} without queue (only a team's has none)")
    raised_at = seconds(a.raised_at)
    if raised_at is None:
        raise InvalidRecord("overload alert without raised_at")
    rows.add("overload_alerts", (
        a.tenant_id, a.alert_id, a.queue, _enum(a, "scope"), a.measure, a.value, a.threshold,
        a.window_s, raised_at,
    ))  # fmt: skip
