"""Overload alerts: exposure over the window, thresholds, who is named, who is told."""

from __future__ import annotations

from tests.unit.notification.support import NOW, claim, decision
from warmline.notification.board import Board, Exposure
from warmline.notification.hub import Hub, HubSettings
from warmline.notification.overload import OverloadPolicy, OverloadWatch, findings
from warmline.notification.tokens import AgentScope
from warmline.v1 import escalation_pb2, notification_pb2

POLICY = OverloadPolicy(
    window_s=3600,
    agent_claims=3,
    agent_reveals=2,
    agent_minutes=30,
    queue_claims=10,
    queue_agents_over=2,
)
URGENT = escalation_pb2.PRIORITY_URGENT


def reveal(agent: str, at: float, queue: str = "billing") -> notification_pb2.AgentAction:
    action = notification_pb2.AgentAction(
        action_id=f"{agent}-revealed-{at}",
        tenant_id="acme",
        agent_id=agent,
        revealed=notification_pb2.Revealed(escalation_id="e", queue=queue),
    )
    action.acted_at.FromNanoseconds(int(at * 1e9))
    return action


def test_exposure_counts_claims_reveals_and_time_spent_within_the_window() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    board.apply_decision(0, 0, decision("c1", "d1", priority=URGENT, at=NOW - 900))
    board.apply_claim(claim("d1", "alice", high_intensity=True, at=NOW - 600))
    ended = escalation_pb2.DECISION_ACTION_RESOLVED
    board.apply_decision(0, 1, decision("c1", "d1-end", action=ended, at=NOW - 300))
    board.apply_decision(0, 2, decision("c2", "d2", priority=URGENT, at=NOW - 120))
    board.apply_claim(claim("d2", "alice", high_intensity=True, at=NOW - 60))
    board.apply_claim(claim("old", "bob", high_intensity=True, at=NOW - 7200))
    board.apply_reveal(reveal("alice", NOW - 30))
    board.apply_reveal(reveal("bob", NOW - 5000))

    exposures = board.exposures(NOW, 3600)

    assert exposures == {
        ("acme", "billing", "alice"): Exposure(high_intensity_claims=2, reveals=1, seconds=360.0)
    }


def test_each_agent_is_held_against_the_thresholds_alone_and_a_queue_counts_agents() -> None:
    calm = {("acme", "billing", "bob"): Exposure(high_intensity_claims=2)}
    assert findings(calm, POLICY) == []  # below every threshold, whatever others did
    busy = {
        ("acme", "billing", "alice"): Exposure(high_intensity_claims=3),
        ("acme", "billing", "carol"): Exposure(reveals=2, seconds=1800),
        **calm,
    }
    found = {(f.agent_id, f.measure, f.value) for f in findings(busy, POLICY)}
    assert found == {
        ("alice", "high_intensity_claims", 3),
        ("carol", "reveals", 2),
        ("carol", "minutes", 30.0),
        ("", "agents_over", 2),
    }


def test_an_alert_is_raised_once_while_it_holds_and_names_nobody_by_default() -> None:
    watch = OverloadWatch(POLICY, {})
    over = {("acme", "billing", "alice"): Exposure(high_intensity_claims=3)}
    raised = watch.check(over, NOW)
    assert [(a.scope, a.agent_id, a.measure) for a in raised] == [
        (notification_pb2.OVERLOAD_SCOPE_AGENT, "", "high_intensity_claims")
    ]
    assert "alice" not in str(raised[0])
    assert raised[0].suggestion.startswith("An agent on billing: 3 high-intensity contacts")
    assert "break" in raised[0].suggestion
    over[("acme", "billing", "alice")].high_intensity_claims = 4
    assert watch.check(over, NOW + 30) == []
    assert len(watch.active("acme")) == 1 and watch.active("globex") == []
    assert watch.check({}, NOW + 60) == [] and watch.active("acme") == []
    assert len(watch.check(over, NOW + 90)) == 1  # raised again after it cleared


def test_a_tenant_that_chose_so_names_the_agent_to_supervisors() -> None:
    watch = OverloadWatch(POLICY, {"acme": "supervisors"})
    over = {
        ("acme", "billing", "alice"): Exposure(reveals=2),
        ("globex", "billing", "gina"): Exposure(reveals=2),
    }
    named = {a.tenant_id: a for a in watch.check(over, NOW)}
    assert named["acme"].agent_id == "alice" and named["acme"].suggestion.startswith("alice")
    assert named["globex"].agent_id == ""


async def test_alerts_reach_only_supervisor_consoles_covering_the_queue() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    h = Hub(board, HubSettings("supervisor", 3, 0.0, 100), clock=lambda: NOW)
    watch = OverloadWatch(POLICY, {})
    h.active_alerts = watch.active
    sam = h.subscribe(
        AgentScope("acme", "sam", frozenset({"*"})), frozenset({"supervisor"}), None, "sse"
    )
    general = h.subscribe(
        AgentScope("acme", "gus", frozenset({"supervisor", "general"})),
        frozenset({"supervisor"}),
        None,
        "sse",
    )
    alice = h.subscribe(
        AgentScope("acme", "alice", frozenset({"billing"})), frozenset({"billing"}), None, "sse"
    )
    for alert in watch.check({("acme", "billing", "alice"): Exposure(reveals=2)}, NOW):
        assert h.overload(alert) == 1
    assert sam.pending.get_nowait().response.HasField("overload")
    assert general.pending.empty() and alice.pending.empty()
    later = h.subscribe(
        AgentScope("acme", "sue", frozenset({"*"})), frozenset({"supervisor"}), None, "sse"
    )
    assert later.pending.get_nowait().response.overload.measure == "reveals"
    h.close_all()
