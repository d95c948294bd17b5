"""``warmline bench restore``: the changelogs it writes are the worker's own, and
its probe escalates only with the state restored from them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from warmline.bench.restore import (
    CUSTOMER_TURNS,
    PROBE_CUSTOMER,
    Size,
    archetypes,
    conversation_records,
    history_records,
    probe_state,
    probe_turns,
)
from warmline.cli import app
from warmline.decisioning.conversations import decode_entry
from warmline.decisioning.decide import apply_event
from warmline.decisioning.history import ESCALATION, FALSE_ALARM, HistoryEntry, HistoryIndex
from warmline.decisioning.policy import DEFAULT_POLICY_PATH, load_policy
from warmline.decisioning.state import ConversationState
from warmline.v1 import escalation_pb2

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
POLICY = load_policy(DEFAULT_POLICY_PATH)


def test_the_probe_alone_does_not_escalate_but_after_its_restored_turns_it_does() -> None:
    _, probe = probe_turns(NOW)
    assert apply_event(ConversationState(), probe, POLICY, NOW) is None

    _, raw = probe_state(POLICY, NOW)
    history = HistoryIndex()
    for key, value in history_records(10, NOW):
        history.apply(key, value)
    decision = apply_event(
        decode_entry(raw), probe, POLICY, NOW, history.history("bench", PROBE_CUSTOMER)
    )

    assert decision is not None
    assert decision.action == escalation_pb2.DECISION_ACTION_ESCALATE
    assert [r.code for r in decision.reasons] == ["negative_streak", "repeat_contact"]
    assert decision.customer_history.escalations_in_window == 2


def test_live_conversations_are_copies_of_decided_states_with_ids_of_their_own() -> None:
    records = list(conversation_records(100, archetypes(POLICY, NOW), NOW))

    assert len({key for key, _ in records}) == 100
    states = [decode_entry(value) for _, value in records]
    for n, state in enumerate(states):
        assert state.conversation_id == f"live-{n}" and state.customer_id == f"cust-{n}"
        assert state.customer_turns == state.bot_turns == CUSTOMER_TURNS
        assert all(i.startswith(f"live-{n}-") for i in state.recent_event_ids)
        assert {e.event_id for e in state.trajectory} <= set(state.recent_event_ids)
        # Live: active in the last minutes, far inside the conversation TTL.
        assert NOW.timestamp() - state.last_activity < 600
    assert len({s.ewma_negativity for s in states}) > 1


def test_customer_history_holds_escalations_and_false_alarms_within_the_window() -> None:
    entries = [HistoryEntry.decode(k, v) for k, v in history_records(40, NOW)]

    # One escalation each, a second for every fourth customer (the first is the
    # probe's), a false alarm for every tenth.
    assert sum(e.kind == ESCALATION for e in entries) == 40 + 10
    assert sum(e.kind == FALSE_ALARM for e in entries) == 4
    assert len({e.customer for e in entries}) == 40
    window = POLICY.for_tenant("bench").history_window_days * 86_400
    assert all(0 < NOW.timestamp() - e.at < window for e in entries)


def test_sizes_are_read_as_conversations_and_customers() -> None:
    assert Size.parse("200000:1000000") == Size(200_000, 1_000_000)
    with pytest.raises(ValueError, match="not CONVERSATIONS:CUSTOMERS: '10k'"):
        Size.parse("10k")
    with pytest.raises(ValueError, match="a negative size: '-1:0'"):
        Size.parse("-1:0")


@pytest.mark.parametrize("command", ["restore", "chaos"])
def test_a_store_that_does_not_exist_is_refused_before_anything_starts(command: str) -> None:
    result = CliRunner().invoke(app, ["bench", command, "--store", "rocksdb"])

    assert result.exit_code == 2
    assert "store: memory or sqlite, not 'rocksdb'" in result.output
