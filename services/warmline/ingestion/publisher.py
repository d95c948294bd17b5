"""Writes accepted events to Kafka through a bounded buffer.

An event counts as accepted only once Kafka has acknowledged it (``acks=all``).
The buffer bounds what is handed to the producer and not yet acknowledged; a
slot is released only when the producer is really done with the record, so
while Kafka is down the buffer fills and new events are refused with
UNAVAILABLE instead of piling up in memory.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from warmline.common.keys import key_partition
from warmline.common.metrics import INGEST_BUFFER_CAPACITY, INGEST_BUFFER_EVENTS


class PublishUnavailable(Exception):
    """Kafka cannot take the events now; ``reason`` is buffer_full or kafka_unavailable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class EventPublisher:
    """Publishes keyed records to one topic and waits for their acknowledgement."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        *,
        buffer_max_events: int,
        delivery_timeout_s: float,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._capacity = buffer_max_events
        self._timeout_s = delivery_timeout_s
        self._in_flight = 0
        self._enqueue = asyncio.Lock()
        INGEST_BUFFER_CAPACITY.set(buffer_max_events)

    @property
    def in_flight(self) -> int:
        """Records handed to the producer and not yet resolved."""
        return self._in_flight

    def _release(self, count: int, _: object = None) -> None:
        self._in_flight -= count
        INGEST_BUFFER_EVENTS.set(self._in_flight)

    async def _send_batches(
        self, records: Sequence[tuple[bytes, bytes]]
    ) -> AsyncIterator[tuple[asyncio.Future[object], int]]:
        """Hand records to the producer as one batch per partition (far cheaper
        than a ``send`` per record), keeping the order within each partition, and
        partitioned exactly as the Java client and ``send`` would."""
        partitions = sorted(await self._producer.partitions_for(self._topic))
        builders: dict[int, tuple[Any, int]] = {}
        for key, value in records:
            partition = partitions[key_partition(key, len(partitions))]
            builder, count = builders.get(partition) or (self._producer.create_batch(), 0)
            if builder.append(key=key, value=value, timestamp=None) is None:  # batch full
                yield (
                    await self._producer.send_batch(builder, self._topic, partition=partition),
                    count,
                )
                builder, count = self._producer.create_batch(), 0
                builder.append(key=key, value=value, timestamp=None)
            builders[partition] = (builder, count + 1)
        for partition, (builder, count) in builders.items():
            yield await self._producer.send_batch(builder, self._topic, partition=partition), count

    async def publish(self, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Write ``(key, value)`` records in order; return once Kafka acknowledged all.

        Raises :class:`PublishUnavailable` when the buffer is full, or when Kafka
        fails or does not acknowledge within the delivery timeout.
        """
        if not records:
            return
        if self._in_flight + len(records) > self._capacity:
            raise PublishUnavailable(
                "buffer_full", f"{self._in_flight} events await Kafka; capacity {self._capacity}"
            )
        self._in_flight += len(records)
        INGEST_BUFFER_EVENTS.set(self._in_flight)
        futures: list[asyncio.Future[object]] = []
        handed = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        try:
            # One request at a time hands records to the producer, so concurrent
            # requests (a pipelined stream) keep each conversation's order.
            async with asyncio.timeout_at(deadline), self._enqueue:
                async for future, count in self._send_batches(records):
                    future.add_done_callback(functools.partial(self._release, count))
                    futures.append(future)
                    handed += count
        except (KafkaError, TimeoutError) as exc:
            raise PublishUnavailable("kafka_unavailable", f"send failed: {exc!r}") from exc
        finally:
            # Records never handed to the producer have no callback to free them.
            self._release(len(records) - handed)
        # asyncio.wait, unlike gather, leaves the futures running on timeout: the
        # producer keeps the records and their buffer slots until it is done.
        _, pending = await asyncio.wait(futures, timeout=max(0.0, deadline - loop.time()))
        if pending:
            raise PublishUnavailable(
                "kafka_unavailable", f"{len(pending)} events not acknowledged in {self._timeout_s}s"
            )
        for future in futures:
            if (error := future.exception()) is not None:
                raise PublishUnavailable("kafka_unavailable", repr(error)) from error
