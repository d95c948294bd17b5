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
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from warmline.common.metrics import (
    DEAD_LETTERS,
    KAFKA_RECORDS_CONSUMED,
    KAFKA_RECORDS_PRODUCED,
    PIPELINE_BATCH_SECONDS,
)
from warmline.v1 import deadletter_pb2

log = logging.getLogger(__name__)

# How long a poll waits for more records once it has some.
_TOP_UP_MS = 5


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
    """An output that parks ``record`` on the dead-letter topic under its original key;
    counted in ``warmline_dead_letters_total`` and logged (where, never its content)."""
    DEAD_LETTERS.labels(consumer, reason).inc()
    log.warning(
        "record dead-lettered",
        extra={
            "consumer": consumer,
            "reason": reason,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        },
    )
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


async def _poll(
    consumer: AIOKafkaConsumer, timeout_ms: int, max_records: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """Up to ``max_records`` records. Under load a fetch often returns one
    partition's worth; topping up with short polls gives the handler full
    batches (larger model calls) for a few milliseconds of latency."""
    batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
    records = [r for rs in batches.values() for r in rs]
    while records and len(records) < max_records:
        more = await consumer.getmany(timeout_ms=_TOP_UP_MS, max_records=max_records - len(records))
        if not more:
            break
        records += [r for rs in more.values() for r in rs]
    return records


async def run_pipeline(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    handler: Handler,
    stop: asyncio.Event,
    *,
    max_records: int = 500,
    poll_timeout_ms: int = 100,
    delivery_timeout_s: float = 30.0,
    name: str = "pipeline",
) -> None:
    """Run the loop until ``stop`` is set; a failed send or commit raises.

    Batch N's acknowledgement and commit overlap the polling and handling of
    batch N+1; N+1's records are only sent once N is committed, so the output
    order and the commit order both follow the input order.
    """
    delivering: asyncio.Task[None] | None = None
    try:
        while not stop.is_set():
            records = await _poll(consumer, poll_timeout_ms, max_records)
            if delivering is not None and delivering.done():
                delivering.result()  # surface a failed delivery at once
            if not records:
                continue
            started = time.perf_counter()
            outputs = await handler(records)
            if delivering is not None:
                await delivering
            delivering = asyncio.create_task(
                _deliver(consumer, producer, outputs, records, delivery_timeout_s, started, name)
            )
    finally:
        if delivering is not None:
            await delivering


async def _deliver(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    outputs: Sequence[Output],
    records: Sequence[ConsumerRecord[bytes, bytes]],
    timeout_s: float,
    started: float,
    name: str,
) -> None:
    await produce_all(producer, outputs, timeout_s)
    await consumer.commit(next_offsets(records))
    PIPELINE_BATCH_SECONDS.labels(name).observe(time.perf_counter() - started)
    for topic, n in Counter(o.topic for o in outputs).items():
        KAFKA_RECORDS_PRODUCED.labels(topic).inc(n)
    for topic, n in Counter(r.topic for r in records).items():
        KAFKA_RECORDS_CONSUMED.labels(topic).inc(n)
