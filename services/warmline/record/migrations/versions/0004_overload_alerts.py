"""Overload alerts for supervisors, without any agent's id."""

from warmline.record.migrations import run_sql

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    run_sql("0004_overload_alerts.sql")
