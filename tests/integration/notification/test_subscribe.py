"""Consoles on the real broker: routing by tenant and queue, resume, scope, heartbeats."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from tests.integration.notification.conftest import Console, decision, publish
from tests.support import read_topic, wait_until
from warmline.v1 import deadletter_pb2, escalation_pb2

pytestmark = pytest.mark.integration


async def test_a_console_sees_its_queues_of_its_tenant_only_and_never_shadow_decisions(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification()
    bob = Console(replica.client("bob"), ["billing"])
    consoles.append(bob)
    await bob.wait_subscribed()
    await publish(
        replica.settings,
        [
            decision("b-1", "billing"),
            decision("g-1", "general"),
            decision("other-tenant", "billing", tenant="globex"),
            decision("shadowed", "billing", shadow=True),
            decision("b-2", "billing"),
        ],
    )
    delivered = await bob.wait_for(2)
    await bob.quiet(1.0)
    assert sorted(bob.conversations()) == ["b-1", "b-2"]  # order holds per conversation only
    assert all(d.cursor.startswith("v1.") and not d.reoffer for d in delivered)
    assert delivered[0].decision.opening_line and delivered[0].decision.reasons


async def test_a_resumed_console_gets_what_it_missed_and_nothing_twice(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification()
    settings = replica.settings
    first = Console(replica.client("bob"), ["billing"])
    await first.wait_subscribed()
    await publish(settings, [decision("c-1"), decision("c-2")])
    got = await first.wait_for(2)
    cursor_after_first = got[0].cursor
    missed = got[1].decision.conversation_id
    await first.close()
    await publish(settings, [decision("c-3")])

    resumed = Console(replica.client("bob"), ["billing"], cursor=cursor_after_first)
    consoles.append(resumed)
    await resumed.wait_for(2)
    await publish(settings, [decision("c-4")])
    await resumed.wait_for(3)
    await resumed.quiet(1.0)
    assert resumed.conversations() == [missed, "c-3", "c-4"]


async def test_a_new_console_without_cursor_gets_the_open_unclaimed_escalations(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification()
    await publish(
        replica.settings,
        [
            decision("open-1"),
            decision("closed-1"),
            decision(
                "closed-1", action=escalation_pb2.DECISION_ACTION_RESOLVED, trigger="closed-1-end"
            ),
            decision("open-2"),
        ],
    )
    await asyncio.to_thread(
        wait_until, lambda: sum(replica.service.board.positions.values()) >= 4, 15, "feed"
    )
    carol = Console(replica.client("carol"), ["billing"])
    consoles.append(carol)
    snapshot = await carol.wait_for(2)
    await carol.quiet(0.5)
    assert carol.conversations() == ["open-1", "open-2"]  # the resolved one is not offered
    assert [bool(d.cursor) for d in snapshot] == [False, True]
    held = await replica.client("carol").claim(snapshot[0].decision.decision_id)
    assert held.granted and held.holder_agent_id == "carol"

    late = Console(replica.client("bob"), ["billing"])
    consoles.append(late)
    await late.wait_for(1)
    await late.quiet(1.0)
    assert late.conversations() == ["open-2"]


@pytest.mark.parametrize(
    ("agent", "token_override", "queues", "tenant", "cursor", "code", "says"),
    [
        ("bob", None, ["billing"], "globex", "", grpc.StatusCode.PERMISSION_DENIED, "tenant"),
        ("bob", None, ["general"], "", "", grpc.StatusCode.PERMISSION_DENIED, "general"),
        ("bob", "no-such-token", ["billing"], "", "", grpc.StatusCode.UNAUTHENTICATED, "token"),
        ("bob", None, ["billing"], "", "v0.zzz", grpc.StatusCode.INVALID_ARGUMENT, "cursor"),
        ("bob", None, ["billing"], "", "v1.0:\u00b9", grpc.StatusCode.INVALID_ARGUMENT, "cursor"),
        (
            "bob",
            None,
            ["billing"],
            "",
            "v1.0:" + "9" * 5000,
            grpc.StatusCode.INVALID_ARGUMENT,
            "cursor",
        ),
        ("gina", None, [], "", "", grpc.StatusCode.INVALID_ARGUMENT, "queue"),
    ],
)
async def test_subscriptions_outside_the_token_scope_are_refused(
    make_notification: Any,
    agent: str,
    token_override: str | None,
    queues: list[str],
    tenant: str,
    cursor: str,
    code: grpc.StatusCode,
    says: str,
) -> None:
    replica = make_notification()
    client = replica.client(agent)
    if token_override is not None:
        from warmline.client.console import ConsoleClient

        client = ConsoleClient(replica.target, token_override, agent)
    try:
        call = client.subscribe(queues, tenant_id=tenant, resume_cursor=cursor)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in call:
                pass
        assert refused.value.code() == code
        assert says in (refused.value.details() or "")
    finally:
        await client.close()


async def test_an_agent_cannot_act_as_another_agent(make_notification: Any) -> None:
    replica = make_notification()
    from warmline.client.console import ConsoleClient

    impostor = ConsoleClient(replica.target, "token-of-bob", agent_id="alice")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in impostor.subscribe(["billing"]):
                pass
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await impostor.close()


async def test_an_idle_stream_carries_heartbeats(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification(heartbeat_s=0.3)
    idle = Console(replica.client("bob"), ["billing"])
    consoles.append(idle)
    await idle.quiet(1.5)
    beats = [r for r in idle.received if r.WhichOneof("payload") == "heartbeat"]
    assert len(beats) >= 2
    assert all(b.heartbeat.sent_at.seconds > 0 for b in beats)


async def test_an_undecodable_decision_is_dead_lettered_and_the_next_one_delivered(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification()
    bob = Console(replica.client("bob"), ["billing"])
    consoles.append(bob)
    await publish(replica.settings, [], raw=[b"\xff\xfe not protobuf"])
    await publish(replica.settings, [decision("after-poison")])
    await bob.wait_for(1)
    assert bob.conversations() == ["after-poison"]
    settings = replica.settings
    letters = await read_topic(
        settings.kafka.bootstrap_servers, settings.topics.name("deadletter"), 1
    )
    letter = deadletter_pb2.DeadLetter.FromString(letters[0].value or b"")
    assert letter.consumer == "notification" and letter.reason == "undecodable"
    assert letter.original_value == b"\xff\xfe not protobuf"


async def test_a_burst_of_reconnecting_consoles_is_served_in_full(make_notification: Any) -> None:
    # After a replica restart every console reconnects at once; gRPC's default
    # would cancel calls beyond 1,000 waiting to be picked up.
    replica = make_notification()
    shared = replica.client("bob")
    calls = [shared.subscribe(["billing"]) for _ in range(1_500)]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.initial_metadata() for c in calls)), 60)
        await publish(replica.settings, [decision("burst")])
        firsts = await asyncio.wait_for(asyncio.gather(*(c.read() for c in calls)), 60)
        assert {f.delivery.decision.conversation_id for f in firsts} == {"burst"}
    finally:
        for call in calls:
            call.cancel()
        await shared.close()
