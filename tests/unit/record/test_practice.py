"""Practice scenarios in the record: text only for tenants that opted in, only
conversations that ended well, anonymised, up to the escalation, kept for a while."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.record_support import (
    PRACTICE_TURNS,
    SECRET,
    KnownSet,
    known_set,
    practice_conversation,
)
from warmline.record.handler import _READERS
from warmline.record.practice import PracticeRules, list_scenarios, read_scenario
from warmline.record.rows import Rows
from warmline.record.store import RecordStore
from warmline.v1 import feedback_pb2

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
RULES = PracticeRules(tenants=frozenset({"acme"}), min_csat=4, max_turns=20)


def rows_of(known: KnownSet, tenants: frozenset[str] = RULES.tenants) -> Rows:
    rows = Rows(practice_tenants=tenants)
    for topic, records in known.records.items():
        for _, value in records:
            _READERS[topic](rows, value)
    return rows


@pytest.fixture
def store(tmp_path: Path) -> RecordStore:
    return RecordStore(tmp_path / "record.sqlite3", RULES)


def text_values(store: RecordStore) -> list[str]:
    return [
        v
        for table in ("practice_turns", "practice_openings", "practice_scenarios")
        for row in store.conn.execute(f"SELECT * FROM {table}")
        for v in row
        if isinstance(v, str)
    ]


def test_a_conversation_that_ended_well_becomes_one_anonymised_scenario(
    store: RecordStore,
) -> None:
    added = store.write(rows_of(practice_conversation("acme", "conv-1", NOW)))
    assert added["practice_scenarios"] == 1
    [listed] = list_scenarios(store.conn, "acme")
    scenario = read_scenario(store.conn, "acme", listed["scenario_id"])
    assert scenario is not None
    assert scenario["queue"] == "billing" and scenario["dominant_emotion"] == "anger"
    assert scenario["reasons"] == ["sustained_negativity", "loop_complaint"]
    # Up to the escalation (the fourth turn), not what was said to the agent after it.
    assert [t["role"] for t in scenario["turns"]] == ["customer", "bot", "customer", "customer"]
    first, _, third, _ = (t["text"] for t in scenario["turns"])
    assert first == ("Hi, I'm Person A. My order Reference 1 never came to my flat in Place A.")
    assert third == "I told you, Reference 1! I paid Number 1 on Date 1. Person A is not happy."
    assert (
        scenario["example_opening"] == "I'm sorry, Person A: let me find Reference 1 for you now."
    )
    everything = json.dumps(scenario) + json.dumps(listed)
    for said in ("Anna", "Berg", "Leeds", "AB-12345", "45.50", "conv-1", "cust-conv-1"):
        assert said not in everything
    # The waiting text is gone once the scenario is made.
    assert store.counts_of("practice_turns") == store.counts_of("practice_openings") == 0


def test_replaying_the_conversation_makes_no_second_scenario(store: RecordStore) -> None:
    known = practice_conversation("acme", "conv-1", NOW)
    store.write(rows_of(known))
    assert store.write(rows_of(known))["practice_scenarios"] == 0
    assert len(list_scenarios(store.conn, "acme")) == 1
    assert store.counts_of("practice_turns") == 0


def test_records_arriving_in_any_order_still_make_the_scenario(store: RecordStore) -> None:
    known = practice_conversation("acme", "conv-1", NOW)
    for topic in ("feedback", "agent_actions", "escalations", "scored"):
        only = KnownSet()
        only.records[topic] = known.records[topic]
        store.write(rows_of(only))
    assert len(list_scenarios(store.conn, "acme")) == 1


def test_a_tenant_that_did_not_opt_in_has_no_text_stored(store: RecordStore) -> None:
    store.write(rows_of(practice_conversation("globex", "conv-1", NOW)))
    store.write(rows_of(practice_conversation("globex", "conv-2", NOW, claimed=False)))
    assert list_scenarios(store.conn, "globex") == []
    assert text_values(store) == []
    # acme opted in, but these conversations ended with a poor rating: nothing stays.
    store.write(rows_of(known_set(("acme", "globex"), 2, NOW)))
    assert not [v for v in text_values(store) if SECRET in v]


@pytest.mark.parametrize(
    ("why", "changes"),
    [
        ("a poor rating", {"csat": 3}),
        ("a false alarm", {"judged_as": feedback_pb2.VERDICT_FALSE_ALARM}),
    ],
)
def test_a_conversation_that_did_not_end_well_leaves_no_text(
    store: RecordStore, why: str, changes: dict[str, int]
) -> None:
    store.write(rows_of(practice_conversation("acme", "conv-1", NOW, **changes)))  # type: ignore[arg-type]
    assert list_scenarios(store.conn, "acme") == [], why
    assert text_values(store) == [], why


def test_an_unclaimed_conversation_waits_and_its_text_expires(store: RecordStore) -> None:
    store.write(rows_of(practice_conversation("acme", "conv-1", NOW, claimed=False)))
    assert list_scenarios(store.conn, "acme") == []
    assert store.counts_of("practice_turns") == 4  # up to the escalation
    later = (NOW + timedelta(hours=RULES.pending_hours + 1)).timestamp()
    deleted = store.enforce_retention(later, 365, {})
    assert (deleted["practice_turns"], deleted["practice_openings"]) == (4, 1)
    assert text_values(store) == []


def test_a_conversation_rated_without_an_escalation_leaves_no_text(store: RecordStore) -> None:
    known = practice_conversation("acme", "conv-1", NOW)
    known.records["escalations"] = []
    store.write(rows_of(known))
    assert text_values(store) == []


def test_waiting_turns_are_bounded_per_conversation(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "r.sqlite3", PracticeRules(RULES.tenants, max_turns=2))
    store.write(rows_of(practice_conversation("acme", "conv-1", NOW, claimed=False)))
    kept = [t for (t,) in store.conn.execute("SELECT text FROM practice_turns ORDER BY 1")]
    assert kept == sorted(text for _, text in PRACTICE_TURNS[2:4])


def test_scenarios_are_kept_within_practice_and_tenant_retention(store: RecordStore) -> None:
    store.write(rows_of(practice_conversation("acme", "old", NOW - timedelta(days=40))))
    store.write(rows_of(practice_conversation("acme", "new", NOW - timedelta(days=5))))
    # The tenant keeps 30 days, practice 90: the 40-day-old scenario goes.
    deleted = store.enforce_retention(NOW.timestamp(), 365, {"acme": 30})
    assert deleted["practice_scenarios"] == 1
    assert len(list_scenarios(store.conn, "acme")) == 1
    deleted = store.enforce_retention((NOW + timedelta(days=90)).timestamp(), 365, {})
    assert deleted["practice_scenarios"] == 1


def test_a_tenant_that_opts_out_loses_its_scenarios_at_the_next_retention_run(
    tmp_path: Path,
) -> None:
    path = tmp_path / "record.sqlite3"
    RecordStore(path, RULES).write(rows_of(practice_conversation("acme", "conv-1", NOW)))
    opted_out = RecordStore(path, PracticeRules())
    assert opted_out.enforce_retention(NOW.timestamp(), 365, {})["practice_scenarios"] == 1
    assert list_scenarios(opted_out.conn, "acme") == []
