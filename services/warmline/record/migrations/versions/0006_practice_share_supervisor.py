"""Who a practice share went to: the sharing agent's own supervisor, when they have one."""

from warmline.record.migrations import run_sql

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    run_sql("0006_practice_share_supervisor.sql")
