"""Leaders' insights: claims looked up by escalation."""

from warmline.record.migrations import run_sql

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    run_sql("0003_insights.sql")
