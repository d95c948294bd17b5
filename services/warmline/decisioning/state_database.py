"""The worker's local copy of its tables: one SQLite file per data directory.

With ``DECISIONING__STORE=sqlite`` a restarted worker does not read its
changelogs from their start: it keeps each table's rows, and the offset of the
last changelog record they include, in :class:`StateDatabase`, and reads only
the records after that offset (:mod:`~warmline.decisioning.faust_runtime.sqlite_store`).

What is promised:

- **The database never gets ahead of the changelog.** A write reaches it only
  once the brokers acknowledged the changelog batch that carries it
  (:meth:`TableRows.acknowledged`), or when it is read from the changelog
  (:meth:`TableRows.read`). Until then it waits in an in-memory overlay that
  every read sees first. A table's changelog holds a state only after the
  decisions it depends on (the at-least-once promise,
  :mod:`warmline.decisioning.faust_runtime`), so the same holds for the database.
- **Rows and offsets change together.** A row and the offset of the record that
  carried it are written in one transaction. Transactions are committed every
  :data:`COMMIT_EVERY_S` or :data:`COMMIT_EVERY_WRITES` writes and when the
  worker stops; a crash loses the uncommitted ones, offsets included, so their
  records are read from the changelog again.
- **Each key is stored with its changelog partition**, so a partition can be
  wiped alone (a recreated changelog topic), and counts and scans see only the
  partitions the worker owns (:attr:`TableRows.partitions`).

Not promised: a changelog compacted while the worker was away longer than the
topic's ``delete.retention.ms`` may have lost a deletion's tombstone, and the
database then keeps the deleted key; a recreated changelog topic is recognised
only when it is shorter than the database's offset. Delete the file (or the
PersistentVolumeClaim) to restore from the changelogs.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

#: A transaction is committed once it is this old or holds this many writes.
COMMIT_EVERY_S = 1.0
COMMIT_EVERY_WRITES = 20_000

_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class StateDatabase:
    """One SQLite file: a row table per worker table and every changelog partition's offset.

    Used from the worker's event loop only. ``cache_mib`` bounds SQLite's page
    cache (the database's share of the worker's memory).
    """

    def __init__(self, path: Path, cache_mib: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Autocommit mode: transactions are opened and committed here, explicitly.
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL: a power loss may drop the last transactions, never corrupt
        # the file; what is dropped is read from the changelog again.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS offsets (tbl TEXT NOT NULL, partition INTEGER NOT NULL,"
            ' "offset" INTEGER NOT NULL, PRIMARY KEY (tbl, partition))'
        )
        self._open_since: float | None = None
        self._writes = 0

    def rows(self, name: str, stamp_of: Callable[[bytes, bytes], float]) -> TableRows:
        """The rows of table ``name``; ``stamp_of(key, value)`` gives each row the time
        expiry and pruning go by."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a table name for the local database: {name!r}")
        table = f"rows_{name}"
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (key BLOB PRIMARY KEY,"
            " partition INTEGER NOT NULL, stamp REAL NOT NULL, value BLOB NOT NULL)"
        )
        self._db.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_by_stamp ON {table} (partition, stamp, key)"
        )
        return TableRows(self, name, table, stamp_of)

    def execute(self, sql: str, parameters: Iterable[object] = ()) -> sqlite3.Cursor:
        """Run ``sql`` on the connection (reads see uncommitted writes)."""
        return self._db.execute(sql, tuple(parameters))

    def write(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        """Run ``sql`` for each of ``rows`` inside the open transaction."""
        if self._open_since is None:
            self._db.execute("BEGIN")
            self._open_since = time.monotonic()
        self._db.executemany(sql, rows)
        self._writes += len(rows)

    def maybe_commit(self) -> None:
        """Commit the open transaction if it is old or large enough."""
        if self._open_since is not None and (
            self._writes >= COMMIT_EVERY_WRITES
            or time.monotonic() - self._open_since >= COMMIT_EVERY_S
        ):
            self.commit()

    def commit(self) -> None:
        """Commit the open transaction, if any."""
        if self._open_since is not None:
            self._db.execute("COMMIT")
            self._open_since = None
            self._writes = 0

    def close(self) -> None:
        """Commit and close the file."""
        self.commit()
        self._db.close()


class TableRows(MutableMapping[bytes, bytes]):
    """One table's rows in the database, behind an overlay of writes not yet acknowledged.

    The table writes and deletes here as it does in a dict; those writes stay in
    the overlay (reads see them first) until :meth:`acknowledged` moves them to
    the database. Each key's writes are acknowledged in the order they were
    made (one changelog partition per key, one batch in flight per partition),
    so when the last one is, the database holds the key's newest value and the
    overlay lets it go.
    """

    def __init__(
        self,
        database: StateDatabase,
        name: str,
        table: str,
        stamp_of: Callable[[bytes, bytes], float],
    ) -> None:
        self.database = database
        self.name = name
        self._table = table
        #: ``stamp_of(key, value)``: the row's stamp. A writer that knows the stamp
        #: of what it wrote may put a cheaper one here (it must give the same stamps).
        self.stamp_of = stamp_of
        # Newest unacknowledged value per key (None: deleted), and how many of the
        # key's writes are not yet acknowledged.
        self._overlay: dict[bytes, bytes | None] = {}
        self._pending: Counter[bytes] = Counter()
        # The key looked up last and its stored value: faust's table asks ``in``
        # before ``[]``, and both would query.
        self._looked_up: tuple[bytes, bytes | None] | None = None
        #: The changelog partitions this worker owns: counts and scans see only
        #: their rows (None: all). Point reads see every row.
        self.partitions: frozenset[int] | None = None

    # --- the mapping the table reads and writes ----------------------------------
    def __getitem__(self, key: bytes) -> bytes:
        value = self._overlay[key] if key in self._overlay else self._stored(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes):
            return False
        if key in self._overlay:
            return self._overlay[key] is not None
        return self._stored(key) is not None

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._overlay[key] = value
        self._pending[key] += 1

    def __delitem__(self, key: bytes) -> None:
        # A delete of a missing key is a tombstone all the same (the table has
        # already queued it); nothing raises.
        self._overlay[key] = None
        self._pending[key] += 1

    def __len__(self) -> int:
        count: int = self.database.execute(
            f"SELECT COUNT(*) FROM {self._table}{self._where_owned()}", self._owned()
        ).fetchone()[0]
        for key, value in self._overlay.items():
            stored = self._stored(key) is not None
            count += (value is not None) - stored
        return count

    def __iter__(self) -> Iterator[bytes]:
        keys = [
            key
            for (key,) in self.database.execute(
                f"SELECT key FROM {self._table}{self._where_owned()}", self._owned()
            )
            if key not in self._overlay
        ]
        keys += [key for key, value in self._overlay.items() if value is not None]
        return iter(keys)

    def _stored(self, key: bytes) -> bytes | None:
        looked_up = self._looked_up
        if looked_up is not None and looked_up[0] == key:
            return looked_up[1]
        row = self.database.execute(
            f"SELECT value FROM {self._table} WHERE key = ?", (key,)
        ).fetchone()
        value: bytes | None = row[0] if row else None
        self._looked_up = (key, value)
        return value

    # --- what reaches the database -------------------------------------------------
    def acknowledged(
        self, partition: int, records: list[tuple[bytes, bytes | None]], last_offset: int | None
    ) -> None:
        """Store a changelog batch the brokers acknowledged, with its last offset.

        ``last_offset`` None: the offset is left as it is (a table other workers
        write too, whose offset only reading may advance).
        """
        self._store(partition, records, last_offset)
        for key, _ in records:
            left = self._pending[key] - 1
            if left > 0:
                self._pending[key] = left
            else:
                del self._pending[key]
                self._overlay.pop(key, None)

    def read(self, partition: int, records: list[tuple[bytes, bytes | None]], offset: int) -> None:
        """Store changelog records read from ``partition`` up to ``offset``."""
        self._store(partition, records, offset)

    def _store(
        self, partition: int, records: list[tuple[bytes, bytes | None]], offset: int | None
    ) -> None:
        self._looked_up = None
        last = dict(records)  # a key's last record in the batch decides
        db = self.database
        deletes = [(key,) for key, value in last.items() if value is None]
        if deletes:
            db.write(f"DELETE FROM {self._table} WHERE key = ?", deletes)
        upserts = [
            (key, partition, self.stamp_of(key, value), value)
            for key, value in last.items()
            if value is not None
        ]
        if upserts:
            db.write(
                f"INSERT INTO {self._table} (key, partition, stamp, value) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET partition = excluded.partition,"
                " stamp = excluded.stamp, value = excluded.value",
                upserts,
            )
        if offset is not None:
            self.set_offset(partition, offset)
        db.maybe_commit()

    def offset(self, partition: int) -> int | None:
        """The offset of the last changelog record of ``partition`` the rows include."""
        row = self.database.execute(
            'SELECT "offset" FROM offsets WHERE tbl = ? AND partition = ?', (self.name, partition)
        ).fetchone()
        return int(row[0]) if row else None

    def set_offset(self, partition: int, offset: int) -> None:
        """Record that the rows include ``partition``'s changelog up to ``offset``."""
        self.database.write(
            'INSERT INTO offsets (tbl, partition, "offset") VALUES (?, ?, ?)'
            ' ON CONFLICT (tbl, partition) DO UPDATE SET "offset" = excluded."offset"'
            ' WHERE excluded."offset" > offsets."offset"',
            [(self.name, partition, offset)],
        )

    def wipe(self, partition: int | None = None) -> None:
        """Forget ``partition``'s rows and offset (None: every partition's), committed at once."""
        self._looked_up = None
        if partition is None:
            self.database.write(f"DELETE FROM {self._table}", [()])
            self.database.write("DELETE FROM offsets WHERE tbl = ?", [(self.name,)])
        else:
            self.database.write(f"DELETE FROM {self._table} WHERE partition = ?", [(partition,)])
            self.database.write(
                "DELETE FROM offsets WHERE tbl = ? AND partition = ?", [(self.name, partition)]
            )
        self.database.commit()

    # --- indexed reads -------------------------------------------------------------
    def stamped_before(self, cutoff: float) -> Iterator[tuple[bytes, float]]:
        """Keys of owned partitions whose stored stamp is before ``cutoff``, with the
        stamp, oldest first per partition (an index range each); keys with
        unacknowledged writes are left out (their newest write is the truth).

        Consume it before the next write reaches the database.
        """
        for partition in sorted(self.partitions) if self.partitions is not None else [None]:
            where = "stamp < ?" if partition is None else "partition = ? AND stamp < ?"
            parameters = (cutoff,) if partition is None else (partition, cutoff)
            for key, stamp in self.database.execute(
                f"SELECT key, stamp FROM {self._table} WHERE {where} ORDER BY stamp", parameters
            ):
                if key not in self._overlay:
                    yield key, stamp

    def prefixed(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        """Every key starting with ``prefix`` and its newest value (one index range)."""
        found = {
            key: value
            for key, value in self.database.execute(
                f"SELECT key, value FROM {self._table} WHERE key >= ? AND key < ?",
                (prefix, _after_prefix(prefix)),
            )
        }
        for key, value in self._overlay.items():
            if key.startswith(prefix):
                if value is None:
                    found.pop(key, None)
                else:
                    found[key] = value
        return list(found.items())

    def _where_owned(self) -> str:
        if self.partitions is None:
            return ""
        return f" WHERE partition IN ({','.join('?' * len(self.partitions))})"

    def _owned(self) -> tuple[int, ...]:
        return tuple(self.partitions) if self.partitions is not None else ()


def _after_prefix(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix``."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        raise ValueError(f"no key follows every key starting with {prefix!r}")
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
