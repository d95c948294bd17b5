"""A record the flow dropped during a rebalance is read again afterwards, even on a
partition this group never committed (issue #15: 2 of ~25 such records went
undecided).

faust's fetch loop drops the record whose callback a rebalance cut off and
relies on the seek to committed offsets that follows the rebalance to read it
again; aiokafka seeks only partitions with a committed offset above 0. The test
puts a worker in exactly that state: records fetched past (the position moved
beyond them) on partitions with nothing committed, then the post-rebalance seek.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.integration.decisioning.test_decisioning_stream import (
    Hosted,
    decisioning_settings,
    decisions,
    publish,
    scored,
)
from tests.support import read_topic
from warmline.common.kafka import connection_options
from warmline.common.settings import WarmlineSettings
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration


async def end_offsets(settings: WarmlineSettings) -> dict[TopicPartition, int]:
    topic = settings.topics.name("scored")
    consumer = AIOKafkaConsumer(**connection_options(settings))
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def test_records_skipped_on_an_uncommitted_partition_are_read_after_the_rebalance_seek(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    settings = decisioning_settings(kafka_broker.bootstrap_servers, tmp_path)
    worker = Hosted(settings)
    try:
        app: Any = worker.service.stream.app if worker.service.stream else None
        topic = settings.topics.name("scored")

        async def scored_partitions() -> list[Any]:
            return [tp for tp in app.consumer.assignment() if tp.topic == topic]

        partitions = worker.host.run(scored_partitions())
        worker.host.run(_call(app.consumer.pause_partitions, partitions))
        await publish(settings, [scored(f"h-{t}", "hole", "Still broken!", 0.9) for t in range(2)])
        ends = await end_offsets(settings)

        async def fetched_past_then_rebalanced() -> None:
            # What the fetch loop leaves behind when a rebalance drops its records.
            for tp in partitions:
                await app.consumer.seek(tp, ends[TopicPartition(tp.topic, tp.partition)])
            await app.consumer.perform_seek()  # what faust runs after every rebalance
            app.consumer.resume_partitions(partitions)

        worker.host.run(fetched_past_then_rebalanced())
        records = await read_topic(
            settings.kafka.bootstrap_servers, settings.topics.name("escalations"), 1, within_s=30
        )
        assert [d.conversation_id for d in decisions(records)] == ["hole"]
    finally:
        worker.stop()


async def _call(fn: Any, *args: Any) -> None:
    fn(*args)
