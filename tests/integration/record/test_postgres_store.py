"""The record in a real PostgreSQL server: the same schema by the same migrations, writes
that a replay leaves alone, and every reader answering as it does on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.insights_support import DAY_S, T0, floor
from tests.record_support import known_set, practice_conversation
from tests.tuning_support import verdict_floor
from warmline.insights.aggregates import Window, insights, negative_shares
from warmline.localpostgres import LocalPostgres
from warmline.record.audit import conversation_audit
from warmline.record.database import RecordDatabase, RecordUnavailable
from warmline.record.handler import _READERS
from warmline.record.practice import PracticeRules, list_scenarios, read_scenario
from warmline.record.rows import Rows
from warmline.record.store import RecordStore, migrate, revisions
from warmline.record.tuning_set import read_tuning_set

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
PRACTICE = PracticeRules(frozenset({"acme"}))


def rows_of(*known_sets: object, practice: frozenset[str] = frozenset()) -> Rows:
    rows = Rows(practice_tenants=practice)
    for known in known_sets:
        for topic, records in known.records.items():  # type: ignore[attr-defined]
            for _, value in records:
                _READERS[topic](rows, value)
    return rows


def both(tmp_path: Path, postgres: RecordDatabase) -> list[RecordDatabase]:
    return [RecordDatabase(path=tmp_path / "record.sqlite3"), postgres]


def test_postgresql_gets_every_revision_once_with_times_in_double_precision(
    postgres: RecordDatabase,
) -> None:
    assert migrate(postgres) == revisions()
    assert migrate(postgres) == []
    conn = postgres.connect(read_only=True)
    kinds = dict(
        conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'decisions'"
        ).fetchall()
    )
    conn.close()
    assert kinds["decided_at"] == kinds["occurred_at"] == "double precision"
    assert kinds["abusive"] == "integer" and kinds["decision_id"] == "text"


def test_a_replayed_batch_adds_no_row_in_postgresql(postgres: RecordDatabase) -> None:
    store = RecordStore(postgres)
    known = known_set(at=NOW)
    first = store.write(rows_of(known))
    assert first["turns"] == 32 and first["decision_reasons"] == 32
    counts = store.counts()
    assert store.write(rows_of(known)) == dict.fromkeys(first, 0)
    assert store.counts() == counts
    store.close()
    # A second writer (a restart) migrates nothing and sees the same rows.
    again = RecordStore(postgres)
    assert again.counts() == counts
    again.close()


def test_audit_practice_and_retention_answer_the_same_on_both_engines(
    tmp_path: Path, postgres: RecordDatabase
) -> None:
    answers = []
    for database in both(tmp_path, postgres):
        store = RecordStore(database, PRACTICE)
        known = known_set(("acme", "globex"), 3, NOW)
        written = store.write(rows_of(known))
        practised = store.write(
            rows_of(practice_conversation("acme", "conv-p", NOW), practice=PRACTICE.tenants)
        )
        audits = {key: conversation_audit(store.conn, key[1], key[0]) for key in known.decisions}
        scenarios = list_scenarios(store.conn, "acme")
        scenario = read_scenario(store.conn, "acme", scenarios[0]["scenario_id"])
        store.write(rows_of(known_set(("acme", "initech"), 2, NOW - timedelta(days=40), "old-")))
        deleted = store.enforce_retention(NOW.timestamp(), 365, {"acme": 30, "initech": 30})
        answers.append((written, practised, audits, scenarios, scenario, deleted, store.counts()))
        store.close()
    sqlite, postgresql = answers
    assert sqlite == postgresql
    assert sqlite[1]["practice_scenarios"] == 1 and sqlite[5]["decisions"] == 8


def test_insights_are_the_same_on_both_engines(tmp_path: Path, postgres: RecordDatabase) -> None:
    answers = []
    for database in both(tmp_path, postgres):
        floor(database.path or database, T0)  # type: ignore[arg-type]
        conn = database.connect(read_only=True)
        numbers = [
            insights(conn, Window(tenant, T0 - DAY_S, T0 + DAY_S, bucket, 5, queues))
            for tenant in ("acme", "globex")
            for bucket in ("hour", "day")
            for queues in (None, frozenset({"billing"}))
        ]
        answers.append((numbers, negative_shares(conn, T0, T0 + DAY_S, 5)))
        conn.close()
    sqlite, postgresql = answers
    assert sqlite[0][0]["climate"] and sqlite[1]  # equal, and not by being empty
    assert sqlite == postgresql


def test_the_tuning_set_is_the_same_on_both_engines(
    tmp_path: Path, postgres: RecordDatabase
) -> None:
    answers = []
    for database in both(tmp_path, postgres):
        verdict_floor(database.path or database, T0)  # type: ignore[arg-type]
        conn = database.connect(read_only=True)
        answers.append(
            [
                read_tuning_set(conn, tenant, T0, T0 + DAY_S, unescalated_as_calm=calm)
                for tenant in ("acme", "globex")
                for calm in (False, True)
            ]
        )
        conn.close()
    sqlite, postgresql = answers
    assert sqlite[0].conversations
    assert sqlite == postgresql


def test_a_wrong_password_or_no_server_is_one_line_naming_the_settings(
    postgres: RecordDatabase, postgres_server: LocalPostgres
) -> None:
    wrong = RecordDatabase(url=postgres.url, password=SecretStr("not-the-password"))
    with pytest.raises(RecordUnavailable) as refused:
        RecordStore(wrong)
    message = str(refused.value)
    assert "password authentication failed" in message and "\n" not in message
    assert "WARMLINE_RECORD__DATABASE_URL" in message and "not-the-password" not in message
    gone = RecordDatabase(url="postgresql://warmline@127.0.0.1:1/warmline")
    with pytest.raises(RecordUnavailable, match="cannot open the record's PostgreSQL database"):
        gone.connect()
    assert postgres_server.password not in str(postgres) + repr(postgres)
