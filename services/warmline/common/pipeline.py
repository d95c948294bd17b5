"""The consume-transform-produce loop with at-least-once, never-lose semantics.

Records are read in batches, turned into output records by a handler, sent, and
only once the brokers have acknowledged every output of a batch are the input
offsets committed. A crash anywhere before the commit replays the batch; the
outputs carry ids derived from their causes, so consumers downstream
de-duplicate the replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from warmline.v1 import deadletter_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Output:
    """A record to produce."""

    topic: str
    key: bytes | None
    value: bytes


Handler = Callable[[Sequence[ConsumerRecord[bytes, bytes]]], Awaitable[list[Output]]]


def dead_letter(
    record: ConsumerRecord[bytes, bytes], *, topic: str, consumer: str, reason: str, detail: str
) -> Output:
    """An output that parks ``record`` on the dead-letter topic under its original key."""
    letter = deadletter_pb2.DeadLetter(
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        original_key=record.key or b"",
        original_value=record.value or b"",
        reason=reason,
        detail=detail[:2000],
        consumer=consumer,
    )
    letter.failed_at.FromDatetime(datetime.now(UTC))
    return Output(topic, record.key, letter.SerializeToString())


class DeliveryTimeout(KafkaTimeoutError):  # type: ignore[misc]  # aiokafka is untyped
    """Kafka did not acknowledge a send in time (aiokafka alone may wait forever
    when the brokers are down: aio-libs/aiokafka#1101)."""


async def produce_all(
    producer: AIOKafkaProducer, outputs: Sequence[Output], timeout_s: float = 30.0
) -> None:
    """Send outputs in order and wait until the brokers acknowledged all of them.

    Raises :class:`DeliveryTimeout` when that takes longer than ``timeout_s``.
    """
    try:
        async with asyncio.timeout(timeout_s):
            pending = [await producer.send(o.topic, o.value, key=o.key) for o in outputs]
            if pending:
                await asyncio.gather(*pending)
    except TimeoutError as exc:
        raise DeliveryTimeout(
            f"{len(outputs)} records not acknowledged within {timeout_s}s"
        ) from exc


def next_offsets(
    records: Sequence[ConsumerRecord[bytes, bytes]],
) -> dict[TopicPartition, int]:
    """The offsets to commit after ``records``: one past the last of each partition."""
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
    return offsets


async def run_pipeline(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    handler: Handler,
    stop: asyncio.Event,
    *,
    max_records: int = 500,
    poll_timeout_ms: int = 100,
    delivery_timeout_s: float = 30.0,
) -> None:
    """Run the loop until ``stop`` is set; a failed send or commit raises."""
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=poll_timeout_ms, max_records=max_records)
        records = [r for partition_records in batches.values() for r in partition_records]
        if not records:
            continue
        outputs = await handler(records)
        await produce_all(producer, outputs, delivery_timeout_s)
        await consumer.commit(next_offsets(records))
