"""A customer's history on the real broker: across workers and partitions, and over a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.decisioning.test_decisioning_stream import (
    Hosted,
    decisions,
    publish,
    scored,
)
from tests.integration.decisioning.test_decisioning_workers import (
    PARTITIONS,
    group_settings,
    scored_partitions,
    settled,
    stayed_settled,
    worker_settings,
)
from tests.support import read_topic, unique, wait_until
from warmline.common.kafka import create_producer
from warmline.common.keys import conversation_key, key_partition
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import WarmlineSettings
from warmline.decisioning.state import CustomerHistory
from warmline.localkafka import LocalKafka
from warmline.v1 import escalation_pb2, feedback_pb2

pytestmark = pytest.mark.integration

REQUEST = "I want to talk to a real person please"


def conversation_on(partitions: set[int], prefix: str) -> str:
    """A conversation id whose key the producer's partitioner puts on one of ``partitions``."""
    for n in range(1000):
        conversation = f"{prefix}-{n}"
        key = conversation_key("acme", conversation)
        if key_partition(key, PARTITIONS) in partitions:
            return conversation
    raise AssertionError(f"no conversation id lands on {partitions}")


async def ask_for_a_person(settings: WarmlineSettings, conversation: str, customer: str) -> None:
    """One customer turn that escalates at once (explicit request)."""
    s = scored(f"{conversation}-0", conversation, REQUEST, 0.2)
    s.event.customer_id = customer
    await publish(settings, [s])


async def call_false_alarm(
    settings: WarmlineSettings, decision: escalation_pb2.EscalationDecision
) -> None:
    """An agent's false-alarm verdict, keyed like the notification service keys it."""
    feedback = feedback_pb2.Feedback(
        feedback_id=unique("feedback"),
        tenant_id=decision.tenant_id,
        conversation_id=decision.conversation_id,
        decision_id=decision.decision_id,
        agent_id="alice",
        verdict=feedback_pb2.VERDICT_FALSE_ALARM,
        customer_id=decision.customer_id,
    )
    feedback.submitted_at.FromDatetime(datetime.now(UTC))
    producer = create_producer(settings, "test-notification")
    await producer.start()
    try:
        key = conversation_key(decision.tenant_id, decision.conversation_id)
        topic = settings.topics.name("feedback")
        await produce_all(producer, [Output(topic, key, feedback.SerializeToString())])
    finally:
        await producer.stop()


def known_history(worker: Hosted, customer: str) -> CustomerHistory:
    """What ``worker`` knows of the customer, read on its own loop."""

    async def read() -> CustomerHistory:
        assert worker.service.stream is not None
        return worker.service.stream.history.history("acme", customer)

    return worker.host.run(read())


async def escalations_of(
    settings: WarmlineSettings, count: int
) -> dict[str, escalation_pb2.EscalationDecision]:
    """The first ``count`` decisions on the escalations topic, by conversation."""
    records = await read_topic(
        settings.kafka.bootstrap_servers, settings.topics.name("escalations"), count, within_s=90
    )
    return {d.conversation_id: d for d in decisions(records)}


async def test_a_customers_history_spans_workers_and_partitions_and_survives_a_restart(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    base = group_settings(kafka_broker, tmp_path / "a")
    customer = unique("customer")
    first = Hosted(worker_settings(base, tmp_path / "a", 6081))
    second: Hosted | None = None
    try:
        second = other = Hosted(worker_settings(base, tmp_path / "b", 6082))
        workers = (first, other)
        wait_until(lambda: settled(workers), timeout=60, what="both workers own scored partitions")
        # The group can rebalance once more right after both settled (CI on
        # 2026-12-06: no escalation in 45 s); the test starts on a group that
        # stayed settled for 5 s, as the two-worker test does.
        wait_until(lambda: stayed_settled(workers, 5.0), timeout=60, what="a stable group")
        owned = [scored_partitions(w) for w in workers]
        on_first, on_second = conversation_on(owned[0], "chat"), conversation_on(owned[1], "call")

        await ask_for_a_person(base, on_first, customer)
        earlier = (await escalations_of(base, 1))[on_first]
        assert earlier.customer_history.escalations_in_window == 0
        # The other worker reads the entry from the history changelog.
        wait_until(
            lambda: len(known_history(other, customer).escalations) == 1,
            timeout=30,
            what="the second worker learns of the first escalation",
        )

        await ask_for_a_person(base, on_second, customer)
        later = (await escalations_of(base, 2))[on_second]
        assert later.customer_history.escalations_in_window == 1
        assert "repeat_contact" in {r.code for r in later.reasons}

        await call_false_alarm(base, earlier)
        wait_until(
            lambda: all(len(known_history(w, customer).false_alarms) == 1 for w in workers),
            timeout=30,
            what="both workers count the false alarm",
        )
    finally:
        if second is not None:
            second.stop()
        first.stop()

    # Same app id, fresh local state: the history comes back from its changelog.
    restarted = Hosted(worker_settings(base, tmp_path / "c", 6083))
    try:
        wait_until(lambda: settled((restarted,)), timeout=60, what="the worker recovered")
        third = conversation_on(set(range(PARTITIONS)), "mail")
        await ask_for_a_person(base, third, customer)
        after = (await escalations_of(base, 3))[third]
    finally:
        restarted.stop()
    history = after.customer_history
    assert (history.escalations_in_window, history.false_alarms_in_window) == (2, 1)
