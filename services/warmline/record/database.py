"""Where the record lives and how to reach it: SQLite or PostgreSQL, behind one interface.

SQLite (a file under the data dir) is the embedded default; PostgreSQL is chosen
with ``WARMLINE_RECORD__DATABASE_URL=postgresql://...`` and needs the
``postgres`` extra (psycopg). Both engines run the same statements: the record's
SQL stays inside what both understand (``INSERT ... ON CONFLICT DO NOTHING``,
``CASE`` where a boolean would be averaged, ``FLOOR`` for time buckets, a key
rather than SQLite's ``rowid`` to break ties), written with ``?`` and ``:name``
placeholders, which a PostgreSQL connection rewrites into psycopg's. Readers and
the writer take a :class:`Connection` and never ask which engine it is.

The password is read from ``WARMLINE_RECORD__DATABASE_PASSWORD_FILE`` or
``_PASSWORD`` at connect time and appears in no log, error or ``str()``.
"""

from __future__ import annotations

import contextlib
import math
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import SecretStr

from warmline.common.settings import RecordSettings

if TYPE_CHECKING:
    import psycopg

DATABASE_FILE = "record.sqlite3"
URL_SETTING = "WARMLINE_RECORD__DATABASE_URL"
PASSWORD_SETTINGS = "WARMLINE_RECORD__DATABASE_PASSWORD_FILE or _PASSWORD"
#: How long a PostgreSQL connection attempt may take before it counts as unreachable.
CONNECT_TIMEOUT_S = 5
#: Retention windows are set in days; rows are stamped in epoch seconds.
DAY_S = 86_400.0


class Cursor(Protocol):
    """What the record reads from a statement's result (sqlite3's and psycopg's cursors)."""

    @property
    def description(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection to the record, of either engine."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Cursor: ...

    def close(self) -> None: ...


class RecordUnavailable(RuntimeError):
    """The record's database cannot be reached or refused us; one line naming the
    setting to check (never the password)."""


def database_errors() -> tuple[type[Exception], ...]:
    """The exceptions a database call may raise, of whichever drivers are installed."""
    errors: tuple[type[Exception], ...] = (sqlite3.Error, RecordUnavailable)
    with contextlib.suppress(ImportError):
        import psycopg

        errors += (psycopg.Error,)
    return errors


@dataclass(frozen=True, slots=True)
class RecordDatabase:
    """The record's database: a SQLite file, or a PostgreSQL server given by a libpq URL
    (without its password, which comes from ``password`` or ``password_file``)."""

    path: Path | None = None
    url: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    password_file: Path | None = None

    @classmethod
    def from_settings(cls, r: RecordSettings) -> RecordDatabase:
        """The database of the record's settings: ``database_url``, else the SQLite file
        under ``data_dir``."""
        url = r.database_url
        if url is None:
            return cls(path=database_path(r.data_dir))
        if url.startswith("sqlite:///"):
            return cls(path=Path(url.removeprefix("sqlite:///")))
        return cls(url=url, password=r.database_password, password_file=r.database_password_file)

    @classmethod
    def of(cls, where: RecordDatabase | Path) -> RecordDatabase:
        """``where`` as a database (a path is a SQLite file)."""
        return where if isinstance(where, RecordDatabase) else cls(path=where)

    @property
    def engine(self) -> Literal["sqlite", "postgresql"]:
        """Which engine holds the record."""
        return "sqlite" if self.path is not None else "postgresql"

    def __str__(self) -> str:
        """Where the record is, for logs and errors: never a password."""
        return str(self.path) if self.path is not None else str(self.url)

    def exists(self) -> bool:
        """Whether the database is there to be read: the SQLite file exists (readers
        never create it); a PostgreSQL server is taken to be."""
        return self.path is None or self.path.exists()

    def connect(self, *, read_only: bool = False) -> Connection:
        """A connection; a read-only one never creates a SQLite file and refuses writes.

        Raises sqlite3.Error for SQLite, :class:`RecordUnavailable` when PostgreSQL
        cannot be reached or refuses the credentials."""
        if self.path is not None:
            return connect_sqlite(self.path, read_only=read_only)
        return PostgresConnection(self._connect_postgres(read_only=read_only))

    def connect_for_migrations(self) -> psycopg.Connection[Any]:
        """A plain psycopg connection, transactions left to SQLAlchemy (Alembic's)."""
        return self._connect_postgres(read_only=False, autocommit=False)

    def _connect_postgres(
        self, *, read_only: bool, autocommit: bool = True
    ) -> psycopg.Connection[Any]:
        try:
            import psycopg
        except ImportError as exc:
            raise RecordUnavailable(
                f"{URL_SETTING} names PostgreSQL but psycopg is not installed: "
                "pip install 'warmline[postgres]'"
            ) from exc
        options = "-c default_transaction_read_only=on" if read_only else None
        try:
            conn = psycopg.connect(
                str(self.url),
                password=self._password(),
                autocommit=autocommit,
                connect_timeout=CONNECT_TIMEOUT_S,
                options=options,
                application_name="warmline-record",
            )
        except psycopg.OperationalError as exc:
            raise RecordUnavailable(
                f"cannot open the record's PostgreSQL database at {self}: {_first_line(exc)} "
                f"(check {URL_SETTING} and {PASSWORD_SETTINGS})"
            ) from None  # psycopg's own message may echo the conninfo
        _load_numeric_as_float(conn)
        return conn

    def _password(self) -> str | None:
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise RecordUnavailable(
                    f"cannot read WARMLINE_RECORD__DATABASE_PASSWORD_FILE "
                    f"{self.password_file}: {exc.strerror}"
                ) from exc
        return self.password.get_secret_value() if self.password is not None else None

    @contextlib.contextmanager
    def transaction(self, conn: Connection) -> Iterator[None]:
        """One transaction on ``conn``: committed when the block ends, rolled back
        if it raises. SQLite takes the write lock at once (``BEGIN IMMEDIATE``)."""
        if isinstance(conn, PostgresConnection):
            with conn.raw.transaction():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def database_path(data_dir: Path) -> Path:
    """Where the record's SQLite database lives under ``data_dir``."""
    return data_dir / DATABASE_FILE


def connect_sqlite(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A SQLite connection with the record's pragmas; read-only ones never create the file.

    WAL mode lets readers such as ``warmline audit`` never block the writer, and
    ``synchronous=FULL`` puts a transaction that returned on disk, which is what
    lets the service commit its Kafka offsets right after it."""
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    if not _has_floor(conn):
        # SQLite builds without the math functions lack FLOOR, which the time buckets use.
        conn.create_function("floor", 1, math.floor, deterministic=True)
    return conn


def _has_floor(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT floor(1.5)")
    except sqlite3.OperationalError:
        return False
    return True


class PostgresConnection:
    """A psycopg connection that takes the record's ``?`` and ``:name`` placeholders."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        """Run one statement."""
        return self.raw.execute(_psycopg_sql(sql), parameters or None)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Cursor:
        """Run one statement for each row, pipelined; ``rowcount`` is their total."""
        cursor = self.raw.cursor()
        cursor.executemany(_psycopg_sql(sql), seq_of_parameters)
        return cursor

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


# A quoted string (left alone), a '?' or a ':name' outside one, or a '%'.
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?|(?<![:\w]):([A-Za-z_]\w*)|%")


@lru_cache(maxsize=512)
def _psycopg_sql(sql: str) -> Any:
    """``sql`` with ``?`` as ``%s``, ``:name`` as ``%(name)s`` and ``%`` as ``%%``."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1) is not None:
            return f"%({match.group(1)})s"
        return token

    return _PLACEHOLDER.sub(swap, sql)


def not_in(column: str, count: int) -> str:
    """``column NOT IN (?, ...)`` for ``count`` values; true for none (PostgreSQL
    has no empty list)."""
    return f"{column} NOT IN ({', '.join('?' * count)})" if count else "TRUE"


def _load_numeric_as_float(conn: psycopg.Connection[Any]) -> None:
    """Averages of integers come back as floats, as in SQLite, not as Decimals."""
    from psycopg.types.numeric import FloatLoader

    conn.adapters.register_loader("numeric", FloatLoader)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
