"""An agent's own pause through real gRPC, the CLI and two replicas on the broker."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from typer.testing import CliRunner

from tests.integration.notification.conftest import Console, decision, publish, token
from warmline.cli import app
from warmline.v1 import escalation_pb2

pytestmark = pytest.mark.integration

URGENT = escalation_pb2.PRIORITY_URGENT


def pauses(console: Console) -> list[bool]:
    return [r.pause.paused for r in console.received if r.WhichOneof("payload") == "pause"]


def capacities(console: Console) -> list[tuple[str, int]]:
    return [
        (r.capacity.queue, r.capacity.paused_agents)
        for r in console.received
        if r.WhichOneof("payload") == "capacity"
    ]


async def test_a_pause_holds_on_every_replica_survives_a_reconnect_and_loses_nothing(
    make_notification: Any, consoles: list[Console]
) -> None:
    first = make_notification()
    second = make_notification(first.settings)
    alice = Console(second.client("alice"), ["billing"])
    bob = Console(first.client("bob"), ["billing"])
    sam = Console(second.client("sam"), ["supervisor", "billing"])
    consoles += [alice, bob, sam]
    for console in (alice, bob, sam):
        await console.wait_subscribed()

    # alice asks the other replica for her minute; her console hears of it.
    state = await first.client("alice").pause(all_offers=False)
    assert state.paused and not state.all_offers
    await alice.until(lambda: pauses(alice) == [True])
    await sam.until(lambda: ("billing", 1) in capacities(sam))

    await publish(first.settings, [decision("rough", priority=URGENT), decision("calm")])
    await bob.wait_for(2)
    await alice.wait_for(1)
    assert alice.conversations() == ["calm"]  # low intensity still flows

    # A console reconnecting from its cursor is told of the pause first.
    cursor = alice.deliveries()[-1].cursor
    await alice.close()
    again = Console(second.client("alice"), ["billing"], cursor)
    consoles.append(again)
    await again.until(lambda: pauses(again) == [True])
    await again.quiet(0.5)
    assert again.conversations() == []

    # Resuming early offers what is still open and nobody took.
    await second.client("alice").resume()
    await again.until(lambda: pauses(again) == [True, False] and "rough" in again.conversations())
    assert again.deliveries()[0].reoffer
    await sam.until(lambda: capacities(sam)[-1] == ("billing", 0))
    names = b"".join(r.SerializeToString() for r in sam.received if r.HasField("capacity"))
    assert b"alice" not in names


async def test_a_pause_ends_by_itself(make_notification: Any, consoles: list[Console]) -> None:
    replica = make_notification()
    alice = Console(replica.client("alice"), ["billing"])
    consoles.append(alice)
    await alice.wait_subscribed()
    await alice.client.pause(1, all_offers=True)
    await publish(replica.settings, [decision("later")])
    await alice.until(lambda: pauses(alice) == [True, False], within_s=10)
    await alice.wait_for(1)
    assert alice.conversations() == ["later"]


async def test_a_pause_beyond_the_bound_or_for_someone_else_is_refused(
    make_notification: Any,
) -> None:
    replica = make_notification(pause_max_s=600)
    alice = replica.client("alice")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as too_long:
            await alice.pause(601)
        assert too_long.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        status = rpc_status.from_call(too_long.value)  # type: ignore[arg-type]
        assert status is not None
        detail = error_details_pb2.BadRequest()
        status.details[0].Unpack(detail)
        assert detail.field_violations[0].field == "duration_s"
        with pytest.raises(grpc.aio.AioRpcError) as other:
            await alice.as_agent(token("alice"), "bob").pause()
        assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await alice.close()


def test_warmline_pause_and_resume_from_the_terminal(make_notification: Any) -> None:
    replica = make_notification()
    env = {"WARMLINE_AGENT_TOKEN": token("bob")}
    paused = CliRunner().invoke(
        app, ["pause", "--minutes", "2", "--target", replica.target], env=env
    )
    assert paused.exit_code == 0, paused.output
    assert paused.stdout.startswith("paused: high-intensity offers held back until ")
    board = replica.service.board
    assert board.pause("acme", "bob", time.time()) is not None
    resumed = CliRunner().invoke(app, ["resume", "--target", replica.target], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.strip() == "not paused: offers reach you"
    refused = CliRunner().invoke(
        app, ["pause", "--target", replica.target], env={"WARMLINE_AGENT_TOKEN": "nope"}
    )
    assert refused.exit_code == 2 and "UNAUTHENTICATED" in refused.stderr
