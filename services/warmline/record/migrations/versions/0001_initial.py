"""The record's first schema: turns, decisions with their reasons and trajectory, verdicts, claims."""

from warmline.record.migrations import run_sql

revision = "0001"
down_revision = None


def upgrade() -> None:
    run_sql("0001_initial.sql")
