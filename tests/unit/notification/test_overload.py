"""Overload alerts: exposure over the window, thresholds, who is named, who is told."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.unit.notification.support import NOW, claim, decision
from warmline.notification.board import Board, Exposure
from warmline.notification.hub import Hub, HubSettings, Outgoing
from warmline.notification.overload import (
    OverloadPolicy,
    OverloadWatch,
    findings,
    names_agent_to,
)
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


def supervised(by: dict[tuple[str, str], str]) -> Callable[[str, str], str | None]:
    """``supervisor_of`` for a tokens file naming these (tenant, agent) -> supervisor."""
    return lambda tenant, agent: by.get((tenant, agent))


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


def test_an_agent_is_named_only_to_their_own_supervisor_by_default() -> None:
    assert names_agent_to("own_supervisor", "sam", "sam")
    assert not names_agent_to("own_supervisor", "sam", "sue")  # another supervisor
    assert not names_agent_to("own_supervisor", None, "sam")  # no supervisor: no one
    assert names_agent_to("supervisors", None, "sue")
    assert not names_agent_to("nobody", "sam", "sam")


def test_an_alert_is_raised_once_while_it_holds_and_unnamed_without_a_supervisor() -> None:
    watch = OverloadWatch(POLICY, {})
    over = {("acme", "billing", "alice"): Exposure(high_intensity_claims=3)}
    raised = watch.check(over, NOW)
    shown = [a.for_viewer("sam") for a in raised]
    assert [(a.scope, a.agent_id, a.measure) for a in shown] == [
        (notification_pb2.OVERLOAD_SCOPE_AGENT, "", "high_intensity_claims")
    ]
    assert "alice" not in str(shown[0]) and "alice" not in str(raised[0].unnamed)
    assert shown[0].suggestion.startswith("An agent on billing: 3 high-intensity contacts")
    assert "break" in shown[0].suggestion
    over[("acme", "billing", "alice")].high_intensity_claims = 4
    assert watch.check(over, NOW + 30) == []
    assert len(watch.active("acme")) == 1 and watch.active("globex") == []
    assert watch.check({}, NOW + 60) == [] and watch.active("acme") == []
    assert len(watch.check(over, NOW + 90)) == 1  # raised again after it cleared


def test_the_own_supervisor_sees_the_name_and_every_other_supervisor_does_not() -> None:
    watch = OverloadWatch(POLICY, {}, supervised({("acme", "alice"): "sam"}))
    (raised,) = watch.check({("acme", "billing", "alice"): Exposure(reveals=2)}, NOW)
    mine = raised.for_viewer("sam")
    assert mine.agent_id == "alice" and mine.suggestion.startswith("alice on billing")
    other = raised.for_viewer("sue")
    assert other.agent_id == "" and other.suggestion.startswith("An agent on billing")
    assert "alice" not in str(raised.unnamed)  # what the record gets
    assert mine.alert_id == other.alert_id == raised.unnamed.alert_id


def test_a_tenant_that_chose_so_names_the_agent_to_supervisors_or_to_nobody() -> None:
    supervisors = {("acme", "alice"): "sam", ("globex", "gina"): "gus"}
    watch = OverloadWatch(
        POLICY, {"acme": "supervisors", "globex": "nobody"}, supervised(supervisors)
    )
    over = {
        ("acme", "billing", "alice"): Exposure(reveals=2),
        ("globex", "billing", "gina"): Exposure(reveals=2),
    }
    raised = {a.tenant_id: a for a in watch.check(over, NOW)}
    assert raised["acme"].for_viewer("sue").agent_id == "alice"
    assert raised["acme"].for_viewer("sue").suggestion.startswith("alice")
    assert raised["globex"].for_viewer("gus").agent_id == ""  # not even their own


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


async def test_each_supervisor_console_gets_the_alert_named_or_not_for_its_agent() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    h = Hub(board, HubSettings("supervisor", 3, 0.0, 100), clock=lambda: NOW)
    watch = OverloadWatch(POLICY, {}, supervised({("acme", "alice"): "sam"}))
    h.active_alerts = watch.active

    def supervisor(agent: str) -> asyncio.Queue[Outgoing]:
        scope = AgentScope("acme", agent, frozenset({"supervisor", "billing"}))
        return h.subscribe(scope, frozenset({"supervisor"}), None, "sse").pending

    sam, sue = supervisor("sam"), supervisor("sue")
    (alert,) = watch.check({("acme", "billing", "alice"): Exposure(reveals=2)}, NOW)
    assert h.overload(alert) == 2
    assert sam.get_nowait().response.overload.agent_id == "alice"
    assert sue.get_nowait().response.overload.agent_id == ""
    # Connecting later, each hears what still holds the same way.
    assert supervisor("sam").get_nowait().response.overload.agent_id == "alice"
    assert supervisor("sue").get_nowait().response.overload.agent_id == ""
    h.close_all()
