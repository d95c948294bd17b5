"""A Faust table whose changelog records are handed to the producer once per batch.

A plain ``faust.Table`` queues each write's changelog record in the producer
buffer, which a background task drains one record at a time; whenever more than
100 records wait, every incoming record first waits, record by record, for the
buffer to shrink (``ProducerBuffer.wait_until_ebb``). The decisioning worker
rewrites a conversation's entry on every batch, so that queue was one of the
largest costs per event.

:class:`BatchedChangelogTable` keeps the records of a batch's writes and deletes
in a list, and :meth:`BatchedChangelogTable.flush_changelog` hands them straight
to the producer when the batch is done (no buffer task, no ebb waits). Reads see
a write at once, as before; the changelog record leaves with the batch. Every
writer flushes: the decide agent after each batch, the maintenance timer after
expiry. Callbacks and serializers are faust's own, so recovery and the persisted
offsets of a RocksDB store are unchanged.

Partitions of bytes keys are computed here (``keys.key_partition``: Kafka's
default partitioner, as every Warmline producer places a conversation's records), from the
table's declared partition count. faust asks the producer instead, which raises
until the producer has fetched the changelog topic's metadata: a fresh worker's
first batch could crash on it.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import FutureMessage

from warmline.common.keys import key_partition


class BatchedChangelogTable(faust.Table[bytes, bytes]):
    """``faust.Table`` with changelog records held until :meth:`flush_changelog`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unsent: list[FutureMessage] = []

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> FutureMessage:
        """Prepare the changelog record of a write (sent by :meth:`flush_changelog`)."""
        if partition is None and isinstance(key, bytes) and self.partitions:
            partition = key_partition(key, self.partitions)
        fut: FutureMessage = self.changelog_topic.as_future_message(
            key=key,
            value=value,
            partition=partition,
            key_serializer=key_serializer or self.key_serializer,
            value_serializer=value_serializer or self.value_serializer,
            callback=self._on_changelog_sent,
            # The record's final partition, which faust's write path reads back.
            eager_partitioning=True,
        )
        self._unsent.append(fut)
        return fut

    async def flush_changelog(self) -> None:
        """Hand every prepared changelog record to the producer, in write order."""
        unsent, self._unsent = self._unsent, []
        topic = self.changelog_topic
        for fut in unsent:
            await topic.publish_message(fut, wait=False)
