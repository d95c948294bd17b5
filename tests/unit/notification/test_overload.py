"""Overload alerts: exposure over the window, thresholds, who is named, who is told;
teams (the agents who share a supervisor) as well as agents and queues."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.unit.notification.support import NOW, claim, decision
from warmline.common.metrics import NOTIFICATION_OVERLOAD_ALERTS
from warmline.notification.board import Board, Exposure
from warmline.notification.hub import Hub, HubSettings, Outgoing
from warmline.notification.overload import (
    OverloadPolicy,
    OverloadWatch,
    RaisedAlert,
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
    team_claims=5,
    team_agents_over=2,
)
URGENT = escalation_pb2.PRIORITY_URGENT


def supervised(by: dict[tuple[str, str], str]) -> Callable[[str, str], str | None]:
    """``supervisor_of`` for a tokens file naming these (tenant, agent) -> supervisor."""
    return lambda tenant, agent: by.get((tenant, agent))


def overloads(pending: asyncio.Queue[Outgoing]) -> list[notification_pb2.OverloadAlert]:
    """The overload alerts queued for a console (it may also have capacity counts)."""
    responses = [pending.get_nowait().response for _ in range(pending.qsize())]
    return [r.overload for r in responses if r.HasField("overload")]


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
    assert [a.measure for a in overloads(sam.pending)] == ["reveals"]
    assert overloads(general.pending) == [] and alice.pending.empty()
    later = h.subscribe(
        AgentScope("acme", "sue", frozenset({"*"})), frozenset({"supervisor"}), None, "sse"
    )
    assert [a.measure for a in overloads(later.pending)] == ["reveals"]
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
    assert [a.agent_id for a in overloads(sam)] == ["alice"]
    assert [a.agent_id for a in overloads(sue)] == [""]
    # Connecting later, each hears what still holds the same way.
    assert [a.agent_id for a in overloads(supervisor("sam"))] == ["alice"]
    assert [a.agent_id for a in overloads(supervisor("sue"))] == [""]
    h.close_all()


# sam supervises alice and carol, sue supervises dave; bob has no supervisor.
TEAMS = supervised({("acme", "alice"): "sam", ("acme", "carol"): "sam", ("acme", "dave"): "sue"})


TEAM = notification_pb2.OVERLOAD_SCOPE_TEAM


def of_teams(raised: list[RaisedAlert]) -> list[RaisedAlert]:
    return [a for a in raised if a.unnamed.scope == TEAM]


def team_findings(
    exposures: dict[tuple[str, str, str], Exposure],
) -> set[tuple[str, str, float]]:
    return {(f.team, f.measure, f.value) for f in findings(exposures, POLICY, TEAMS) if f.team}


def test_a_teams_claims_add_up_over_its_agents_and_every_queue_they_work() -> None:
    exposures = {
        ("acme", "billing", "alice"): Exposure(high_intensity_claims=2),
        ("acme", "general", "alice"): Exposure(high_intensity_claims=2),
        ("acme", "billing", "carol"): Exposure(high_intensity_claims=1),
        ("acme", "billing", "bob"): Exposure(high_intensity_claims=2),  # in no team
        ("acme", "billing", "dave"): Exposure(high_intensity_claims=2),
    }
    assert team_findings(exposures) == {("sam", "high_intensity_claims", 5)}
    (team,) = [f for f in findings(exposures, POLICY, TEAMS) if f.team]
    assert (team.scope, team.queue, team.agent_id, team.threshold) == ("team", "", "", 5)
    exposures[("acme", "billing", "carol")] = Exposure()
    assert team_findings(exposures) == set()  # 4 claims: below the team threshold


def test_a_team_counts_its_agents_past_an_agent_threshold_each_once() -> None:
    # alice is past the claims threshold in two queues: one agent over, not two.
    alice = {
        ("acme", "billing", "alice"): Exposure(high_intensity_claims=3),
        ("acme", "general", "alice"): Exposure(high_intensity_claims=3),
    }
    assert ("sam", "agents_over", 1) not in team_findings(alice)
    both = alice | {("acme", "general", "carol"): Exposure(reveals=2)}
    assert ("sam", "agents_over", 2) in team_findings(both)
    # bob (no supervisor) and dave (sue's team) are over too, but in no team of sam's.
    others = {
        ("acme", "billing", "alice"): Exposure(reveals=2),
        ("acme", "billing", "bob"): Exposure(reveals=2),
        ("acme", "billing", "dave"): Exposure(reveals=2),
    }
    assert team_findings(others) == set()


def test_without_supervisors_in_the_tokens_file_there_are_no_teams() -> None:
    busy = {("acme", "billing", "alice"): Exposure(high_intensity_claims=9)}
    assert [f for f in findings(busy, POLICY) if f.team] == []


def test_a_team_alert_names_no_one_and_is_raised_again_only_after_it_cleared() -> None:
    watch = OverloadWatch(POLICY, {"acme": "supervisors"}, TEAMS)
    over = {("acme", "billing", "alice"): Exposure(high_intensity_claims=5)}
    before = NOTIFICATION_OVERLOAD_ALERTS.labels("team")._value.get()
    team = of_teams(watch.check(over, NOW))
    assert len(team) == 1 and NOTIFICATION_OVERLOAD_ALERTS.labels("team")._value.get() == before + 1
    alert = team[0].for_viewer("sam")
    assert (alert.queue, alert.agent_id, alert.measure) == ("", "", "high_intensity_claims")
    assert alert.suggestion.startswith("Your team: 5 high-intensity contacts taken in the last 1 h")
    assert "breaks for the team" in alert.suggestion
    for shown in (alert, team[0].unnamed):
        assert not {"alice", "sam"} & set(str(shown).replace('"', " ").split())
    assert alert == team[0].unnamed  # nobody to name, whatever the tenant's setting
    assert not watch.check(over, NOW + 30)
    assert watch.check({}, NOW + 60) == []
    assert len(of_teams(watch.check(over, NOW + 90))) == 1


def test_two_teams_past_the_same_threshold_raise_alerts_with_their_own_ids() -> None:
    watch = OverloadWatch(POLICY, {}, TEAMS)
    both = {
        ("acme", "billing", "alice"): Exposure(high_intensity_claims=2),
        ("acme", "general", "carol"): Exposure(high_intensity_claims=3),
        ("acme", "billing", "dave"): Exposure(high_intensity_claims=5),
    }
    teams = of_teams(watch.check(both, NOW))
    assert sorted(a.own_supervisor or "" for a in teams) == ["sam", "sue"]
    assert len({a.unnamed.alert_id for a in teams}) == 2  # the record keeps both


async def test_a_team_alert_reaches_only_its_own_supervisors_consoles() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    h = Hub(board, HubSettings("supervisor", 3, 0.0, 100), clock=lambda: NOW)
    watch = OverloadWatch(POLICY, {}, TEAMS)
    h.active_alerts = watch.active

    def console(agent: str, covers: set[str], queues: set[str]) -> asyncio.Queue[Outgoing]:
        scope = AgentScope("acme", agent, frozenset(covers))
        return h.subscribe(scope, frozenset(queues), None, "sse").pending

    # sam covers the supervisor queue but not billing, where his team works.
    sam = console("sam", {"supervisor"}, {"supervisor"})
    sue = console("sue", {"*"}, {"supervisor"})  # covers everything, not her team
    sam_agent_console = console("sam", {"supervisor", "billing"}, {"billing"})

    def scopes(pending: asyncio.Queue[Outgoing]) -> list[int]:
        return [pending.get_nowait().response.overload.scope for _ in range(pending.qsize())]

    (team,) = of_teams(
        watch.check({("acme", "billing", "carol"): Exposure(high_intensity_claims=5)}, NOW)
    )
    assert h.overload(team) == 1
    assert scopes(sam) == [TEAM] and scopes(sam_agent_console) == []
    assert TEAM not in scopes(sue)
    # Connecting later, sam hears it again and sue still does not.
    assert TEAM in scopes(console("sam", {"supervisor"}, {"supervisor"}))
    assert TEAM not in scopes(console("sue", {"*"}, {"supervisor"}))
    h.close_all()
