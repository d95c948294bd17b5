"""A faust table store on the worker's local SQLite database, restored from the changelog's tail.

faust's own persistent store (RocksDB) picks each write's partition database
from the stream's current event, which the worker's batched writes and its
timer's do not have. :class:`SqliteStore` instead holds a
:class:`~warmline.decisioning.state_database.TableRows`, which stores each key
with the partition the table sends its changelog record to, and only once the
brokers acknowledged it (:class:`~.batched_table.BatchedChangelogTable` calls
:meth:`~warmline.decisioning.state_database.TableRows.acknowledged`).

What faust asks of a store, and what this one answers:

- ``persisted_offset(tp)``: the offset of the last changelog record the rows
  include. faust's recovery seeks each changelog partition there and reads only
  the records after it; a partition with no rows (new here) answers None and is
  read from its start, as with ``memory://``.
- ``apply_changelog_batch``: the records recovery (and, for the customer
  history, the live standby reading) read, stored with their offset.
- ``on_rebalance``: before recovery, a partition whose stored offset is at or
  past the changelog's end (the topic was deleted and created again) is wiped
  and restored from the start; the owned partitions are remembered, so counts
  and scans leave out rows of partitions that moved to another worker (kept: if
  the partition comes back, only its tail is read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from faust.stores.base import Store
from faust.types import TP, EventT

from warmline.decisioning.state_database import TableRows

log = logging.getLogger(__name__)

#: The URL faust shows for the store (it is never looked up by URL).
STORE_URL = "warmline-sqlite:"


class SqliteStore(Store[bytes, bytes]):
    """A table's store: its :class:`TableRows` in the worker's local database."""

    def __init__(self, app: Any, table: Any, rows: TableRows, **kwargs: Any) -> None:
        super().__init__(STORE_URL, app, table, **kwargs)
        self.data = rows
        self.rows = rows

    def persisted_offset(self, tp: TP) -> int | None:
        """The offset of the last changelog record of ``tp`` the rows include."""
        return self.rows.offset(tp.partition)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """Record that the rows include ``tp`` up to ``offset``."""
        self.rows.set_offset(tp.partition, offset)

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT[Any]],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        """Store changelog records as read (keys and values are bytes already)."""
        by_partition: dict[int, tuple[list[tuple[bytes, bytes | None]], int]] = {}
        for event in batch:
            message = event.message
            if message.key is None:
                continue
            records, _ = by_partition.get(message.partition, ([], -1))
            records.append((message.key, message.value))
            by_partition[message.partition] = (records, message.offset)
        for partition, (records, offset) in by_partition.items():
            self.rows.read(partition, records, offset)

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        """Remember the owned partitions; wipe those whose changelog was recreated."""
        topic = self.table.changelog_topic.get_topic_name()
        owned = {tp for tp in assigned if tp.topic == topic}
        self.rows.partitions = frozenset(tp.partition for tp in owned)
        stored = {tp: self.rows.offset(tp.partition) for tp in owned}
        known = {tp: offset for tp, offset in stored.items() if offset is not None}
        if not known:
            return
        ends = await self.app.consumer.highwaters(*known)
        for tp, offset in known.items():
            end = ends.get(tp)
            if end is not None and offset >= end:
                log.warning(
                    "local state is past its changelog's end (the topic was recreated?): "
                    "restoring the partition from the changelog",
                    extra={"topic": tp.topic, "partition": tp.partition, "offset": offset,
                           "end": end, "database": str(self.rows.database.path)},
                )  # fmt: skip
                self.rows.wipe(tp.partition)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Commit what recovery read."""
        self.rows.database.commit()

    def reset_state(self) -> None:
        """Forget every row and offset of the table."""
        self.rows.wipe()

    async def backup_partition(
        self, tp: TP | int, flush: bool = True, purge: bool = False, keep: int = 1
    ) -> None:
        """Not kept: the changelog is the backup."""

    def restore_backup(self, tp: TP | int, latest: bool = True, backup_id: int = 0) -> None:
        """Not kept: the changelog is the backup."""

    async def on_stop(self) -> None:
        """Commit (the other table's store may still write: the file stays open)."""
        self.rows.database.commit()


def local_rows(table: Any) -> TableRows | None:
    """The local database rows behind ``table``, or None when it is held in memory."""
    store = table.data
    return store.rows if isinstance(store, SqliteStore) else None
