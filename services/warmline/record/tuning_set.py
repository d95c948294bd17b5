"""The conversations ``warmline policy tune`` learns from, read from the record.

A tenant's conversations whose first recorded turn lies in ``[start, end)``,
each as the scored events the decisioning service saw, rebuilt from the
``turns`` table (signals, situations, context; the record keeps no text), with a
gold from the agents' verdicts on its live decisions:

- more "useful" or "wrong queue" verdicts than "false alarm" ones: a person was
  needed, at the customer turn of the conversation's first escalation (a wrong
  queue is a routing mistake, not a timing one);
- more "false alarm" verdicts: no person was needed;
- as many of each: disputed, left out of the gold;
- no verdict and never escalated: no person was needed only when
  ``unescalated_as_calm``, otherwise unknown (replayed, counted in the alerts
  per 100 conversations, not in precision or recall).

A first escalation with any reason outside
:data:`~warmline.decisioning.tune.GOVERNED_REASONS` is pinned at its turn.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from warmline.decisioning.tune import (
    GOVERNED_REASONS,
    Label,
    TuningConversation,
    TuningSet,
)
from warmline.record.database import Connection
from warmline.v1 import events_pb2, scoring_pb2

_SIGNALS = ("frustration", "anger", "confusion", "distress", "gratitude", "negativity", "neutral")
_SITUATIONS = ("sensitive", "vulnerability", "churn_threat", "regulator_complaint")
_TURN_COLUMNS = (
    "conversation_id", "event_id", "customer_id", "role", "kind", "occurred_at",
    "score_status", "model_version", *_SIGNALS, *_SITUATIONS, "context_turns",
    "repeat_similarity",
)  # fmt: skip
#: Verdicts that say a person was needed (a wrong queue is a routing mistake,
#: not a timing one); "false_alarm" says none was.
NEEDED_VERDICTS = frozenset({"useful", "wrong_queue"})
#: The conversations of a tenant whose first recorded turn lies in ``[start, end)``:
#: a subquery taking (tenant, start, end).
CONVERSATIONS_IN_WINDOW = (
    "SELECT conversation_id FROM turns WHERE tenant_id = ? GROUP BY conversation_id "
    "HAVING MIN(occurred_at) >= ? AND MIN(occurred_at) < ?"
)
# Reasons that only strengthen another: they say nothing about what fired.
_SUPPORTING = frozenset({"repeat_contact"})


@dataclass
class _Conversation:
    events: list[scoring_pb2.ScoredEvent] = field(default_factory=list)
    customer_turns: list[tuple[str, float]] = field(default_factory=list)
    escalation: tuple[str, float, frozenset[str]] | None = None
    needed: int = 0
    not_needed: int = 0

    def escalation_turn(self) -> int | None:
        """The customer turn of the first escalation: its trigger's, else the last
        customer turn before it."""
        if self.escalation is None:
            return None
        trigger, decided_at, _ = self.escalation
        for n, (event_id, _at) in enumerate(self.customer_turns):
            if event_id == trigger:
                return n
        before = sum(1 for _id, at in self.customer_turns if at <= decided_at)
        return max(0, before - 1)


def read_tuning_set(
    conn: Connection,
    tenant: str,
    start: float,
    end: float,
    *,
    unescalated_as_calm: bool = False,
) -> TuningSet:
    """The tenant's conversations of ``[start, end)`` with their gold (module docstring)."""
    found: dict[str, _Conversation] = defaultdict(_Conversation)
    window = (tenant, start, end)
    for row in conn.execute(
        f"SELECT {', '.join(_TURN_COLUMNS)} FROM turns WHERE tenant_id = ? "
        f"AND conversation_id IN ({CONVERSATIONS_IN_WINDOW}) "
        "ORDER BY conversation_id, occurred_at, event_id",
        (tenant, *window),
    ):
        values = dict(zip(_TURN_COLUMNS, row, strict=True))
        conversation = found[values["conversation_id"]]
        conversation.events.append(_scored(tenant, values))
        if values["role"] == "customer" and values["kind"] == "message":
            conversation.customer_turns.append((values["event_id"], values["occurred_at"]))
    _read_escalations(conn, tenant, window, found)
    for conversation_id, counts in live_verdict_counts(conn, tenant, window).items():
        found[conversation_id].needed, found[conversation_id].not_needed = counts
    conversations, disputed = [], 0
    for conversation_id, c in sorted(found.items()):
        label, gold = _gold(c, unescalated_as_calm)
        disputed += int(bool(c.needed) and c.needed == c.not_needed)
        pinned = None
        if c.escalation is not None and c.escalation[2] - _SUPPORTING - GOVERNED_REASONS:
            pinned = c.escalation_turn()
        conversations.append(
            TuningConversation(conversation_id, tuple(c.events), gold, label, pinned)
        )
    return TuningSet(tenant, start, end, tuple(conversations), disputed)


def _read_escalations(
    conn: Connection,
    tenant: str,
    window: tuple[str, float, float],
    found: dict[str, _Conversation],
) -> None:
    """Each conversation's first live escalation: trigger, time and reasons."""
    reasons: dict[str, set[str]] = defaultdict(set)
    rows = conn.execute(
        "SELECT d.conversation_id, d.decision_id, d.trigger_event_id, d.decided_at, r.code "
        "FROM decisions d LEFT JOIN decision_reasons r "
        "ON r.tenant_id = d.tenant_id AND r.decision_id = d.decision_id "
        "WHERE d.tenant_id = ? AND d.shadow = 0 AND d.action = 'escalate' "
        f"AND d.conversation_id IN ({CONVERSATIONS_IN_WINDOW}) "
        "ORDER BY d.decided_at, d.decision_id",
        (tenant, *window),
    ).fetchall()
    first: dict[str, tuple[str, str, float]] = {}
    for conversation_id, decision_id, trigger, decided_at, code in rows:
        first.setdefault(conversation_id, (decision_id, trigger, decided_at))
        if code is not None:
            reasons[decision_id].add(code)
    for conversation_id, (decision_id, trigger, decided_at) in first.items():
        found[conversation_id].escalation = (
            trigger,
            decided_at,
            frozenset(reasons[decision_id]),
        )


def live_verdict_counts(
    conn: Connection, tenant: str, window: tuple[str, float, float]
) -> dict[str, tuple[int, int]]:
    """Per conversation in ``window`` (the parameters of :data:`CONVERSATIONS_IN_WINDOW`),
    how many verdicts on its live decisions say a person was needed and how many
    say none was (false alarm); conversations without either are left out."""
    counts: dict[str, tuple[int, int]] = {}
    for conversation_id, verdict in conn.execute(
        "SELECT d.conversation_id, v.verdict FROM verdicts v JOIN decisions d "
        "ON d.tenant_id = v.tenant_id AND d.decision_id = v.decision_id "
        "WHERE v.tenant_id = ? AND d.shadow = 0 "
        f"AND d.conversation_id IN ({CONVERSATIONS_IN_WINDOW})",
        (tenant, *window),
    ):
        needed, not_needed = counts.get(conversation_id, (0, 0))
        if verdict in NEEDED_VERDICTS:
            counts[conversation_id] = (needed + 1, not_needed)
        elif verdict == "false_alarm":
            counts[conversation_id] = (needed, not_needed + 1)
    return counts


def _gold(c: _Conversation, unescalated_as_calm: bool) -> tuple[Label, int | None]:
    turn = c.escalation_turn()
    if c.needed > c.not_needed and turn is not None:
        return "verdict", turn
    if c.not_needed > c.needed:
        return "verdict", None
    if not c.needed and c.escalation is None and unescalated_as_calm:
        return "assumed_calm", None
    return "none", None


def _scored(tenant: str, v: dict[str, Any]) -> scoring_pb2.ScoredEvent:
    """The scored event a turns row was written from, without its text."""
    event = events_pb2.InteractionEvent(
        event_id=str(v["event_id"]),
        tenant_id=tenant,
        conversation_id=str(v["conversation_id"]),
        customer_id=str(v["customer_id"]),
        role=_role(v["role"]),
        kind=_kind(v["kind"]),
    )
    event.occurred_at.FromNanoseconds(round(float(v["occurred_at"]) * 1e9))
    scored = scoring_pb2.ScoredEvent(
        event=event,
        context=scoring_pb2.ConversationContext(
            context_turns=int(v["context_turns"]),
            repeat_similarity=float(v["repeat_similarity"]),
        ),
    )
    if v["score_status"] == "scored":
        scores = scored.scores
        scores.status = scoring_pb2.SCORE_STATUS_SCORED
        scores.model_version = str(v["model_version"])
        for name in _SIGNALS:
            setattr(scores.signals, name, float(v[name] or 0.0))
        if any(v[name] is not None for name in _SITUATIONS):
            for name in _SITUATIONS:
                setattr(scores.situations, name, float(v[name] or 0.0))
    return scored


def _role(stored: str) -> events_pb2.Role.ValueType:
    """``customer`` -> ``ROLE_CUSTOMER``; a role this build does not know is unspecified."""
    try:
        return events_pb2.Role.Value(f"ROLE_{stored.upper()}")
    except ValueError:
        return events_pb2.ROLE_UNSPECIFIED


def _kind(stored: str) -> events_pb2.EventKind.ValueType:
    """``message`` -> ``EVENT_KIND_MESSAGE``; an unknown kind is unspecified."""
    try:
        return events_pb2.EventKind.Value(f"EVENT_KIND_{stored.upper()}")
    except ValueError:
        return events_pb2.EVENT_KIND_UNSPECIFIED
