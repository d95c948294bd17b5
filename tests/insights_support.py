"""A hand-built record for the insights' tests: rows written straight into the
tables, so each expected figure can be worked out by hand.

:func:`floor` builds one day of tenant ``acme`` (and some of ``globex``, which no
acme figure may include), all in the hour from :data:`T0` (or another ``t0``):

- billing: 6 conversations, two customer turns each (negativity 0.2 and 0.8,
  distress 0.1 and 0.3), escalated for ``sustained_negativity``; 5 claimed 30 s
  after, all resolved 600 s after; one judged a false alarm, the others useful;
  each rated 2 after the escalation;
- general: 2 conversations, two turns each (negativity 0.6), escalated for
  ``explicit_request``; too few to show;
- never escalated: 5 conversations, one turn each (negativity 0.1), each rated 5;
  one has a shadow escalation to billing, which no figure counts;
- overload alerts: billing 4 about the queue and 2 about an agent; general 1
  about an agent.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from tests.support import LoopThread
from warmline.notification.tokens import AgentDirectory
from warmline.record.http_api import AuditHttpApi
from warmline.record.store import RecordStore, database_path

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp()
DAY_S = 86_400.0
#: The agent of every claim and verdict: no insight may name them.
AGENT = "agent-alice-7"


class Floor:
    """Writes rows of one tenant into the record's tables."""

    def __init__(self, conn: sqlite3.Connection, tenant: str = "acme") -> None:
        self.conn = conn
        self.tenant = tenant
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n}"

    def turn(
        self,
        conversation: str,
        at: float,
        negativity: float | None = None,
        distress: float = 0.0,
        csat: int | None = None,
    ) -> str:
        """A customer message with its signals, or a CSAT event (``csat``); its event id."""
        kind = "csat" if csat is not None else "message"
        scored = negativity is not None
        event_id = self._id("e")
        self.conn.execute(
            "INSERT INTO turns (tenant_id, event_id, conversation_id, customer_id, channel, "
            "role, kind, customer_tier, language, occurred_at, score_status, model_version, "
            "taxonomy_version, negativity, distress, predicted_labels, context_turns, "
            "repeat_similarity, csat_score) VALUES (?, ?, ?, ?, 'chat', 'customer', ?, "
            "'standard', 'en', ?, ?, 'm', 't', ?, ?, '', 0, 0, ?)",
            (self.tenant, event_id, conversation, f"cust-{conversation}", kind, at,
             "scored" if scored else "not_scored", negativity,
             distress if scored else None, csat),
        )  # fmt: skip
        return event_id

    def decision(
        self,
        conversation: str,
        at: float,
        queue: str,
        action: str = "escalate",
        reasons: tuple[str, ...] = (),
        *,
        shadow: bool = False,
        policy_version: str = "p1",
        priority: str = "high",
        trigger: str = "e",
    ) -> str:
        """A decision with its reasons; its id."""
        decision_id = self._id("d")
        self.conn.execute(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, 'anger', ?, 'm', "
            "?, 0, ?, 'chat', 'standard', 0, 0, 30, NULL, NULL, NULL, ?)",
            (self.tenant, decision_id, conversation, f"cust-{conversation}", action, queue,
             priority, policy_version, trigger, int(shadow), at),
        )  # fmt: skip
        for position, code in enumerate(reasons):
            self.conn.execute(
                "INSERT INTO decision_reasons VALUES (?, ?, ?, ?, 'why')",
                (self.tenant, decision_id, position, code),
            )
        return decision_id

    def claim(self, decision_id: str, conversation: str, queue: str, at: float) -> None:
        """:data:`AGENT` claims the decision."""
        self.conn.execute(
            "INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (self.tenant, self._id("a"), decision_id, decision_id, conversation, queue,
             AGENT, at),
        )  # fmt: skip

    def verdict(self, decision_id: str, conversation: str, verdict: str, at: float) -> None:
        """:data:`AGENT` judges the decision."""
        self.conn.execute(
            "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
            (self.tenant, self._id("f"), decision_id, conversation, f"cust-{conversation}",
             AGENT, verdict, at),
        )  # fmt: skip

    def overload_alert(self, queue: str, scope: str, at: float) -> None:
        """An overload alert about ``queue`` or one agent in it."""
        self.conn.execute(
            "INSERT INTO overload_alerts VALUES (?, ?, ?, ?, 'reveals', 4, 3, 7200, ?)",
            (self.tenant, self._id("o"), queue, scope, at),
        )


def floor(path: Path, t0: float = T0) -> Path:
    """The record described in the module's docstring, at ``path``, in the hour from ``t0``."""
    store = RecordStore(path)
    try:
        for tenant in ("acme", "globex"):
            _day(Floor(store.conn, tenant), t0)
    finally:
        store.close()
    return path


@dataclass(frozen=True)
class InsightsDoor:
    """Where a record HTTP door serving :func:`floor` listens."""

    http_base: str


@contextmanager
def insights_door(data_dir: Path, tokens: AgentDirectory) -> Iterator[InsightsDoor]:
    """The record's HTTP application on a free port over :func:`floor` of the last
    hour, suppressing groups under 5 conversations."""
    database = floor(database_path(data_dir), time.time() - 3_000)
    host = LoopThread()

    async def start() -> tuple[web.AppRunner, int]:
        runner = web.AppRunner(AuditHttpApi(database, tokens).app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, runner.addresses[0][1]

    runner, port = host.run(start())
    try:
        yield InsightsDoor(f"http://127.0.0.1:{port}")
    finally:
        host.run(runner.cleanup())
        host.close()


def _day(f: Floor, t0: float) -> None:
    at = t0 + 600
    for n in range(6):
        c = f"billing-{n}"
        f.turn(c, at, 0.2, 0.1)
        f.turn(c, at + 60, 0.8, 0.3)
        d = f.decision(c, at + 120, "billing", reasons=("sustained_negativity",))
        if n < 5:
            f.claim(d, c, "billing", at + 150)
        f.decision(c, at + 720, "billing", "resolved")
        f.verdict(d, c, "false_alarm" if n == 0 else "useful", at + 800)
        f.turn(c, at + 900, csat=2)
    for n in range(2):
        c = f"general-{n}"
        f.turn(c, at, 0.6)
        f.turn(c, at + 60, 0.6)
        f.decision(c, at + 120, "general", reasons=("explicit_request",))
    for n in range(5):
        c = f"calm-{n}"
        f.turn(c, at, 0.1)
        f.turn(c, at + 900, csat=5)
        if n == 0:
            f.decision(c, at + 100, "billing", reasons=("sustained_negativity",), shadow=True)
    for scope in ("queue",) * 4 + ("agent",) * 2:
        f.overload_alert("billing", scope, at + 300)
    f.overload_alert("general", "agent", at + 300)
