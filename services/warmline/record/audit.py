"""The audit of one conversation: every recorded decision, in order, with why and by what.

Read from the record only (never from the topics), so it answers for as long
as the tenant's retention keeps the rows. Shadow decisions are listed and marked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from warmline.record.database import Connection

_DECISION_COLUMNS = (
    "tenant_id", "decision_id", "conversation_id", "action", "queue", "priority",
    "dominant_emotion", "policy_version", "model_version", "trigger_event_id", "abusive",
    "shadow", "decided_at",
)  # fmt: skip
_SIGNALS = ("negativity", "frustration", "anger", "confusion", "distress", "gratitude", "neutral")


def iso(stamp: float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC time."""
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def conversation_audit(
    conn: Connection, conversation_id: str, tenant_id: str | None = None
) -> list[dict[str, Any]]:
    """Every decision of the conversation (of one tenant, or of any), oldest first."""
    where = "conversation_id = ?" + (" AND tenant_id = ?" if tenant_id is not None else "")
    params = (conversation_id,) if tenant_id is None else (conversation_id, tenant_id)
    rows = conn.execute(
        f"SELECT {', '.join(_DECISION_COLUMNS)} FROM decisions WHERE {where} "
        "ORDER BY decided_at, decision_id",
        params,
    ).fetchall()
    return [_decision(conn, dict(zip(_DECISION_COLUMNS, row, strict=True))) for row in rows]


def _decision(conn: Connection, d: dict[str, Any]) -> dict[str, Any]:
    key = (d["tenant_id"], d["decision_id"])
    d["abusive"], d["shadow"] = bool(d["abusive"]), bool(d["shadow"])
    d["decided_at"] = iso(d["decided_at"])
    d["reasons"] = [
        {"code": code, "explanation": explanation}
        for code, explanation in conn.execute(
            "SELECT code, explanation FROM decision_reasons "
            "WHERE tenant_id = ? AND decision_id = ? ORDER BY position",
            key,
        )
    ]
    d["trajectory"] = [
        {"event_id": row[0], "occurred_at": iso(row[1]), "dominant_emotion": row[2]}
        | {name: round(value, 4) for name, value in zip(_SIGNALS, row[3:], strict=True)}
        for row in conn.execute(
            f"SELECT event_id, occurred_at, dominant_emotion, {', '.join(_SIGNALS)} "
            "FROM decision_trajectory WHERE tenant_id = ? AND decision_id = ? ORDER BY position",
            key,
        )
    ]
    # A claim names the decision an agent took; later updates of that escalation
    # carry the escalation's id, so both are matched.
    d["claims"] = [
        {"agent_id": agent, "claimed_at": iso(at)}
        for agent, at in conn.execute(
            "SELECT agent_id, claimed_at FROM claims WHERE tenant_id = ? "
            "AND (decision_id = ? OR escalation_id = ?) ORDER BY claimed_at, action_id",
            (*key, d["decision_id"]),
        )
    ]
    d["verdicts"] = [
        {"agent_id": agent, "verdict": verdict, "submitted_at": iso(at)}
        for agent, verdict, at in conn.execute(
            "SELECT agent_id, verdict, submitted_at FROM verdicts "
            "WHERE tenant_id = ? AND decision_id = ? ORDER BY submitted_at, feedback_id",
            key,
        )
    ]
    return d


def as_text(conversation_id: str, decisions: list[dict[str, Any]]) -> str:
    """The audit for a person reading a terminal."""
    if not decisions:
        return f"conversation {conversation_id}: no recorded decision"
    lines = [f"conversation {conversation_id}: {len(decisions)} decision(s)"]
    for n, d in enumerate(decisions, 1):
        shadow = " (shadow)" if d["shadow"] else ""
        lines += [
            "",
            f"{n}. {d['decided_at']}  {d['action'].upper()}{shadow}  queue {d['queue'] or '-'}"
            f"  priority {d['priority']}  tenant {d['tenant_id']}",
            f"   decision {d['decision_id']}  policy {d['policy_version']}"
            f"  model {d['model_version']}  trigger {d['trigger_event_id']}",
        ]
        lines += [f"   reason {r['code']}: {r['explanation']}" for r in d["reasons"]]
        if d["trajectory"]:
            path = " -> ".join(f"{p['negativity']:.2f}" for p in d["trajectory"])
            lines.append(f"   negativity trajectory: {path}")
        claims = ", ".join(f"{c['agent_id']} at {c['claimed_at']}" for c in d["claims"])
        lines.append(f"   claimed by: {claims or 'nobody'}")
        verdicts = ", ".join(f"{v['verdict']} ({v['agent_id']})" for v in d["verdicts"])
        lines.append(f"   verdict: {verdicts or 'none'}")
    return "\n".join(lines)
