"""Two decisioning workers in one group on the real broker share the scored topic."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.integration.decisioning.test_decisioning_stream import (
    Hosted,
    decisioning_settings,
    decisions,
    publish,
    scored,
)
from tests.support import read_topic, wait_until
from warmline.common.settings import WarmlineSettings
from warmline.localkafka import LocalKafka
from warmline.v1 import escalation_pb2, scoring_pb2

pytestmark = pytest.mark.integration

PARTITIONS = 4


def worker_settings(base: WarmlineSettings, data_dir: Path, http_port: int) -> WarmlineSettings:
    """Same group and topics as ``base``; local state and web port of its own."""
    return base.model_copy(
        update={
            "decisioning": base.decisioning.model_copy(
                update={"data_dir": data_dir, "http_port": http_port}
            )
        }
    )


def group_settings(broker: LocalKafka, data_dir: Path) -> WarmlineSettings:
    """Settings of a fresh decisioning group whose topics have :data:`PARTITIONS`."""
    base = decisioning_settings(broker.bootstrap_servers, data_dir)
    return base.model_copy(
        update={"topics": base.topics.model_copy(update={"partitions": PARTITIONS})}
    )


def scored_partitions(worker: Hosted) -> set[int]:
    """The partitions of the scored topic the worker's consumer owns now."""
    topic = worker.settings.topics.name("scored")

    async def owned() -> set[int]:
        assert worker.service.stream is not None
        return {
            tp.partition
            for tp in worker.service.stream.app.consumer.assignment()
            if tp.topic == topic
        }

    return worker.host.run(owned())


def settled(workers: tuple[Hosted, ...]) -> bool:
    """Every worker says it is ready (it owns its partitions and has restored its
    tables: the readiness an orchestrator sees) and together they own the scored
    topic's partitions, each a part of its own."""
    if not all(w.service.readiness.ready for w in workers):
        return False
    owned = [scored_partitions(w) for w in workers]
    return (
        all(owned)
        and sum(len(mine) for mine in owned) == PARTITIONS
        and set().union(*owned) == set(range(PARTITIONS))
    )


def stayed_settled(workers: tuple[Hosted, ...], seconds: float) -> bool:
    """Whether the workers stay :func:`settled` with the same partitions for ``seconds``."""
    if not settled(workers):
        return False
    first = [scored_partitions(w) for w in workers]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.25)
        if not settled(workers) or [scored_partitions(w) for w in workers] != first:
            return False
    return True


async def escalations(settings: WarmlineSettings, count: int, within_s: float) -> list[Any]:
    """The escalations topic's records once ``count`` arrived, read 3 s longer to see any extra."""
    return await read_topic(
        settings.kafka.bootstrap_servers,
        settings.topics.name("escalations"),
        count,
        within_s=within_s,
        settle=3.0,
    )


def traffic(angry: int, calm: int) -> list[scoring_pb2.ScoredEvent]:
    """Angry conversations escalate exactly once (two very negative turns), calm ones never."""
    events = []
    for n in range(angry):
        events += [scored(f"angry-{n}-{t}", f"angry-{n}", "Still broken!", 0.9) for t in range(2)]
    for n in range(calm):
        events += [
            scored(f"calm-{n}-{t}", f"calm-{n}", "Thanks, that helps.", 0.05) for t in range(2)
        ]
    return events


# Once in the suite; `make test-two-workers` (run by CI after the suite) repeats it
# TWO_WORKER_RUNS times in a row, each run a fresh group and topics.
@pytest.mark.parametrize("run", range(int(os.environ.get("TWO_WORKER_RUNS", "1"))))
async def test_two_workers_split_the_partitions_and_decide_each_escalation_once(
    kafka_broker: LocalKafka, tmp_path: Path, run: int
) -> None:
    base = group_settings(kafka_broker, tmp_path / "a")
    first = Hosted(worker_settings(base, tmp_path / "a", 6071))
    second: Hosted | None = None
    try:
        second = Hosted(worker_settings(base, tmp_path / "b", 6072))
        workers = (first, second)
        wait_until(lambda: settled(workers), timeout=60, what="the two workers settled")
        # The group can rebalance once more right after both settled (seen twice
        # on 2026-12-05, after which one worker's partitions stayed undecided:
        # reported in the README, not fixed); the split is asserted on a group
        # that stayed settled for 5 s.
        wait_until(lambda: stayed_settled(workers, 5.0), timeout=60, what="a stable group")
        owned = [scored_partitions(w) for w in workers]
        angry = 24
        await publish(base, traffic(angry=angry, calm=12))
        # Usually a few seconds. Once in 20 runs (2026-12-05) the group rebalanced
        # right after both workers had settled and one worker's partitions were
        # still undecided 45 s later: the test asks that every escalation comes
        # exactly once, so it waits longer; how long decisions take after a
        # rebalance is measured by `make chaos` (recovery <= 30 s).
        records = await escalations(base, angry, within_s=90)
    finally:
        if second is not None:
            second.stop()
        first.stop()

    out = decisions(records)
    assert sorted(d.conversation_id for d in out) == sorted(f"angry-{n}" for n in range(angry))
    assert all(d.action == escalation_pb2.DECISION_ACTION_ESCALATE for d in out)
    assert len({d.decision_id for d in out}) == len(out)
    # Each worker owned part of the topic, and each decided on conversations of its own.
    assert not owned[0] & owned[1]
    for mine in owned:
        assert any(r.partition in mine for r in records)


def consumed(worker: Hosted) -> float:
    """Scored records handled in this process (both workers count into one registry)."""
    topic = worker.settings.topics.name("scored")
    value = REGISTRY.get_sample_value("warmline_kafka_records_consumed_total", {"topic": topic})
    return value or 0.0


async def test_a_worker_joining_during_a_backlog_takes_over_without_a_hang_or_a_lost_escalation(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    # The second worker joins while the first is busy with a backlog three times
    # Faust's stream buffer (4,096): the rebalance stops the first worker's flow
    # mid-stream (faust_runtime.consumer.WorkerConsumer), and still no escalation is lost or
    # doubled. (Faust pauses a partition whose buffer fills, so the fetch loop is
    # rarely inside a blocked callback here; that give-way is unit-tested.)
    base = group_settings(kafka_broker, tmp_path / "a")
    angry, calm = 300, 6_000
    await publish(base, traffic(angry=angry, calm=calm))
    first = Hosted(worker_settings(base, tmp_path / "a", 6073))
    second: Hosted | None = None
    try:
        start = consumed(first)
        wait_until(lambda: consumed(first) > start, timeout=30, what="first worker consuming")
        second = Hosted(worker_settings(base, tmp_path / "b", 6074))
        workers = (first, second)
        wait_until(
            lambda: all(scored_partitions(w) for w in workers),
            timeout=60,
            what="both workers own scored partitions after the rebalance",
        )
        records = await escalations(base, angry, within_s=90)
    finally:
        if second is not None:
            second.stop()
        first.stop()

    out = decisions(records)
    # At least once: a batch replayed after the rebalance re-emits the same decision
    # ids, and never a second escalation of its own for a conversation.
    escalated = {d.conversation_id for d in out}
    assert escalated == {f"angry-{n}" for n in range(angry)}
    assert len({d.decision_id for d in out}) == angry
    assert all(d.action == escalation_pb2.DECISION_ACTION_ESCALATE for d in out)
