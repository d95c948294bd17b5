"""Claims, acknowledgements, feedback and reveals against the real broker."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from tests.integration.notification.conftest import Console, decision, publish
from tests.support import read_topic
from warmline.v1 import escalation_pb2, feedback_pb2

pytestmark = pytest.mark.integration


async def test_a_claim_race_across_two_replicas_has_exactly_one_winner(
    make_notification: Any, consoles: list[Console]
) -> None:
    first = make_notification()
    second = make_notification(first.settings)  # same topics: two replicas of one deployment
    watcher = Console(first.client("sam"), ["billing"])
    # Each replica reads the escalations topic on its own: both must know the
    # escalation before the race, or a claim at the slower one finds nothing.
    other = Console(second.client("sam"), ["billing"])
    consoles.extend((watcher, other))
    await asyncio.gather(watcher.wait_subscribed(), other.wait_subscribed())
    await publish(first.settings, [decision("race")])
    decision_id = (await watcher.wait_for(1))[0].decision.decision_id
    assert (await other.wait_for(1))[0].decision.decision_id == decision_id

    claimants = [
        (replica.client(agent), agent)
        for replica, agent in ((first, "alice"), (second, "bob"), (first, "carol"), (second, "sam"))
    ]
    try:
        answers = await asyncio.gather(*(c.claim(decision_id) for c, _ in claimants))
        winners = [agent for (_, agent), a in zip(claimants, answers, strict=True) if a.granted]
        assert len(winners) == 1
        assert {a.holder_agent_id for a in answers} == set(winners)
        # Both replicas agree afterwards, and a late claim is refused with the holder named.
        for replica in (first, second):
            late = replica.client("carol")
            again = await late.claim(decision_id)
            await late.close()
            assert again.holder_agent_id == winners[0]
            assert again.granted == (winners[0] == "carol")
    finally:
        for client, _ in claimants:
            await client.close()
    # Consoles hear who took it.
    await watcher.until(lambda: bool(watcher.notices()))
    notice = watcher.notices()[0]
    assert notice.holder_agent_id == winners[0] and notice.conversation_id == "race"


async def test_claims_of_unknown_foreign_or_finished_escalations_are_refused(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification()
    await publish(
        replica.settings,
        [
            decision("theirs", tenant="globex"),
            decision("done"),
            decision("done", action=escalation_pb2.DECISION_ACTION_RESOLVED, trigger="done-end"),
            decision("general-only", "general"),
        ],
    )
    gina = Console(replica.client("gina"), ["billing"])
    consoles.append(gina)
    foreign = (await gina.wait_for(1))[0].decision.decision_id
    alice = Console(replica.client("alice"), ["billing", "general"])
    consoles.append(alice)
    general = (await alice.wait_for(1))[0].decision
    assert general.conversation_id == "general-only"
    done_id = decision("done").decision_id

    bob = replica.client("bob")
    try:
        for decision_id, code in (
            ("no-such-decision", grpc.StatusCode.NOT_FOUND),
            (foreign, grpc.StatusCode.NOT_FOUND),  # another tenant's looks unknown
            (done_id, grpc.StatusCode.FAILED_PRECONDITION),
            (general.decision_id, grpc.StatusCode.PERMISSION_DENIED),  # bob: billing only
            ("", grpc.StatusCode.INVALID_ARGUMENT),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bob.claim(decision_id)
            assert refused.value.code() == code, decision_id
    finally:
        await bob.close()


async def test_feedback_lands_on_the_feedback_topic_and_bad_feedback_is_refused(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification()
    bob = Console(replica.client("bob"), ["billing"])
    consoles.append(bob)
    await bob.wait_subscribed()
    await publish(replica.settings, [decision("fb")])
    shown = (await bob.wait_for(1))[0].decision
    feedback_id = await bob.client.feedback(
        shown.decision_id, feedback_pb2.VERDICT_FALSE_ALARM, "customer was joking"
    )
    settings = replica.settings
    records = await read_topic(
        settings.kafka.bootstrap_servers, settings.topics.name("feedback"), 1
    )
    written = feedback_pb2.Feedback.FromString(records[0].value or b"")
    assert written.feedback_id == feedback_id
    assert (written.tenant_id, written.agent_id, written.decision_id) == (
        "acme",
        "bob",
        shown.decision_id,
    )
    assert written.verdict == feedback_pb2.VERDICT_FALSE_ALARM
    assert written.comment == "customer was joking" and written.customer_id == "cust-fb"
    assert records[0].key == b"acme/fb"

    for verdict, comment, field in (
        (feedback_pb2.VERDICT_UNSPECIFIED, "", "verdict"),
        (feedback_pb2.VERDICT_USEFUL, "x" * 5000, "comment"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await bob.client.feedback(shown.decision_id, verdict, comment)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (refused.value.details() or "")


async def test_abusive_text_stays_masked_until_the_agent_reveals_it(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification()
    bob = Console(replica.client("bob"), ["billing"])
    consoles.append(bob)
    await bob.wait_subscribed()
    await publish(
        replica.settings,
        [
            decision(
                "rude",
                abusive=True,
                text="You are a **** idiot",
                unmasked="You are a damn idiot",
            )
        ],
    )
    shown = (await bob.wait_for(1))[0].decision
    assert shown.abusive and shown.last_customer_text == "You are a **** idiot"
    assert shown.unmasked_customer_text == ""  # never on the wire unasked
    assert await bob.client.reveal(shown.decision_id) == "You are a damn idiot"


async def test_a_restarted_service_replays_nothing_the_agent_acknowledged(
    make_notification: Any, consoles: list[Console]
) -> None:
    replica = make_notification()
    settings = replica.settings
    bob = Console(replica.client("bob"), ["billing"])
    await bob.wait_subscribed()
    await publish(settings, [decision("seen-1"), decision("seen-2")])
    await bob.wait_for(2)
    await bob.client.ack(bob.deliveries()[-1].cursor)
    await bob.close()
    await bob.client.close()
    await asyncio.to_thread(replica.stop)
    await publish(settings, [decision("while-down")])

    restarted = make_notification(settings)
    # No cursor from the console (a reloaded page): the acknowledged one is used.
    again = Console(restarted.client("bob"), ["billing"])
    consoles.append(again)
    await again.wait_for(1)
    await again.quiet(1.0)
    assert again.conversations() == ["while-down"]

    # A console that kept nothing (a reloaded page) also asks for what is still
    # open; those come back first, without a cursor (a snapshot, not the log).
    fresh = Console(restarted.client("bob"), ["billing"], resend_open=True)
    consoles.append(fresh)
    got = await fresh.wait_for(3)
    await fresh.quiet(1.0)
    assert sorted(fresh.conversations()[:2]) == ["seen-1", "seen-2"]
    assert fresh.conversations()[2:] == ["while-down"]
    assert [bool(d.cursor) for d in got] == [False, False, True]


async def test_acks_with_a_malformed_cursor_are_refused(make_notification: Any) -> None:
    replica = make_notification()
    bob = replica.client("bob")
    try:
        # A superscript digit passes str.isdigit() but not int(); 5,000 digits
        # pass neither int() nor any Kafka offset.
        for cursor in ("", "garbage", "v1.0:x", "v1.0:\u00b2", "v1.0:" + "9" * 5_000):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bob.ack(cursor or "")
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await bob.close()
