"""The record's SQLite database: migrations, idempotent batched writes, retention.

One file under the data dir, in WAL mode (readers such as ``warmline audit`` never
block the writer) with ``synchronous=FULL``: a transaction that returned is on
disk, which is what lets the service commit its Kafka offsets right after it.
Every row is keyed by the id its topic carries and written with
``INSERT OR IGNORE``, so a replayed record, or a batch written again after a
restart, adds nothing. A :class:`RecordStore` is used from one thread at a time.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from warmline.record.practice import PracticeRules, delete_expired, settle
from warmline.record.rows import TABLES, Rows

DATABASE_FILE = "record.sqlite3"
_DAY_S = 86_400.0
# The column each table ages by; a decision's reasons and trajectory go with it.
_AGE = {
    "turns": "occurred_at",
    "decisions": "decided_at",
    "verdicts": "submitted_at",
    "claims": "claimed_at",
    "overload_alerts": "raised_at",
}


class MigrationError(RuntimeError):
    """The database is newer than this build, or a migration failed (named)."""


def database_path(data_dir: Path) -> Path:
    """Where the record's database lives under ``data_dir``."""
    return data_dir / DATABASE_FILE


def migrations() -> list[tuple[int, str, str]]:
    """Every shipped migration as (number, name, SQL), in order."""
    found = []
    folder = resources.files("warmline.record.migrations")
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(number), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection with the record's pragmas; read-only ones never create the file."""
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply the migrations not applied yet, each in its own transaction; return their numbers."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
    shipped = migrations()
    if applied and max(applied) > shipped[-1][0]:
        raise MigrationError(
            f"the record database is at migration {max(applied)}, newer than this build "
            f"knows ({shipped[-1][0]}): run a newer Warmline"
        )
    done = []
    for number, name, sql in shipped:
        if number in applied:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", (number, name, time.time())
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise MigrationError(f"migration {number:04d}_{name} failed: {exc}") from exc
        done.append(number)
    return done


def _statements(sql: str) -> list[str]:
    """The statements of a migration file (no statement of ours holds a ';' in a string)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


class RecordStore:
    """The writer's handle on the database."""

    def __init__(self, path: Path, practice: PracticeRules | None = None) -> None:
        self.path = path
        self.practice = practice or PracticeRules()
        self.conn = connect(path)
        migrate(self.conn)

    def write(self, rows: Rows) -> dict[str, int]:
        """Write ``rows`` in one transaction; return the rows actually added by table
        (rows already present are ignored, so a replay returns zeros). Practice
        scenarios made from the conversations it touched count as
        ``practice_scenarios``."""
        added = dict.fromkeys((*TABLES, "practice_scenarios"), 0)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for table, batch in rows.by_table.items():
                if batch:
                    marks = ", ".join("?" * len(batch[0]))
                    cursor = self.conn.executemany(
                        f"INSERT OR IGNORE INTO {table} VALUES ({marks})", batch
                    )
                    added[table] = cursor.rowcount
            added["practice_scenarios"] = settle(self.conn, rows.practice_candidates, self.practice)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return added

    def enforce_retention(
        self, now: float, default_days: int, tenant_days: Mapping[str, int]
    ) -> dict[str, int]:
        """Delete what is older than each tenant's retention, and practice text as its
        rules say; return deletions by table (a decision's reasons and trajectory go
        with it)."""
        deleted = dict.fromkeys(_AGE, 0)
        others = ", ".join("?" * len(tenant_days))
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for table, column in _AGE.items():
                for tenant, days in tenant_days.items():
                    deleted[table] += self.conn.execute(
                        f"DELETE FROM {table} WHERE tenant_id = ? AND {column} < ?",
                        (tenant, now - days * _DAY_S),
                    ).rowcount
                deleted[table] += self.conn.execute(
                    f"DELETE FROM {table} WHERE tenant_id NOT IN ({others}) AND {column} < ?",
                    (*tenant_days, now - default_days * _DAY_S),
                ).rowcount
            deleted |= delete_expired(self.conn, now, self.practice, default_days, tenant_days)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return deleted

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {table: self.counts_of(table) for table in TABLES}

    def counts_of(self, table: str) -> int:
        """Rows of one table."""
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
