"""Overload alerts through real gRPC and the broker: raised from the log on every replica."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.integration.notification.conftest import Console, decision, publish
from tests.support import read_topic
from warmline.v1 import notification_pb2

pytestmark = pytest.mark.integration

THRESHOLDS = {
    "overload_check_s": 0.2,
    "overload_window_s": 600.0,
    "overload_agent_claims": 2,
    "overload_agent_reveals": 2,
    "overload_queue_agents_over": 5,
}


def alerts(console: Console) -> list[notification_pb2.OverloadAlert]:
    return [r.overload for r in console.received if r.WhichOneof("payload") == "overload"]


async def take_rough_ones(replica: Any, consoles: list[Console]) -> None:
    """alice takes two abusive escalations and reveals what they said."""
    alice = Console(replica.client("alice"), ["billing"])
    consoles.append(alice)
    await alice.wait_subscribed()
    rough = [
        decision(f"rough-{n}", abusive=True, text="****", unmasked="you idiot") for n in (1, 2)
    ]
    await publish(replica.settings, rough)
    for delivery in await alice.wait_for(2):
        assert (await alice.client.claim(delivery.decision.decision_id)).granted
        assert await alice.client.reveal(delivery.decision.decision_id) == "you idiot"


async def test_a_supervisor_on_any_replica_is_told_without_the_agent_named(
    make_notification: Any, consoles: list[Console]
) -> None:
    # sue supervises the queue but is not alice's own supervisor (sam is).
    first = make_notification(**THRESHOLDS)
    second = make_notification(first.settings)
    sue = Console(second.client("sue"), ["supervisor"])
    bob = Console(first.client("bob"), ["billing"])
    consoles += [sue, bob]
    await sue.wait_subscribed()
    await bob.wait_subscribed()

    await take_rough_ones(first, consoles)

    await sue.until(
        lambda: {a.measure for a in alerts(sue)} >= {"high_intensity_claims", "reveals"}
    )
    told = {a.measure: a for a in alerts(sue)}
    claims = told["high_intensity_claims"]
    assert claims.scope == notification_pb2.OVERLOAD_SCOPE_AGENT and claims.queue == "billing"
    assert (claims.value, claims.threshold, claims.window_s) == (2, 2, 600)
    assert claims.agent_id == "" and claims.suggestion.startswith("An agent on billing")
    assert all(b"alice" not in a.SerializeToString() for a in alerts(sue))
    await sue.quiet(0.6)
    assert len(alerts(sue)) == 2  # raised once while it holds
    assert alerts(bob) == []  # agents are not told about each other

    # A supervisor connecting later hears what still holds.
    late = Console(first.client("sue"), ["supervisor"])
    consoles.append(late)
    await late.until(lambda: len(alerts(late)) == 2)

    # Both replicas write each alert for the record, with the same id.
    written = await read_topic(
        first.settings.kafka.bootstrap_servers, first.settings.topics.name("overload_alerts"), 4
    )
    ids = [notification_pb2.OverloadAlert.FromString(r.value or b"").alert_id for r in written]
    assert sorted(set(ids)) == sorted(a.alert_id for a in alerts(sue))
    assert all(b"alice" not in (r.value or b"") for r in written)

    async with aiohttp.ClientSession() as http:
        page = await (await http.get(f"http://127.0.0.1:{first.service.ops.port}/metrics")).text()
    assert 'warmline_notification_queue_exposure{measure="reveals",queue="billing"} 2.0' in page
    assert 'warmline_notification_overload_alerts_total{scope="agent"}' in page
    assert "alice" not in page


async def test_the_agent_is_named_only_to_their_own_supervisor_by_default(
    make_notification: Any, consoles: list[Console]
) -> None:
    first = make_notification(**THRESHOLDS)
    second = make_notification(first.settings)
    sam = Console(second.client("sam"), ["supervisor"])  # alice's own supervisor
    sue = Console(first.client("sue"), ["supervisor"])  # covers billing too
    consoles += [sam, sue]
    await sam.wait_subscribed()
    await sue.wait_subscribed()

    await take_rough_ones(first, consoles)

    both = {"high_intensity_claims", "reveals"}
    await sam.until(lambda: {a.measure for a in alerts(sam)} >= both)
    await sue.until(lambda: {a.measure for a in alerts(sue)} >= both)
    assert {a.agent_id for a in alerts(sam)} == {"alice"}
    assert all(a.suggestion.startswith("alice on billing") for a in alerts(sam))
    assert all(b"alice" not in a.SerializeToString() for a in alerts(sue))
    assert all(a.suggestion.startswith("An agent on billing") for a in alerts(sue))
    assert {a.alert_id for a in alerts(sam)} == {a.alert_id for a in alerts(sue)}

    # Connecting later, each hears what still holds, named or not the same way.
    late_sam = Console(first.client("sam"), ["supervisor"])
    late_sue = Console(second.client("sue"), ["supervisor"])
    consoles += [late_sam, late_sue]
    await late_sam.until(lambda: len(alerts(late_sam)) == 2)
    await late_sue.until(lambda: len(alerts(late_sue)) == 2)
    assert {a.agent_id for a in alerts(late_sam)} == {"alice"}
    assert {a.agent_id for a in alerts(late_sue)} == {""}

    # The record is written the alert without the name.
    written = await read_topic(
        first.settings.kafka.bootstrap_servers, first.settings.topics.name("overload_alerts"), 4
    )
    assert all(b"alice" not in (r.value or b"") for r in written)


async def test_a_tenant_that_chose_so_has_the_agent_named_to_every_supervisor(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification(**THRESHOLDS, tenant_overload_names={"acme": "supervisors"})
    sue = Console(replica.client("sue"), ["supervisor"])
    consoles.append(sue)
    await sue.wait_subscribed()
    await take_rough_ones(replica, consoles)
    await sue.until(lambda: len(alerts(sue)) >= 1)
    assert {a.agent_id for a in alerts(sue)} == {"alice"}
    assert alerts(sue)[0].suggestion.startswith("alice on billing")


async def test_a_teams_alert_reaches_its_own_supervisor_and_no_other(
    make_notification: Any, consoles: list[Console]
) -> None:
    # alice's team is sam's (the tokens file's supervisor); sue covers the same queues.
    team_thresholds = THRESHOLDS | {"overload_team_claims": 2, "overload_team_agents_over": 5}
    first = make_notification(**team_thresholds)
    second = make_notification(first.settings)
    sam = Console(second.client("sam"), ["supervisor"])
    # With billing too, sue's console hears billing's capacity (see below).
    sue = Console(first.client("sue"), ["supervisor", "billing"])
    consoles += [sam, sue]
    await sam.wait_subscribed()
    await sue.wait_subscribed()

    await take_rough_ones(first, consoles)

    def team(console: Console) -> list[notification_pb2.OverloadAlert]:
        return [a for a in alerts(console) if a.scope == notification_pb2.OVERLOAD_SCOPE_TEAM]

    await sam.until(lambda: len(team(sam)) == 1)
    (told,) = team(sam)
    assert (told.queue, told.agent_id, told.measure) == ("", "", "high_intensity_claims")
    assert (told.value, told.threshold, told.window_s) == (2, 2, 600)
    assert told.suggestion.startswith("Your team: 2 high-intensity contacts taken")
    assert b"alice" not in told.SerializeToString()

    # Each replica writes its alerts for the record after handing them to its consoles:
    # two about alice and the team's, with no queue and no one's id.
    written = await read_topic(
        first.settings.kafka.bootstrap_servers, first.settings.topics.name("overload_alerts"), 6
    )
    values = [notification_pb2.OverloadAlert.FromString(r.value or b"") for r in written]
    teams = [a for a in values if a.scope == notification_pb2.OVERLOAD_SCOPE_TEAM]
    assert {a.alert_id for a in teams} == {told.alert_id} and len(teams) == 2
    assert all(a.queue == "" for a in teams)
    assert all(b"alice" not in (r.value or b"") and b"sam" not in (r.value or b"") for r in written)

    # Anything for sue arrives before the capacity change bob's pause causes after.
    bob = first.client("bob")
    try:
        await bob.pause(60)
    finally:
        await bob.close()

    def bob_paused() -> bool:
        return any(r.capacity.paused_agents == 1 for r in sue.received if r.HasField("capacity"))

    await sue.until(bob_paused)
    assert {a.measure for a in alerts(sue)} == {"high_intensity_claims", "reveals"}
    assert team(sue) == []

    # Connecting later, on either replica, sam hears the team's alert again.
    late_sam = Console(first.client("sam"), ["supervisor"])
    consoles.append(late_sam)
    await late_sam.until(lambda: len(team(late_sam)) == 1)

    async with aiohttp.ClientSession() as http:
        page = await (await http.get(f"http://127.0.0.1:{first.service.ops.port}/metrics")).text()
    assert 'warmline_notification_overload_alerts_total{scope="team"}' in page
    assert "sam" not in page and "alice" not in page
