"""A Faust table whose changelog leaves as one record batch per partition and flush.

A plain ``faust.Table`` turns each write into a ``FutureMessage`` that waits in
the producer buffer, which a background task drains one record at a time into
``AIOKafkaProducer.send`` (a future, callbacks and sensors per record); whenever
more than 100 records wait, every incoming record first waits, record by record,
for the buffer to shrink. The decisioning worker rewrites a conversation's entry
on every batch, so that path was one of the largest costs per event.

:class:`BatchedChangelogTable` keeps a batch's writes and deletes in a list, and
:meth:`BatchedChangelogTable.flush_changelog` appends them to one aiokafka record
batch per partition (``create_batch``/``send_batch``): one request slot and one
future per partition instead of per record. Reads see a write at once, as
before; its changelog record leaves with the flush. Every writer flushes: the
agents after each batch, the maintenance timer after expiry and pruning. Both of
the worker's tables are such tables (the customer history as a GlobalTable, see
:mod:`~warmline.decisioning.history`).

Delivery: the worker does not wait for the changelog batch by batch; each
batch's send is tracked in the worker's :class:`~warmline.decisioning.deliveries.Deliveries`,
so a batch the brokers refused stops the worker at its next batch, and no input
offset is committed past it. With a RocksDB store the last offset of each batch
is persisted, as faust persists each record's.

Partitions are computed here with Kafka's default partitioner
(``keys.key_partition``, as every Warmline producer places a conversation's
records) from the table's declared partition count; faust asked the producer,
which raises until it has fetched the changelog topic's metadata (a fresh
worker's first batch crashed on it).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import faust
from faust.types import TP

from warmline.common.keys import key_partition
from warmline.common.metrics import KAFKA_RECORDS_PRODUCED
from warmline.decisioning.deliveries import Deliveries
from warmline.decisioning.faust_consumer import kafka_producer


class RecordBatch(Protocol):
    """What the table needs of aiokafka's ``BatchBuilder``."""

    def append(
        self, *, timestamp: float | None, key: bytes | None, value: bytes | None
    ) -> object | None: ...

    def close(self) -> None: ...


class BatchProducer(Protocol):
    """What the table needs of ``aiokafka.AIOKafkaProducer``."""

    def create_batch(self) -> RecordBatch: ...

    async def send_batch(
        self, batch: RecordBatch, topic: str, *, partition: int
    ) -> asyncio.Future[Any]: ...


class BatchedChangelogTable(faust.Table[bytes, bytes]):
    """A ``faust.Table`` of bytes keys and values, changelog sent by :meth:`flush_changelog`.

    ``deliveries`` tracks the changelog batches' sends.
    """

    def __init__(self, *args: Any, deliveries: Deliveries, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unsent: list[tuple[int, bytes, bytes | None]] = []
        self._deliveries = deliveries

    # faust calls these after every write and delete of a key (``ManagedUserDict``).
    def on_key_set(self, key: bytes, value: bytes) -> None:
        """Queue the changelog record of a write."""
        self._queue(key, value)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: bytes) -> None:
        """Queue the tombstone of a delete."""
        self._queue(key, None)
        self._sensor_on_del(self, key)

    def _queue(self, key: bytes, value: bytes | None) -> None:
        if not isinstance(key, bytes) or not isinstance(value, bytes | None):
            raise TypeError(
                f"table {self.name!r} holds bytes keys and values, "
                f"got {type(key).__name__} and {type(value).__name__}"
            )
        partition = self.partition_for_key(key)
        if partition is None:
            partition = key_partition(key, self.partitions or 1)
        self._unsent.append((partition, key, value))

    def _producer(self) -> BatchProducer:
        producer: BatchProducer = kafka_producer(self.app)
        return producer

    async def flush_changelog(self) -> None:
        """Send every queued record, one batch per partition in write order."""
        unsent, self._unsent = self._unsent, []
        if not unsent:
            return
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for partition, key, value in unsent:
            by_partition.setdefault(partition, []).append((key, value))
        producer = self._producer()
        topic = self.changelog_topic.get_topic_name()
        for partition, records in by_partition.items():
            batch = producer.create_batch()
            count = 0
            for key, value in records:
                if batch.append(timestamp=None, key=key, value=value) is None:
                    await self._send(producer, batch, topic, partition, count)
                    batch, count = producer.create_batch(), 0
                    batch.append(timestamp=None, key=key, value=value)
                count += 1
            await self._send(producer, batch, topic, partition, count)

    async def _send(
        self, producer: BatchProducer, batch: RecordBatch, topic: str, partition: int, count: int
    ) -> None:
        # A closed batch is ready at once: waiting for the linger time would only add latency.
        batch.close()
        sent = await producer.send_batch(batch, topic, partition=partition)
        tp = TP(topic, partition)
        sent.add_done_callback(lambda done: self._on_batch_sent(done, tp, count))
        self._deliveries.track(sent, f"a batch of {count} changelog records for {topic}")

    def _on_batch_sent(self, sent: asyncio.Future[Any], tp: TP, count: int) -> None:
        if sent.cancelled() or sent.exception() is not None:
            return  # ``Deliveries`` reports it
        KAFKA_RECORDS_PRODUCED.labels(tp.topic).inc(count)
        # The batch's last record; what faust records per record for a RocksDB store.
        self.data.set_persisted_offset(tp, sent.result().offset + count - 1)
