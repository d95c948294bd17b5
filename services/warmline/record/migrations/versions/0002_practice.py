"""Empathy practice: redacted turns and openings of opted-in tenants, anonymised scenarios."""

from warmline.record.migrations import run_sql

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    run_sql("0002_practice.sql")
