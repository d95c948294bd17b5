"""Practice scenarios in the record: which conversations qualify, how they are kept.

Only tenants that opted in (``WARMLINE_RECORD__PRACTICE_TENANTS``) have text here
at all (:mod:`warmline.record.rows`). Their conversations' redacted customer and
bot turns wait in ``practice_turns``, never past the escalation and at most
``max_turns`` of them, until the conversation is settled:

- it **qualifies** once it was escalated (a live decision, not a shadow one),
  claimed, judged useful by an agent and rated at least ``min_csat``: its turns
  up to the escalation and the escalation's suggested opening are anonymised
  together (:func:`warmline.practice.anonymise.anonymise`) into one
  ``practice_scenarios`` row, which keeps neither the conversation's nor the
  customer's id, and the waiting text is deleted;
- it **cannot qualify** once rated below ``min_csat``, judged only other than
  useful, or rated without ever being escalated: the waiting text is deleted;
- otherwise the text is deleted ``pending_hours`` after it was written.

A scenario is deleted after ``retention_days``, or the tenant's retention if
that is shorter, counted from the escalation, and what an agent shared of their
practice (:mod:`warmline.record.practice_shares`) as long after it was shared;
every practice row of a tenant that opts out is deleted at the next retention
run. Every function here runs inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from warmline.common.keys import derived_id
from warmline.common.settings import RecordSettings
from warmline.practice.anonymise import anonymise
from warmline.record.database import DAY_S, Connection, not_in
from warmline.record.practice_shares import delete_expired_shares

PRACTICE_TABLES = ("practice_turns", "practice_openings", "practice_scenarios")


@dataclass(frozen=True, slots=True)
class PracticeRules:
    """Who opted in, what qualifies and how long practice text is kept."""

    tenants: frozenset[str] = field(default_factory=frozenset)
    min_csat: int = 4
    max_turns: int = 20
    pending_hours: float = 72.0
    retention_days: int = 90

    @classmethod
    def from_settings(cls, r: RecordSettings) -> PracticeRules:
        """The rules of the record's settings."""
        return cls(
            r.practice_tenants,
            r.practice_min_csat,
            r.practice_max_turns,
            r.practice_pending_hours,
            r.practice_retention_days,
        )


def scenario_id(tenant_id: str, conversation_id: str) -> str:
    """The scenario of a conversation: stable, so a replay makes no second one."""
    return derived_id(tenant_id, conversation_id, "practice")[:20]


def settle(conn: Connection, candidates: Iterable[tuple[str, str]], rules: PracticeRules) -> int:
    """Trim, promote or drop the waiting text of each (tenant, conversation);
    returns how many new scenarios were made."""
    made = 0
    for tenant, conversation in sorted(candidates):
        if tenant in rules.tenants:
            made += _settle(conn, tenant, conversation, rules)
    return made


def _settle(conn: Connection, tenant: str, conversation: str, rules: PracticeRules) -> int:
    key = (tenant, conversation)
    escalation = conn.execute(
        "SELECT decision_id, queue, dominant_emotion, COALESCE(occurred_at, decided_at), "
        "decided_at FROM decisions WHERE tenant_id = ? AND conversation_id = ? "
        "AND action = 'escalate' AND shadow = 0 ORDER BY decided_at LIMIT 1",
        key,
    ).fetchone()
    if escalation is not None:
        # What the customer said to the agent afterwards is not part of a scenario.
        conn.execute(
            "DELETE FROM practice_turns WHERE tenant_id = ? AND conversation_id = ? "
            "AND occurred_at > ?",
            (*key, escalation[3]),
        )
    conn.execute(
        "DELETE FROM practice_turns WHERE tenant_id = ? AND conversation_id = ? AND event_id "
        "NOT IN (SELECT event_id FROM practice_turns WHERE tenant_id = ? AND conversation_id = ? "
        "ORDER BY occurred_at DESC, event_id DESC LIMIT ?)",
        (*key, *key, rules.max_turns),
    )
    outcome = _outcome(conn, key, escalation is not None, rules)
    if outcome == "waiting":
        return 0
    made = 0
    if outcome == "qualifies":
        made = _make_scenario(conn, key, escalation)
    conn.execute("DELETE FROM practice_turns WHERE tenant_id = ? AND conversation_id = ?", key)
    conn.execute("DELETE FROM practice_openings WHERE tenant_id = ? AND conversation_id = ?", key)
    return made


def _outcome(conn: Connection, key: tuple[str, str], escalated: bool, rules: PracticeRules) -> str:
    """``qualifies``, ``cannot`` (it never will) or ``waiting``."""
    rating = conn.execute(
        "SELECT csat_score FROM turns WHERE tenant_id = ? AND conversation_id = ? "
        "AND kind = 'csat' ORDER BY occurred_at DESC LIMIT 1",
        key,
    ).fetchone()
    verdicts = {
        v
        for (v,) in conn.execute(
            "SELECT verdict FROM verdicts WHERE tenant_id = ? AND conversation_id = ?", key
        )
    }
    claimed = conn.execute(
        "SELECT 1 FROM claims WHERE tenant_id = ? AND conversation_id = ? LIMIT 1", key
    ).fetchone()
    if rating is not None and (rating[0] < rules.min_csat or not escalated):
        return "cannot"
    if verdicts and "useful" not in verdicts:
        return "cannot"
    if escalated and claimed and "useful" in verdicts and rating is not None:
        return "qualifies"
    return "waiting"


def _make_scenario(conn: Connection, key: tuple[str, str], escalation: tuple[Any, ...]) -> int:
    decision_id, queue, emotion, _, decided_at = escalation
    turns = conn.execute(
        "SELECT role, text FROM practice_turns WHERE tenant_id = ? AND conversation_id = ? "
        "ORDER BY occurred_at, event_id",
        key,
    ).fetchall()
    if not any(role == "customer" for role, _ in turns):
        return 0
    opening = conn.execute(
        "SELECT opening_line FROM practice_openings WHERE tenant_id = ? AND conversation_id = ? "
        "ORDER BY decision_id = ? DESC, decided_at LIMIT 1",
        (*key, decision_id),
    ).fetchone()
    reasons = [
        code
        for (code,) in conn.execute(
            "SELECT code FROM decision_reasons WHERE tenant_id = ? AND decision_id = ? "
            "ORDER BY position",
            (key[0], decision_id),
        )
    ]
    *texts, example = anonymise([text for _, text in turns] + [opening[0] if opening else ""])
    shown = [{"role": role, "text": text} for (role, _), text in zip(turns, texts, strict=True)]
    return conn.execute(
        "INSERT INTO practice_scenarios VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (
            key[0], scenario_id(*key), queue, emotion, ",".join(reasons),
            json.dumps(shown, ensure_ascii=False), example, decided_at,
        ),
    ).rowcount  # fmt: skip


def delete_expired(
    conn: Connection,
    now: float,
    rules: PracticeRules,
    default_days: int,
    tenant_days: Mapping[str, int],
) -> dict[str, int]:
    """Delete waiting text past ``pending_hours``, scenarios and shares past their
    retention and everything of tenants that opted out; returns deletions by table."""
    deleted = dict.fromkeys(PRACTICE_TABLES, 0)
    opted = not_in("tenant_id", len(rules.tenants))
    ages = {"practice_turns": "occurred_at", "practice_openings": "decided_at"}
    for table, column in ages.items():
        deleted[table] += conn.execute(
            f"DELETE FROM {table} WHERE {column} < ? OR {opted}",
            (now - rules.pending_hours * 3600, *rules.tenants),
        ).rowcount
    deleted["practice_scenarios"] += conn.execute(
        f"DELETE FROM practice_scenarios WHERE {opted}", tuple(rules.tenants)
    ).rowcount
    kept_days = {
        t: min(rules.retention_days, tenant_days.get(t, default_days)) for t in rules.tenants
    }
    for tenant, days in kept_days.items():
        deleted["practice_scenarios"] += conn.execute(
            "DELETE FROM practice_scenarios WHERE tenant_id = ? AND escalated_at < ?",
            (tenant, now - days * DAY_S),
        ).rowcount
    deleted["practice_shares"] = delete_expired_shares(conn, now, kept_days)
    return deleted


def list_scenarios(conn: Connection, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's scenarios, newest first, without their turns."""
    rows = conn.execute(
        "SELECT scenario_id, queue, dominant_emotion, reasons, turns, escalated_at "
        "FROM practice_scenarios WHERE tenant_id = ? ORDER BY escalated_at DESC, scenario_id",
        (tenant_id,),
    ).fetchall()
    return [
        {
            "scenario_id": sid,
            "queue": queue,
            "dominant_emotion": emotion,
            "reasons": [r for r in reasons.split(",") if r],
            "turn_count": len(json.loads(turns)),
        }
        for sid, queue, emotion, reasons, turns, _ in rows
    ]


def read_scenario(conn: Connection, tenant_id: str, scenario: str) -> dict[str, Any] | None:
    """One scenario with its turns up to the escalation and its example opening."""
    row = conn.execute(
        "SELECT scenario_id, queue, dominant_emotion, reasons, turns, example_opening "
        "FROM practice_scenarios WHERE tenant_id = ? AND scenario_id = ?",
        (tenant_id, scenario),
    ).fetchone()
    if row is None:
        return None
    sid, queue, emotion, reasons, turns, example = row
    return {
        "scenario_id": sid,
        "queue": queue,
        "dominant_emotion": emotion,
        "reasons": [r for r in reasons.split(",") if r],
        "turns": json.loads(turns),
        "example_opening": example,
    }
