"""An agent's own pause ("I need a minute"): what the board keeps, what the hub holds back."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from tests.unit.notification.support import NOW, claim, pause
from tests.unit.notification.test_hub import BILLING, feed, scope
from warmline.common.settings import NotificationSettings
from warmline.notification.board import Board, ClaimResult
from warmline.notification.hub import Hub, HubSettings, Subscription
from warmline.notification.tokens import AgentScope
from warmline.v1 import escalation_pb2

URGENT = escalation_pb2.PRIORITY_URGENT


def hub(board: Board, now: list[float]) -> Hub:
    return Hub(board, HubSettings("supervisor", 3, 0.0, 100), clock=lambda: now[0])


def kinds(sub: Subscription) -> list[str]:
    """Every response queued for the console: deliveries by conversation, the rest by kind."""
    out = []
    while not sub.pending.empty():
        response = sub.pending.get_nowait().response
        kind = response.WhichOneof("payload")
        if kind == "delivery":
            out.append(response.delivery.decision.conversation_id)
        elif kind == "pause":
            out.append(f"pause:{response.pause.paused}")
        elif kind == "capacity":
            out.append(f"capacity:{response.capacity.queue}={response.capacity.paused_agents}")
        else:
            out.append(str(kind))
    return out


def test_a_pause_ends_by_itself_or_when_the_agent_resumes() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    board.apply_pause(pause("alice", NOW + 300))
    assert board.pause("acme", "alice", NOW + 299) is not None
    assert board.pause("acme", "alice", NOW + 300) is None
    board.apply_pause(pause("alice", NOW + 300))
    assert board.apply_pause(pause("alice", NOW + 10, at=NOW + 10)) is None
    assert board.pause("acme", "alice", NOW + 11) is None


def test_paused_agents_are_counted_per_queue_of_their_token_never_across_tenants() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    board.apply_pause(pause("alice", NOW + 60, queues=("billing", "general")))
    board.apply_pause(pause("bob", NOW + 60))
    board.apply_pause(pause("gina", NOW + 60, tenant="globex", queues=("*",)))
    board.apply_pause(pause("carol", NOW + 5))
    assert board.paused_agents("acme", "billing", NOW + 10) == 2
    assert board.paused_agents("acme", "general", NOW + 10) == 1
    assert board.paused_agents("globex", "billing", NOW + 10) == 1
    assert board.paused_agents("acme", "billing", NOW + 61) == 0


async def test_a_paused_agent_gets_no_intense_offer_but_calm_ones_still_flow() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    now = [NOW]
    h = hub(board, now)
    alice = h.subscribe(scope("alice"), BILLING, None, "grpc")
    bob = h.subscribe(scope("bob"), BILLING, None, "grpc")
    h.paused("acme", "alice", board.apply_pause(pause("alice", NOW + 300)), ["billing"])
    feed(board, h, 0, 0, "rough", priority=URGENT)
    feed(board, h, 0, 1, "abusive", abusive=True)
    feed(board, h, 0, 2, "calm")
    assert kinds(alice) == ["pause:True", "calm"]
    assert kinds(bob) == ["rough", "abusive", "calm"]  # offered to another agent
    h.close_all()


async def test_every_offer_is_held_back_when_the_agent_chose_so_except_their_own() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    now = [NOW]
    h = hub(board, now)
    feed(board, h, 0, 0, "mine", priority=URGENT)
    board.apply_claim(claim("d-mine", "alice"))
    alice = h.subscribe(scope("alice"), BILLING, None, "grpc")
    assert kinds(alice) == ["mine"]
    paused = board.apply_pause(pause("alice", NOW + 300, all_offers=True))
    h.paused("acme", "alice", paused, ["billing"])
    feed(board, h, 0, 1, "calm")
    update = escalation_pb2.DECISION_ACTION_UPDATE
    feed(board, h, 0, 2, "mine", priority=URGENT, action=update)
    assert kinds(alice) == ["pause:True", "mine"]
    h.close_all()


async def test_when_the_pause_ends_what_is_still_open_and_untaken_is_offered() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    now = [NOW]
    h = hub(board, now)
    alice = h.subscribe(scope("alice"), BILLING, None, "grpc")
    h.paused("acme", "alice", board.apply_pause(pause("alice", NOW + 0.05)), ["billing"])
    feed(board, h, 0, 0, "rough", priority=URGENT)
    feed(board, h, 0, 1, "taken", priority=URGENT)
    board.apply_claim(claim("d-taken", "bob"))
    h.claimed(ClaimResult("d-taken", "acme", "bob", "d-taken", "taken", "billing"))
    assert kinds(alice) == ["pause:True", "claimed"]
    await asyncio.sleep(0.1)  # the pause ran out by itself
    now[0] = NOW + 1
    assert kinds(alice) == ["pause:False", "rough"]
    feed(board, h, 0, 2, "next", priority=URGENT)
    assert kinds(alice) == ["next"]


async def test_a_reconnecting_console_is_told_of_the_pause_and_its_backlog_skips_intense_ones() -> (
    None
):
    board = Board(max_records=100, exposure_window_s=3600)
    now = [NOW]
    h = hub(board, now)
    board.apply_pause(pause("alice", NOW + 300))
    feed(board, h, 0, 0, "rough", priority=URGENT)
    feed(board, h, 0, 1, "calm")
    resumed = h.subscribe(scope("alice"), BILLING, {0: 0}, "grpc")
    fresh = h.subscribe(scope("alice"), BILLING, None, "sse")
    assert kinds(resumed) == ["pause:True", "calm"]
    assert kinds(fresh) == ["pause:True", "calm"]
    h.paused("acme", "alice", board.apply_pause(pause("alice", NOW, at=NOW)), ["billing"])
    assert kinds(resumed) == ["pause:False", "rough", "calm"]
    h.close_all()


async def test_supervisors_see_how_many_paused_per_queue_never_who() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    now = [NOW]
    h = hub(board, now)
    sam = h.subscribe(
        AgentScope("acme", "sam", frozenset({"*"})),
        frozenset({"supervisor", "billing", "general"}),
        None,
        "sse",
    )
    assert kinds(sam) == ["capacity:billing=0", "capacity:general=0"]
    h.paused("acme", "alice", board.apply_pause(pause("alice", NOW + 300)), ["billing"])
    h.paused("acme", "bob", board.apply_pause(pause("bob", NOW + 300)), ["billing"])
    items = [sam.pending.get_nowait().response for _ in range(sam.pending.qsize())]
    assert [(r.capacity.queue, r.capacity.paused_agents) for r in items] == [
        ("billing", 1),
        ("billing", 2),
    ]
    assert not any(b"alice" in r.SerializeToString() for r in items)
    h.paused("acme", "alice", board.apply_pause(pause("alice", NOW, at=NOW)), ["billing"])
    assert kinds(sam) == ["capacity:billing=1"]
    h.close_all()


async def test_a_console_of_the_supervisor_queue_alone_sees_the_queues_its_token_names() -> None:
    # Overload alerts reach it by its token; so do the paused agents' counts.
    board = Board(max_records=100, exposure_window_s=3600)
    now = [NOW]
    h = hub(board, now)
    sue = h.subscribe(
        AgentScope("acme", "sue", frozenset({"supervisor", "billing", "general"})),
        frozenset({"supervisor"}),
        None,
        "sse",
    )
    every = h.subscribe(
        AgentScope("acme", "sam", frozenset({"*"})), frozenset({"supervisor"}), None, "sse"
    )
    narrowed = h.subscribe(
        AgentScope("acme", "gil", frozenset({"supervisor", "billing", "general"})),
        frozenset({"supervisor", "general"}),
        None,
        "sse",
    )
    agent = h.subscribe(scope("bob"), BILLING, None, "sse")
    assert kinds(sue) == ["capacity:billing=0", "capacity:general=0"]
    assert kinds(narrowed) == ["capacity:general=0"]  # what it subscribed to, as before
    assert kinds(every) == kinds(agent) == []  # a token for every queue names none
    h.paused("acme", "alice", board.apply_pause(pause("alice", NOW + 300)), ["billing"])
    assert kinds(sue) == ["capacity:billing=1"]
    assert kinds(every) == kinds(narrowed) == kinds(agent) == []
    h.close_all()


def test_the_default_pause_cannot_exceed_the_bound() -> None:
    with pytest.raises(ValidationError, match="PAUSE_DEFAULT_S: at most PAUSE_MAX_S"):
        NotificationSettings(pause_default_s=600, pause_max_s=300)


async def test_with_every_agent_paused_the_escalation_still_rises_to_the_supervisor() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    now = [NOW]
    h = hub(board, now)
    alice = h.subscribe(scope("alice"), BILLING, None, "grpc")
    sam = h.subscribe(
        AgentScope("acme", "sam", frozenset({"*"})), frozenset({"supervisor"}), None, "grpc"
    )
    h.paused("acme", "alice", board.apply_pause(pause("alice", NOW + 300)), ["billing"])
    feed(board, h, 0, 0, "rough", priority=URGENT)
    assert kinds(alice) == ["pause:True"]
    due = list(board.due(NOW + 1_000, 60, 180))
    assert [(e.escalation_id, up) for e, up in due] == [("d-rough", True)]
    assert h.reoffer(due[0][0], to_supervisor=True) == 1
    assert kinds(sam) == ["rough"]
    h.close_all()
