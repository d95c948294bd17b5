"""Practice an agent chose to share with the supervisors of the queues practised."""

from warmline.record.migrations import run_sql

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    run_sql("0005_practice_shares.sql")
