"""The record's store: migrations, idempotent batched writes, retention, on either engine.

The database is SQLite (a file under the data dir) or PostgreSQL
(:mod:`warmline.record.database`). Every row is keyed by the id its topic
carries and written with ``INSERT ... ON CONFLICT DO NOTHING`` in one
transaction per batch (``executemany``, pipelined on PostgreSQL), so a replayed
record, or a batch written again after a restart, adds nothing. A transaction
that returned is durable (SQLite ``synchronous=FULL``, PostgreSQL's commit),
which is what lets the service commit its Kafka offsets right after it. A
:class:`RecordStore` is used from one thread at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import overload

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection as SqlConnection
from sqlalchemy import Engine, create_engine, event, inspect, text

from warmline.record.database import (
    DAY_S,
    Connection,
    RecordDatabase,
    connect_sqlite,
    database_path,
    not_in,
)
from warmline.record.practice import PracticeRules, delete_expired, settle
from warmline.record.rows import TABLES, Rows

__all__ = ["MigrationError", "RecordStore", "connect", "database_path", "migrate", "revisions"]

# The column each table ages by; a decision's reasons and trajectory go with it.
_AGE = {
    "turns": "occurred_at",
    "decisions": "decided_at",
    "verdicts": "submitted_at",
    "claims": "claimed_at",
    "overload_alerts": "raised_at",
}
# Held while migrating PostgreSQL, so replicas starting together migrate one at a time.
_MIGRATION_LOCK = 0x5761726D  # "Warm"


@overload
def connect(where: Path, *, read_only: bool = False) -> sqlite3.Connection: ...
@overload
def connect(where: RecordDatabase, *, read_only: bool = False) -> Connection: ...
def connect(where: Path | RecordDatabase, *, read_only: bool = False) -> Connection:
    """A connection to the record: a path is a SQLite file (sqlite3's connection)."""
    if isinstance(where, Path):
        return connect_sqlite(where, read_only=read_only)
    return where.connect(read_only=read_only)


class MigrationError(RuntimeError):
    """The database is newer than this build, or a migration failed (named)."""


def _alembic() -> Config:
    config = Config()
    config.set_main_option("script_location", "warmline.record:migrations")
    return config


def revisions() -> list[str]:
    """Every shipped revision id, oldest first (``0001``, ``0002``, ...)."""
    script = ScriptDirectory.from_config(_alembic())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _engine(database: RecordDatabase) -> Engine:
    """A SQLAlchemy engine on the record's own connections, for Alembic only."""
    if database.path is not None:
        path = database.path
        engine = create_engine("sqlite://", creator=lambda: connect_sqlite(path))

        # pysqlite would leave DDL outside the transaction; begin it ourselves.
        @event.listens_for(engine, "begin")
        def _begin(conn: SqlConnection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine("postgresql+psycopg://", creator=lambda: database.connect_for_migrations())


def migrate(database: RecordDatabase | Path) -> list[str]:
    """Bring the database to the newest revision, all in one transaction; return the
    revisions applied. Raises :class:`MigrationError` for a database newer than
    this build or a failed revision."""
    database = RecordDatabase.of(database)
    config, shipped = _alembic(), revisions()
    engine = _engine(database)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            config.attributes["connection"] = conn
            before = _adopt_earlier_runner(conn, config, shipped)
            if before is not None and before not in shipped:
                raise MigrationError(
                    f"the record database at {database} is at revision {before}, newer than "
                    f"this build knows ({shipped[-1]}): run a newer Warmline"
                )
            try:
                command.upgrade(config, "head")
            except Exception as exc:
                raise MigrationError(f"migrating the record at {database} failed: {exc}") from exc
    finally:
        engine.dispose()
    return shipped[shipped.index(before) + 1 :] if before is not None else shipped


def _adopt_earlier_runner(
    conn: SqlConnection, config: Config, shipped: Sequence[str]
) -> str | None:
    """The database's revision; a SQLite file migrated by the runner before Alembic
    (its ``schema_migrations`` table) is stamped at the newest number it applied."""
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None or "schema_migrations" not in inspect(conn).get_table_names():
        return current
    newest = conn.execute(text("SELECT MAX(version) FROM schema_migrations")).scalar()
    if newest is None:
        return None
    revision = f"{int(newest):04d}"
    if revision in shipped:
        command.stamp(config, revision)
    return revision


class RecordStore:
    """The writer's handle on the database."""

    def __init__(
        self, database: RecordDatabase | Path, practice: PracticeRules | None = None
    ) -> None:
        self.database = RecordDatabase.of(database)
        self.practice = practice or PracticeRules()
        migrate(self.database)
        self.conn: Connection = self.database.connect()

    def write(self, rows: Rows) -> dict[str, int]:
        """Write ``rows`` in one transaction; return the rows actually added by table
        (rows already present are ignored, so a replay returns zeros). Practice
        scenarios made from the conversations it touched count as
        ``practice_scenarios``."""
        added = dict.fromkeys((*TABLES, "practice_scenarios"), 0)
        with self.database.transaction(self.conn):
            for table, batch in rows.by_table.items():
                if batch:
                    marks = ", ".join("?" * len(batch[0]))
                    cursor = self.conn.executemany(
                        f"INSERT INTO {table} VALUES ({marks}) ON CONFLICT DO NOTHING", batch
                    )
                    added[table] = cursor.rowcount
            added["practice_scenarios"] = settle(self.conn, rows.practice_candidates, self.practice)
        return added

    def enforce_retention(
        self, now: float, default_days: int, tenant_days: Mapping[str, int]
    ) -> dict[str, int]:
        """Delete what is older than each tenant's retention, and practice text as its
        rules say; return deletions by table (a decision's reasons and trajectory go
        with it)."""
        deleted = dict.fromkeys(_AGE, 0)
        others = not_in("tenant_id", len(tenant_days))
        with self.database.transaction(self.conn):
            for table, column in _AGE.items():
                for tenant, days in tenant_days.items():
                    deleted[table] += self.conn.execute(
                        f"DELETE FROM {table} WHERE tenant_id = ? AND {column} < ?",
                        (tenant, now - days * DAY_S),
                    ).rowcount
                deleted[table] += self.conn.execute(
                    f"DELETE FROM {table} WHERE {others} AND {column} < ?",
                    (*tenant_days, now - default_days * DAY_S),
                ).rowcount
            deleted |= delete_expired(self.conn, now, self.practice, default_days, tenant_days)
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
