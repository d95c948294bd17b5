"""The record's store: migrations, idempotent writes, no text, retention per tenant."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from tests.record_support import SECRET, KnownSet, known_set, overload_alert, stored_values
from warmline.record.audit import as_text, conversation_audit
from warmline.record.handler import _READERS
from warmline.record.rows import WITHHELD, InvalidRecord, Rows, without_quotes
from warmline.record.store import MigrationError, RecordStore, connect, migrate, revisions
from warmline.v1 import notification_pb2

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def rows_of(known: KnownSet) -> Rows:
    rows = Rows()
    for topic, records in known.records.items():
        for _, value in records:
            _READERS[topic](rows, value)
    return rows


@pytest.fixture
def store(tmp_path: Path) -> RecordStore:
    return RecordStore(tmp_path / "record.sqlite3")


def test_every_migration_file_has_one_revision_applied_in_order_once(tmp_path: Path) -> None:
    shipped = revisions()
    assert shipped == [f"{n:04d}" for n in range(1, len(shipped) + 1)]
    files = resources.files("warmline.record.migrations")
    sql = sorted(f.name.partition("_")[0] for f in files.iterdir() if f.name.endswith(".sql"))
    assert sql == shipped, "each NNNN_name.sql needs its versions/NNNN_name.py revision"
    path = tmp_path / "r.sqlite3"
    assert migrate(path) == shipped
    assert migrate(path) == []
    assert connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_newer_than_the_build_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    migrate(path)
    connect(path).execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(MigrationError, match="revision 9999, newer than this build"):
        migrate(path)


def test_a_file_migrated_before_alembic_keeps_its_rows_and_gets_only_what_it_lacks(
    tmp_path: Path,
) -> None:
    # As the runner before Alembic left it: migrations 0001-0003 and their table.
    path = tmp_path / "r.sqlite3"
    conn = connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, at REAL)")
    folder = resources.files("warmline.record.migrations")
    for number in (1, 2, 3):
        (script,) = [f for f in folder.iterdir() if f.name.startswith(f"{number:04d}_")]
        conn.executescript(script.read_text(encoding="utf-8"))
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (number, script.name))
    conn.execute("INSERT INTO verdicts VALUES ('acme', 'f-1', 'd-1', 'c-1', 'u-1', 'a-1', "
                 "'useful', 0, 1.0)")  # fmt: skip
    assert migrate(path) == revisions()[3:]
    assert conn.execute("SELECT feedback_id FROM verdicts").fetchall() == [("f-1",)]
    assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
        (revisions()[-1],)
    ]


def test_writing_the_same_records_twice_adds_no_row(store: RecordStore) -> None:
    known = known_set(at=NOW)
    first = store.write(rows_of(known))
    assert first == {
        "turns": 32, "decisions": 16, "decision_reasons": 32, "decision_trajectory": 32,
        "verdicts": 8, "claims": 8, "practice_turns": 0, "practice_openings": 0,
        "overload_alerts": 4, "practice_scenarios": 0,
    }  # fmt: skip
    counts = store.counts()
    assert store.write(rows_of(known)) == dict.fromkeys(first, 0)
    assert store.counts() == counts


def test_no_text_comment_opening_or_metadata_is_stored(store: RecordStore) -> None:
    store.write(rows_of(known_set(at=NOW)))
    values = stored_values(store.conn)
    assert values
    assert not [v for v in values if isinstance(v, str) and SECRET in v]
    tables = [
        t for (t,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    # Practice tables hold text only for tenants that opted in (none here): empty.
    practice = [t for t in tables if t.startswith("practice_")]
    assert practice and all(store.counts_of(t) == 0 for t in practice)
    columns = {
        c[1]
        for t in tables
        if t not in practice
        for c in store.conn.execute(f"PRAGMA table_info({t})")
    }
    # has_comment says whether an agent wrote one; context_turns counts turns.
    suspicious = {c for c in columns if any(w in c for w in ("text", "comment", "open", "meta"))}
    assert suspicious == {"has_comment", "context_turns"}


def test_quoted_customer_words_leave_explanations() -> None:
    said = "The customer said the conversation is going nowhere: \u201cthis is useless\u201d."
    assert (
        without_quotes(said) == f"The customer said the conversation is going nowhere: {WITHHELD}."
    )
    assert without_quotes("Negativity stayed high.") == "Negativity stayed high."


def test_csat_is_kept_with_the_turns(store: RecordStore) -> None:
    store.write(rows_of(known_set(at=NOW)))
    ratings = store.conn.execute(
        "SELECT kind, csat_score FROM turns WHERE csat_score IS NOT NULL"
    ).fetchall()
    assert ratings == [("csat", 2)] * 8


def test_audit_lists_every_decision_in_order_with_why_and_who(store: RecordStore) -> None:
    known = known_set(at=NOW)
    store.write(rows_of(known))
    decisions = conversation_audit(store.conn, "conv-1", "acme")
    assert [d["decision_id"] for d in decisions] == known.decisions[("acme", "conv-1")]
    first, update = decisions
    assert (first["action"], update["action"]) == ("escalate", "update")
    assert first["queue"] == "billing" and first["priority"] == "high"
    assert (first["policy_version"], first["model_version"]) == ("policy-3", "model-7")
    assert [r["code"] for r in first["reasons"]] == ["sustained_negativity", "loop_complaint"]
    assert [p["negativity"] for p in first["trajectory"]] == [0.3, 0.6]
    assert [c["agent_id"] for c in first["claims"]] == ["alice"]
    assert [v["verdict"] for v in first["verdicts"]] == ["false_alarm"]
    text = as_text("conv-1", decisions)
    assert "ESCALATE" in text and "claimed by: alice" in text and "false_alarm" in text
    assert len(conversation_audit(store.conn, "conv-1")) == 4  # both tenants


def test_retention_deletes_only_what_is_old_for_that_tenant(store: RecordStore) -> None:
    store.write(rows_of(known_set(("acme", "globex"), 2, NOW - timedelta(days=40), "old-")))
    store.write(rows_of(known_set(("initech",), 2, NOW - timedelta(days=400), "old-")))
    store.write(rows_of(known_set(("acme", "globex", "initech"), 3, NOW, "new-")))
    # acme keeps 30 days: its 40-day-old conversations go; globex keeps the default
    # 365 days, so its 40-day-old ones stay; initech's 400-day-old ones go.
    deleted = store.enforce_retention(NOW.timestamp(), default_days=365, tenant_days={"acme": 30})
    assert deleted == {
        "turns": 16, "decisions": 8, "verdicts": 4, "claims": 4, "overload_alerts": 4,
        "practice_turns": 0, "practice_openings": 0, "practice_scenarios": 0,
        "practice_shares": 0,
    }  # fmt: skip
    kept = store.conn.execute(
        "SELECT tenant_id, substr(conversation_id, 1, 4), COUNT(*) FROM decisions "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    assert kept == [
        ("acme", "new-", 6), ("globex", "new-", 6), ("globex", "old-", 4), ("initech", "new-", 6),
    ]  # fmt: skip
    for child in ("decision_reasons", "decision_trajectory"):
        orphans = store.conn.execute(
            f"SELECT COUNT(*) FROM {child} c LEFT JOIN decisions d "
            "USING (tenant_id, decision_id) WHERE d.decision_id IS NULL"
        ).fetchone()[0]
        assert orphans == 0, child
    assert store.enforce_retention(NOW.timestamp(), 365, {"acme": 30}) == dict.fromkeys(deleted, 0)


def test_a_read_only_connection_never_creates_the_database(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        connect(tmp_path / "absent.sqlite3", read_only=True)
    assert not (tmp_path / "absent.sqlite3").exists()


def test_an_overload_alert_keeps_no_agent_id_and_is_written_once(store: RecordStore) -> None:
    known = known_set(("acme",), 1, NOW)
    store.write(rows_of(known))
    assert store.write(rows_of(known))["overload_alerts"] == 0
    rows = store.conn.execute(
        "SELECT queue, scope, measure, value, threshold, window_s, raised_at "
        "FROM overload_alerts ORDER BY scope"
    ).fetchall()
    raised = (NOW + timedelta(seconds=6)).timestamp()
    assert rows == [
        ("billing", "agent", "reveals", 4.0, 3.0, 7_200, raised),
        ("billing", "queue", "reveals", 4.0, 3.0, 7_200, raised),
    ]
    columns = [c[1] for c in store.conn.execute("PRAGMA table_info(overload_alerts)")]
    assert "agent_id" not in columns and "suggestion" not in columns


def test_a_team_alert_is_kept_without_a_queue_and_only_a_team_alert_may_lack_one(
    store: RecordStore,
) -> None:
    team = overload_alert("acme", "", NOW, measure="agents_over")
    team.scope = notification_pb2.OVERLOAD_SCOPE_TEAM
    rows = Rows()
    _READERS["overload_alerts"](rows, team.SerializeToString())
    assert store.write(rows)["overload_alerts"] == 1
    assert store.conn.execute("SELECT queue, scope, measure FROM overload_alerts").fetchall() == [
        ("", "team", "agents_over")
    ]
    team.scope = notification_pb2.OVERLOAD_SCOPE_QUEUE
    with pytest.raises(InvalidRecord, match=f"overload alert {team.alert_id} without queue"):
        _READERS["overload_alerts"](Rows(), team.SerializeToString())
