"""Practice an agent chose to share with their supervisor: the one part of a
practice round the record keeps, and only while the agent wants it kept.

A review is kept nowhere (:mod:`warmline.record.practice_http`). An agent may
share one **round** (the opening they wrote, its checks, the scenario it was
for) or a **summary** of rounds (how many, and how many passed each check: no
words), and take either back, which deletes it. A share goes to the agent's own
supervisor when the agent tokens file names one (kept with the share: a later
change of supervisor does not pass it on), and only they read it; otherwise to
the supervisors of the queues practised: a token covering the supervisor queue
sees such a share when it covers every queue in it. What a supervisor gets is shares one by one, newest first: nothing here
totals, ranks or compares agents, and nothing reads the agent's emotions (the
checks are of the reply's words). Shares age out with the scenarios
(:func:`warmline.record.practice.delete_expired`). Every function runs inside
the caller's transaction.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from warmline.practice.checks import CHECKS, Check
from warmline.record.database import DAY_S, Connection

#: The most shares one listing returns, newest first.
MAX_LISTED = 200

Kind = Literal["round", "summary"]


@dataclass(frozen=True, slots=True)
class Share:
    """What an agent shares: its kind, the queues practised and what is shown."""

    share_id: str
    agent_id: str
    kind: Kind
    queues: tuple[str, ...]
    shown: dict[str, Any]
    shared_at: float
    #: The agent's own supervisor it went to; None: the supervisors of its queues.
    supervisor: str | None = None

    @property
    def shared_with(self) -> str:
        """To whom it went, as the agent is told."""
        if self.supervisor is not None:
            return f"your supervisor {self.supervisor}"
        return f"the supervisors of {', '.join(self.queues)}"

    def as_json(self) -> dict[str, Any]:
        """The share as the API answers it."""
        return {
            "share_id": self.share_id,
            "agent_id": self.agent_id,
            "kind": self.kind,
            "queues": list(self.queues),
            "supervisor": self.supervisor,
            "shared_with": self.shared_with,
            "shared_at": datetime.fromtimestamp(self.shared_at, UTC).isoformat(),
            self.kind: self.shown,
        }


def new_share_id() -> str:
    """A share's id: random, so sharing the same round twice makes two shares."""
    return secrets.token_hex(10)


def round_share(
    agent_id: str,
    supervisor: str | None,
    scenario: dict[str, Any],
    reply: str,
    checks: Sequence[Check],
    caring: float | None,
    now: float,
) -> Share:
    """One round: the scenario it was for, the agent's opening and its checks (of the
    words; nothing about how the agent feels)."""
    shown = {
        "scenario_id": scenario["scenario_id"],
        "queue": scenario["queue"],
        "reasons": scenario["reasons"],
        "reply": reply,
        "checks": [{"check": c.name, "passed": c.passed, "note": c.note} for c in checks],
        "passed": sum(c.passed for c in checks),
        "of": len(CHECKS),
        "caring": caring,
    }
    return Share(new_share_id(), agent_id, "round", (scenario["queue"],), shown, now, supervisor)


def summary_share(
    agent_id: str,
    supervisor: str | None,
    rounds: Sequence[tuple[dict[str, Any], Sequence[Check]]],
    now: float,
) -> Share:
    """Several rounds as counts: how many, and how many passed each check; no words."""
    passed = dict.fromkeys(CHECKS, 0)
    for _, checks in rounds:
        for check in checks:
            passed[check.name] += check.passed
    shown = {
        "rounds": len(rounds),
        "scenarios": len({scenario["scenario_id"] for scenario, _ in rounds}),
        "checks": [{"check": name, "passed": count} for name, count in passed.items()],
    }
    queues = tuple(sorted({scenario["queue"] for scenario, _ in rounds}))
    return Share(new_share_id(), agent_id, "summary", queues, shown, now, supervisor)


def insert_share(conn: Connection, tenant_id: str, share: Share) -> None:
    """Keep ``share`` of the tenant until it is taken back or ages out."""
    conn.execute(
        "INSERT INTO practice_shares (tenant_id, share_id, agent_id, kind, queues, shown, "
        "shared_at, supervisor_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant_id, share.share_id, share.agent_id, share.kind, ",".join(share.queues),
            json.dumps(share.shown, ensure_ascii=False), share.shared_at, share.supervisor,
        ),
    )  # fmt: skip


def delete_share(conn: Connection, tenant_id: str, agent_id: str, share_id: str) -> bool:
    """Take back one of the agent's own shares; False when they have no such share."""
    return bool(
        conn.execute(
            "DELETE FROM practice_shares WHERE tenant_id = ? AND agent_id = ? AND share_id = ?",
            (tenant_id, agent_id, share_id),
        ).rowcount
    )


def delete_expired_shares(conn: Connection, now: float, kept_days: Mapping[str, int]) -> int:
    """Delete shares older than their tenant's ``kept_days``, and every share of a
    tenant not in it (one that left practice); returns how many."""
    deleted = 0
    tenants = [t for (t,) in conn.execute("SELECT DISTINCT tenant_id FROM practice_shares")]
    for tenant in tenants:
        days = kept_days.get(tenant)
        if days is None:
            cursor = conn.execute("DELETE FROM practice_shares WHERE tenant_id = ?", (tenant,))
        else:
            cursor = conn.execute(
                "DELETE FROM practice_shares WHERE tenant_id = ? AND shared_at < ?",
                (tenant, now - days * DAY_S),
            )
        deleted += cursor.rowcount
    return deleted


def shares_of(conn: Connection, tenant_id: str, agent_id: str) -> list[Share]:
    """What the agent shares now, newest first."""
    return _listed(conn, "tenant_id = ? AND agent_id = ?", (tenant_id, agent_id), lambda _: True)


def shared_with(
    conn: Connection,
    tenant_id: str,
    viewer_id: str,
    covers: Callable[[str], bool] | None,
) -> list[Share]:
    """What agents share with ``viewer_id``, newest first: what their agents shared
    with them as their own supervisor and, for a supervisor's token that ``covers``
    a queue (None: not a supervisor's token), the shares of the tenant to the
    supervisors of queues it covers every one of; never the viewer's own."""

    def shown_to(share: Share) -> bool:
        if share.supervisor is not None:
            return share.supervisor == viewer_id
        return covers is not None and all(covers(q) for q in share.queues)

    return _listed(conn, "tenant_id = ? AND agent_id <> ?", (tenant_id, viewer_id), shown_to)


def _listed(
    conn: Connection,
    where: str,
    params: tuple[str, ...],
    shown_to: Callable[[Share], bool],
) -> list[Share]:
    rows = conn.execute(
        "SELECT share_id, agent_id, kind, queues, shown, shared_at, supervisor_id "
        f"FROM practice_shares WHERE {where} ORDER BY shared_at DESC, share_id",
        params,
    )
    found = []
    for share_id, agent_id, kind, queues, shown, shared_at, supervisor in rows:
        share = Share(
            share_id,
            agent_id,
            kind,
            tuple(queues.split(",")),
            json.loads(shown),
            shared_at,
            supervisor,
        )
        if shown_to(share):
            found.append(share)
            if len(found) == MAX_LISTED:
                break
    return found
