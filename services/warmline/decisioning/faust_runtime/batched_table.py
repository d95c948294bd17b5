"""A Faust table whose changelog leaves as record batches, without ever blocking a writer.

A plain ``faust.Table`` turns each write into a ``FutureMessage`` that waits in
the producer buffer, which a background task drains one record at a time into
``AIOKafkaProducer.send`` (a future, callbacks and sensors per record); whenever
more than 100 records wait, every incoming record first waits, record by record,
for the buffer to shrink. The decisioning worker rewrites a conversation's entry
on every batch, so that path was one of the largest costs per event.

:class:`BatchedChangelogTable` keeps a batch's writes and deletes in a list, and
:meth:`BatchedChangelogTable.flush_changelog` hands them to the producer as one
aiokafka record batch per partition (``create_batch``/``send_batch``): one
request slot and one future per partition instead of per record. Reads see a
write at once, as before; its changelog record leaves with the flush. Every
writer flushes: the agents after each batch, the maintenance timer after expiry
and pruning. Both of the worker's tables are such tables (the customer history
as a GlobalTable: :class:`OnePartitionGlobalTable`).

One batch per partition is in flight at a time. aiokafka takes a partition's
next batch only once the previous one has left in a request, and ``send_batch``
waits until then: the worker used to stall for a broker round trip on every
batch (a fifth of its time). Now a partition whose previous batch is not yet
acknowledged keeps its new records, and they leave together as soon as it is
(from the acknowledgement's callback, or with the next flush), so under load
the batches grow instead of the worker waiting.

Delivery: each batch's send is tracked in the worker's
:class:`~warmline.decisioning.faust_runtime.deliveries.Deliveries`, and
:meth:`BatchedChangelogTable.wait_written` waits until every record flushed so
far is acknowledged (the commit gate calls it; the promise this keeps is
:mod:`warmline.decisioning.faust_runtime`'s).

Partitions are computed here with Kafka's default partitioner
(``keys.key_partition``, as every Warmline producer places a conversation's
records) from the table's declared partition count; faust asked the producer,
which raises until it has fetched the changelog topic's metadata (a fresh
worker's first batch crashed on it).

Local state (``DECISIONING__STORE=sqlite``): given ``rows``, the table keeps its
data in the worker's local database (:mod:`.sqlite_store`) instead of a dict,
and each acknowledged batch is stored there with its last offset, so the
database never holds a record the changelog might not.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter, deque
from typing import Any, Protocol

import faust
from faust.types import TP

from warmline.common.keys import key_partition
from warmline.common.metrics import KAFKA_RECORDS_PRODUCED
from warmline.decisioning.faust_runtime.deliveries import Deliveries, kafka_producer
from warmline.decisioning.faust_runtime.sqlite_store import SqliteStore
from warmline.decisioning.state_database import TableRows


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

    ``deliveries`` tracks the changelog batches' sends. With ``rows`` the table's
    data is kept there (see the module's docstring); ``offsets_when_acknowledged``
    False leaves the stored offset to what is read from the changelog (for a
    table that other workers write too: its acknowledged offset may be past
    their records, not yet read).
    """

    def __init__(
        self,
        *args: Any,
        deliveries: Deliveries,
        rows: TableRows | None = None,
        offsets_when_acknowledged: bool = True,
        **kwargs: Any,
    ) -> None:
        self._rows = rows
        self._offsets_when_acknowledged = offsets_when_acknowledged
        super().__init__(*args, **kwargs)
        self._deliveries = deliveries
        # Writes since the last flush, in order.
        self._unsent: list[tuple[int, bytes, bytes | None]] = []
        # Flushed writes held until the outputs they follow are acknowledged, in order.
        self._held: deque[tuple[asyncio.Future[None] | None, list[tuple[int, bytes, bytes | None]]]]
        self._held = deque()
        # Per partition: flushed records behind a batch not yet acknowledged.
        self._waiting: dict[int, list[tuple[bytes, bytes | None]]] = {}
        # Per partition: the acknowledgement of the batch handed over last.
        self._in_flight: dict[int, asyncio.Future[Any]] = {}
        # Partitions whose batch is being handed over (``send_batch`` may wait for metadata).
        self._handing_over: set[int] = set()
        # Per partition: records flushed, and records the brokers acknowledged.
        self._flushed: Counter[int] = Counter()
        self._acknowledged: Counter[int] = Counter()
        self._refused = False
        # Set (and replaced) whenever a batch is answered, for :meth:`wait_written`.
        self._answered = asyncio.Event()

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

    def _new_store(self) -> Any:
        """faust's store for the table: in memory, or the local database's ``rows``."""
        if self._rows is None:
            return super()._new_store()
        return SqliteStore(
            self.app, self, self._rows, table_name=self.name, loop=self.loop, options=self.options
        )

    def _producer(self) -> BatchProducer:
        producer: BatchProducer = kafka_producer(self.app)
        return producer

    async def flush_changelog(self, after: asyncio.Future[None] | None = None) -> None:
        """Hand the records written so far to the producer, one batch per partition.

        With ``after``, the records are held until it is done: the decisions a
        batch produced are acknowledged before its states (which remember the
        batch's events as handled) can be restored. Records never overtake
        records flushed before them. Never waits for the brokers: a partition
        whose previous batch is not yet acknowledged keeps its records until it is.
        """
        if self._unsent:
            self._flushed.update(partition for partition, _, _ in self._unsent)
            self._held.append((after, self._unsent))
            self._unsent = []
            if after is not None and not after.done():
                after.add_done_callback(lambda _: self._release_soon())
        await self._release()

    def _release_soon(self) -> None:
        """Release and send from a task of its own (for callbacks), tracked like a send."""
        follow_up = asyncio.ensure_future(self._release())
        follow_up.add_done_callback(self._settled)
        self._deliveries.track(follow_up, f"changelog records for {self.name}")

    async def _release(self) -> None:
        """Send the held records whose outputs are acknowledged, oldest first."""
        while self._held and not self._refused:
            after, records = self._held[0]
            if after is not None and not after.done():
                break
            if after is not None and (after.cancelled() or after.exception() is not None):
                # An output was refused: these states must not outlive it. The worker stops.
                self._refuse()
                break
            self._held.popleft()
            for partition, key, value in records:
                self._waiting.setdefault(partition, []).append((key, value))
        for partition in list(self._waiting):
            await self._send_waiting(partition)

    async def wait_written(self) -> None:
        """Wait until every record flushed so far is acknowledged, or one was refused.

        Input offsets are committed after this (and ``Deliveries.confirm``, which
        raises for the refusal). It flushes nothing itself: whatever a writer has
        not flushed yet belongs to input records not acked yet (or to a failed
        batch, which must never be written).
        """
        target = dict(self._flushed)
        while not self._refused and any(self._acknowledged[p] < n for p, n in target.items()):
            await self._answered.wait()

    async def _send_waiting(self, partition: int) -> None:
        """Send the partition's waiting records, unless its previous batch is unanswered."""
        previous = self._in_flight.get(partition)
        if (
            self._refused
            or partition in self._handing_over
            or (previous is not None and not previous.done())
        ):
            return
        records = self._waiting.pop(partition, None)
        if not records:
            return
        producer = self._producer()
        batch = producer.create_batch()
        count = 0
        for key, value in records:
            if batch.append(timestamp=None, key=key, value=value) is None:
                break
            count += 1
        if count == 0:
            raise ValueError(f"a changelog record of table {self.name!r} exceeds the batch size")
        if count < len(records):
            self._waiting[partition] = records[count:]  # a full batch: the rest follows it
            records = records[:count]
        # A closed batch is ready at once: waiting for the linger time would only add latency.
        batch.close()
        topic = self.changelog_topic.get_topic_name()
        self._handing_over.add(partition)
        try:
            sent = await producer.send_batch(batch, topic, partition=partition)
        finally:
            self._handing_over.discard(partition)
        self._in_flight[partition] = sent
        tp = TP(topic, partition)
        sent.add_done_callback(lambda done: self._on_batch_answered(done, tp, records))
        self._deliveries.track(sent, f"a batch of {count} changelog records for {topic}")

    def _on_batch_answered(
        self, sent: asyncio.Future[Any], tp: TP, records: list[tuple[bytes, bytes | None]]
    ) -> None:
        if not self._settled(sent):
            return
        count = len(records)
        if self._rows is not None:
            # The batch's records sit at consecutive offsets from the one the brokers gave.
            last = sent.result().offset + count - 1 if self._offsets_when_acknowledged else None
            try:
                self._rows.acknowledged(tp.partition, records, last)
            except sqlite3.Error as exc:
                self._local_state_failed(tp, exc)
                return
        self._acknowledged[tp.partition] += count
        KAFKA_RECORDS_PRODUCED.labels(tp.topic).inc(count)
        if self._waiting.get(tp.partition):
            self._release_soon()

    def _local_state_failed(self, tp: TP, exc: sqlite3.Error) -> None:
        """The local database missed an acknowledged batch: stop the worker (its
        restart reads the batch from the changelog again), as for a refused send."""
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failed.set_exception(exc)
        self._deliveries.track(
            failed, f"the local state of {tp.topic} partition {tp.partition} ({exc})"
        )
        self._refuse()

    def _settled(self, done: asyncio.Future[Any]) -> bool:
        """Wake :meth:`wait_written`; False (and nothing more is sent) when ``done`` failed.

        ``Deliveries`` reports the failure, and the worker stops on it.
        """
        if done.cancelled() or done.exception() is not None:
            self._refuse()
            return False
        self._wake()
        return True

    def _refuse(self) -> None:
        self._refused = True
        self._wake()

    def _wake(self) -> None:
        answered, self._answered = self._answered, asyncio.Event()
        answered.set()


class OnePartitionGlobalTable(BatchedChangelogTable, faust.GlobalTable):
    """A GlobalTable whose changelog has a single partition, sent in batches.

    Every write names partition 0 itself (faust's partitioner would ask the
    producer, which has no metadata for the changelog topic right after start-up).
    Like the conversations table, writes leave with :meth:`flush_changelog` and
    are tracked until the brokers acknowledge them.
    """

    def partition_for_key(self, key: Any) -> int:
        """Always the one partition."""
        return 0
