"""The hub: who gets a decision, when, with which cursor; slow consoles; claim notices."""

from __future__ import annotations

import asyncio

from tests.unit.notification.support import NOW, claim, decision
from warmline.notification.board import Board, ClaimResult
from warmline.notification.cursor import decode_cursor
from warmline.notification.hub import CLOSE, Hub, HubSettings, Subscription
from warmline.notification.tokens import AgentScope
from warmline.v1 import escalation_pb2

BILLING = frozenset({"billing"})


def hub(board: Board, *, hold_s: float = 0.0, limit: int = 3, max_pending: int = 100) -> Hub:
    settings = HubSettings("supervisor", limit, hold_s, max_pending)
    return Hub(board, settings, clock=lambda: NOW)


def scope(agent: str, tenant: str = "acme") -> AgentScope:
    return AgentScope(tenant, agent, frozenset({"billing", "supervisor"}))


def drain(sub: Subscription) -> list[str]:
    out = []
    while not sub.pending.empty():
        item = sub.pending.get_nowait()
        payload = item.response.WhichOneof("payload")
        out.append(
            item.response.delivery.decision.conversation_id
            if payload == "delivery"
            else f"{payload}:{item.response.claimed.holder_agent_id}"
        )
    return out


def feed(
    board: Board, h: Hub, partition: int, offset: int, conversation: str, **kw: object
) -> None:
    record = board.apply_decision(
        partition, offset, decision(conversation, f"d-{conversation}", **kw)
    )  # type: ignore[arg-type]
    assert record is not None
    h.publish(record, 0.0)


async def test_a_resuming_console_gets_its_backlog_then_live_decisions_in_order() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    h = hub(board)
    feed(board, h, 0, 0, "a")
    feed(board, h, 1, 0, "b")
    feed(board, h, 0, 1, "c")
    sub = h.subscribe(scope("alice"), BILLING, {0: 1, 1: 0}, "grpc")
    feed(board, h, 1, 1, "d")
    items = [sub.pending.get_nowait() for _ in range(3)]
    assert [i.response.delivery.decision.conversation_id for i in items] == ["b", "c", "d"]
    # Each cursor resumes right after its own delivery.
    assert decode_cursor(items[0].response.delivery.cursor) == {0: 1, 1: 1}
    assert decode_cursor(items[1].response.delivery.cursor) == {0: 2, 1: 1}
    assert decode_cursor(items[2].response.delivery.cursor) == {0: 2, 1: 2}


async def test_other_tenants_and_queues_are_not_delivered() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    h = hub(board)
    sub = h.subscribe(scope("alice"), BILLING, None, "grpc")
    feed(board, h, 0, 0, "theirs", tenant="globex")
    feed(board, h, 0, 1, "general", queue="general")
    feed(board, h, 0, 2, "mine")
    assert drain(sub) == ["mine"]
    h.unsubscribe(sub)
    feed(board, h, 0, 3, "after")
    assert drain(sub) == [] and h.consoles() == 0


async def test_a_console_that_falls_too_far_behind_is_closed_not_buffered_forever() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    h = hub(board, max_pending=10)
    slow = h.subscribe(scope("alice"), BILLING, None, "grpc")
    for n in range(15):
        feed(board, h, 0, n, f"c{n}")
    items = [slow.pending.get_nowait() for _ in range(slow.pending.qsize())]
    assert items[-1] is CLOSE and len(items) == 11 and slow.closed
    assert h.consoles() == 0


async def test_an_exposed_agent_gets_an_intense_escalation_only_after_the_hold() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    board.apply_claim(claim("earlier", "alice", high_intensity=True, at=NOW - 10))
    h = hub(board, hold_s=0.05, limit=1)
    alice = h.subscribe(scope("alice"), BILLING, None, "grpc")
    bob = h.subscribe(scope("bob"), BILLING, None, "grpc")
    feed(board, h, 0, 0, "rough", priority=escalation_pb2.PRIORITY_URGENT)
    assert drain(bob) == ["rough"] and drain(alice) == []
    await asyncio.sleep(0.1)
    item = alice.pending.get_nowait()
    assert item.response.delivery.reoffer


async def test_when_everyone_is_exposed_nobody_waits() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    board.apply_claim(claim("earlier", "alice", high_intensity=True, at=NOW - 10))
    h = hub(board, hold_s=60, limit=1)
    alice = h.subscribe(scope("alice"), BILLING, None, "grpc")
    feed(board, h, 0, 0, "rough", abusive=True)
    assert drain(alice) == ["rough"]


async def test_a_claim_cancels_the_hold_and_is_announced_to_the_queue() -> None:
    board = Board(max_records=100, exposure_window_s=3600)
    board.apply_claim(claim("earlier", "alice", high_intensity=True, at=NOW - 10))
    h = hub(board, hold_s=0.05, limit=1)
    alice = h.subscribe(scope("alice"), BILLING, None, "grpc")
    bob = h.subscribe(scope("bob"), BILLING, None, "grpc")
    feed(board, h, 0, 0, "rough", priority=escalation_pb2.PRIORITY_HIGH)
    drain(bob)
    h.claimed(ClaimResult("d-rough", "acme", "bob", "d-rough", "rough", "billing"))
    await asyncio.sleep(0.1)
    assert drain(alice) == ["claimed:bob"]
    assert drain(bob) == ["claimed:bob"]
