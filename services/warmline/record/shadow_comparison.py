"""The conversations ``warmline policy compare`` sets side by side, read from the record.

A tenant's conversations whose first recorded turn lies in ``[start, end)``
(as for ``warmline policy tune``), each with the first escalation of the live
policy (any version; ``shadow = 0``) and of one shadow policy version (the
newest that decided any of them, unless one is asked for), and the agents'
verdicts on its live decisions. Escalations are placed by customer turn: the
trigger event's, else the last customer message at or before the moment the
trigger occurred (a bot turn, or a turn the retention job already deleted).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from warmline.decisioning.compare import (
    Comparison,
    Escalation,
    PairedConversation,
    verdict_of,
)
from warmline.record.database import Connection
from warmline.record.tuning_set import CONVERSATIONS_IN_WINDOW, live_verdict_counts


class NothingToCompare(LookupError):
    """No shadow decision (of the version asked for) in the window; the message says why."""


@dataclass
class _Conversation:
    #: Customer messages in order, and when each occurred.
    customer_turns: list[str] = field(default_factory=list)
    customer_times: list[float] = field(default_factory=list)
    #: Every recorded event's time, by event id.
    times: dict[str, float] = field(default_factory=dict)
    live: tuple[int, float, Escalation] | None = None
    shadow: tuple[int, float, Escalation] | None = None

    def turn(self, trigger: str, occurred_at: float) -> int:
        """The customer turn (1 = first) a decision on ``trigger`` was taken at."""
        if trigger in self.customer_turns:
            return self.customer_turns.index(trigger) + 1
        moment = self.times.get(trigger, occurred_at)
        return max(1, bisect_right(self.customer_times, moment))


@dataclass
class _Escalated:
    conversation_id: str
    shadow: bool
    version: str
    queue: str
    priority: str
    trigger: str
    occurred_at: float
    decided_at: float
    reasons: list[str] = field(default_factory=list)


def read_comparison(
    conn: Connection,
    tenant: str,
    start: float,
    end: float,
    shadow_version: str | None = None,
) -> Comparison:
    """The live and shadow escalations of the tenant's conversations of ``[start, end)``;
    raises :class:`NothingToCompare` when no shadow policy decided any of them."""
    window = (tenant, start, end)
    found: dict[str, _Conversation] = defaultdict(_Conversation)
    for conversation_id, event_id, role, kind, occurred_at in conn.execute(
        "SELECT conversation_id, event_id, role, kind, occurred_at FROM turns "
        f"WHERE tenant_id = ? AND conversation_id IN ({CONVERSATIONS_IN_WINDOW}) "
        "ORDER BY conversation_id, occurred_at, event_id",
        (tenant, *window),
    ):
        c = found[conversation_id]
        c.times[event_id] = occurred_at
        if role == "customer" and kind == "message":
            c.customer_turns.append(event_id)
            c.customer_times.append(occurred_at)
    escalated = _escalations(conn, tenant, window)
    shadow_seen: dict[str, float] = {}
    for e in escalated:
        if e.shadow:
            shadow_seen[e.version] = max(shadow_seen.get(e.version, 0.0), e.decided_at)
    chosen = shadow_version or max(shadow_seen, key=shadow_seen.__getitem__, default=None)
    if chosen is None or chosen not in shadow_seen:
        asked = f" of version {shadow_version}" if shadow_version else ""
        raise NothingToCompare(
            f"no shadow decision{asked} for tenant {tenant} on conversations that began "
            f"between the two times; shadow versions there: {sorted(shadow_seen) or 'none'}"
        )
    live_versions: set[str] = set()
    first_shadow_turn: float | None = None
    for e in escalated:
        if e.shadow and e.version != chosen:
            continue
        c = found[e.conversation_id]
        turn = c.turn(e.trigger, e.occurred_at)
        first = Escalation(turn, e.queue, e.priority, tuple(sorted(e.reasons)))
        mine = (turn, e.decided_at, first)
        if e.shadow:
            at = c.times.get(e.trigger, e.occurred_at)
            first_shadow_turn = at if first_shadow_turn is None else min(first_shadow_turn, at)
            c.shadow = mine if c.shadow is None else min(c.shadow, mine, key=_order)
        else:
            live_versions.add(e.version)
            c.live = mine if c.live is None else min(c.live, mine, key=_order)
    verdicts = live_verdict_counts(conn, tenant, window)
    pairs = tuple(
        PairedConversation(
            conversation_id,
            None if c.live is None else c.live[2],
            None if c.shadow is None else c.shadow[2],
            verdict_of(*verdicts.get(conversation_id, (0, 0))),
        )
        for conversation_id, c in sorted(found.items())
    )
    return Comparison(
        tenant=tenant,
        start=start,
        end=end,
        shadow_version=chosen,
        live_versions=tuple(sorted(live_versions)),
        conversations=pairs,
        other_shadow_versions=tuple(sorted(set(shadow_seen) - {chosen})),
        shadow_first_turn_at=first_shadow_turn,
        began_before_shadow=sum(
            1
            for c in found.values()
            if c.times
            and first_shadow_turn is not None
            and min(c.times.values()) < first_shadow_turn
        ),
    )


def _order(escalation: tuple[int, float, Escalation]) -> tuple[int, float]:
    return escalation[0], escalation[1]


def _escalations(
    conn: Connection, tenant: str, window: tuple[str, float, float]
) -> list[_Escalated]:
    """Every escalate decision of the window's conversations, with its reasons."""
    found: dict[str, _Escalated] = {}
    for decision_id, *values, code in conn.execute(
        "SELECT d.decision_id, d.conversation_id, d.shadow, d.policy_version, d.queue, "
        "d.priority, d.trigger_event_id, COALESCE(d.occurred_at, d.decided_at), d.decided_at, "
        "r.code FROM decisions d LEFT JOIN decision_reasons r "
        "ON r.tenant_id = d.tenant_id AND r.decision_id = d.decision_id "
        "WHERE d.tenant_id = ? AND d.action = 'escalate' "
        f"AND d.conversation_id IN ({CONVERSATIONS_IN_WINDOW}) "
        "ORDER BY d.decided_at, d.decision_id, r.position",
        (tenant, *window),
    ):
        if decision_id not in found:
            conversation_id, shadow, version, queue, priority, trigger, at, decided_at = values
            found[decision_id] = _Escalated(
                conversation_id, bool(shadow), version, queue, priority, trigger, at, decided_at
            )
        if code is not None:
            found[decision_id].reasons.append(code)
    return list(found.values())
