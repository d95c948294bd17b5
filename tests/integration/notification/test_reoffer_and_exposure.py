"""Unclaimed escalations come back and rise to a supervisor; exposed agents are spared."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.notification.conftest import Console, decision, publish
from warmline.v1 import escalation_pb2

pytestmark = pytest.mark.integration


async def test_an_unclaimed_escalation_is_reoffered_then_raised_to_the_supervisor(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification(reoffer_after_s=1.0, supervisor_after_s=2.5)
    bob = Console(replica.client("bob"), ["billing"])
    supervisor = Console(replica.client("sam"), ["supervisor"])
    consoles += [bob, supervisor]
    await bob.wait_subscribed()
    await supervisor.wait_subscribed()
    await publish(replica.settings, [decision("ignored"), decision("taken")])
    first = await bob.wait_for(2)
    taken = next(d for d in first if d.decision.conversation_id == "taken")
    assert (await bob.client.claim(taken.decision.decision_id)).granted

    offers = await bob.wait_for(3, within_s=10)
    assert [d.decision.conversation_id for d in offers[2:]] == ["ignored"]
    assert offers[2].reoffer
    raised = await supervisor.wait_for(1, within_s=10)
    assert raised[0].decision.conversation_id == "ignored" and raised[0].reoffer
    await supervisor.quiet(1.0)
    assert supervisor.conversations() == ["ignored"]  # the claimed one never went up
    assert bob.conversations().count("ignored") == 2  # re-offered once, not every tick


async def test_a_high_intensity_escalation_goes_first_to_the_less_exposed_agent(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification(exposure_limit=1, protected_hold_s=1.5)
    settings = replica.settings
    alice = Console(replica.client("alice"), ["billing"])
    bob = Console(replica.client("bob"), ["billing"])
    consoles += [alice, bob]
    await alice.wait_subscribed()
    await bob.wait_subscribed()
    urgent = escalation_pb2.PRIORITY_URGENT

    # alice takes an abusive conversation: she is now at the exposure limit.
    await publish(settings, [decision("rough-1", abusive=True, priority=urgent)])
    await alice.wait_for(1)
    await bob.wait_for(1)
    assert (await alice.client.claim(alice.deliveries()[0].decision.decision_id)).granted

    # The next intense one reaches bob at once; alice only after the hold.
    await publish(settings, [decision("rough-2", priority=urgent)])
    await bob.wait_for(2)
    assert alice.conversations() == ["rough-1"]
    held = await alice.wait_for(2, within_s=10)
    assert held[1].decision.conversation_id == "rough-2" and held[1].reoffer

    # Had bob claimed it within the hold, alice would not have been offered it.
    await publish(settings, [decision("rough-3", priority=urgent)])
    offered = await bob.wait_for(3)
    assert (await bob.client.claim(offered[2].decision.decision_id)).granted
    await alice.quiet(2.5)
    assert "rough-3" not in alice.conversations()

    # A calm, normal-priority escalation is never held back.
    await publish(settings, [decision("mild")])
    await alice.wait_for(3)
    assert alice.conversations()[-1] == "mild"
