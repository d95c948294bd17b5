"""The record's schema migrations, run by Alembic on SQLite and PostgreSQL alike.

Each revision in ``versions/`` (ids ``0001``, ``0002``, ...) applies one numbered SQL
file of this folder (``NNNN_name.sql``): the one schema definition for both
engines, written in SQL both understand. Only column types differ: SQLite's
``REAL`` is PostgreSQL's four-byte ``real``, too coarse for epoch seconds, so it
becomes ``DOUBLE PRECISION`` there (:func:`run_sql`). A change is a new SQL file
and a new revision with the next number; applied files are never edited.
:func:`warmline.record.store.migrate` runs them, and adopts a SQLite file that
the earlier runner migrated (its ``schema_migrations`` table).
"""

from __future__ import annotations

import re
from importlib import resources

from alembic import op

_REAL = re.compile(r"\bREAL\b")


def statements(sql: str) -> list[str]:
    """The statements of a migration file (no statement of ours holds a ';' in a string)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def run_sql(name: str) -> None:
    """Run the migration file ``name`` of this folder in the current migration."""
    sql = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    postgres = op.get_context().dialect.name == "postgresql"
    for statement in statements(sql):
        op.execute(_REAL.sub("DOUBLE PRECISION", statement) if postgres else statement)
