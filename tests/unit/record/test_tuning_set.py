"""What ``warmline policy tune`` learns from: the record's turns rebuilt as scored
events, and a gold from the verdicts on live decisions."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from tests.insights_support import T0, Floor
from tests.tuning_support import conversation
from warmline.decisioning.tune import TuningConversation, TuningSet
from warmline.record.store import RecordStore, connect
from warmline.record.tuning_set import read_tuning_set
from warmline.v1 import events_pb2, scoring_pb2


def read(path: Path, *, calm: bool = False, start: float = T0) -> dict[str, TuningConversation]:
    with closing(connect(path, read_only=True)) as conn:
        found: TuningSet = read_tuning_set(
            conn, "acme", start, T0 + 3_600, unescalated_as_calm=calm
        )
    return {c.conversation_id: c for c in found.conversations}


def test_the_gold_follows_the_verdicts_majority_and_a_wrong_queue_still_needed_a_person(
    tmp_path: Path,
) -> None:
    path = tmp_path / "record.sqlite3"
    store = RecordStore(path)
    f = Floor(store.conn)
    at = T0 + 60
    conversation(f, "useful", at, (0.2, 0.7, 0.7), escalated_after=2, verdicts=("useful",))
    conversation(f, "wrong-queue", at, (0.7, 0.7), escalated_after=1, verdicts=("wrong_queue",))
    conversation(f, "outvoted", at, (0.5, 0.5), escalated_after=1,
                 verdicts=("false_alarm", "false_alarm", "useful"))  # fmt: skip
    conversation(f, "disputed", at, (0.5, 0.5), escalated_after=1,
                 verdicts=("false_alarm", "useful"))  # fmt: skip
    conversation(f, "unjudged", at, (0.5, 0.5), escalated_after=1)
    conversation(f, "quiet", at, (0.1,))
    shadowed = f.decision("quiet", at + 10, "billing", reasons=("negative_streak",), shadow=True)
    f.verdict(shadowed, "quiet", "useful", at + 20)
    conversation(f, "earlier", T0 - 60, (0.1, 0.7), escalated_after=1, verdicts=("useful",))
    store.close()

    found = read(path)
    assert "earlier" not in found  # its first turn is before the window
    assert (found["useful"].label, found["useful"].gold_turn) == ("verdict", 2)
    assert (found["wrong-queue"].label, found["wrong-queue"].gold_turn) == ("verdict", 1)
    assert (found["outvoted"].label, found["outvoted"].gold_turn) == ("verdict", None)
    assert found["disputed"].label == found["unjudged"].label == "none"
    assert found["quiet"].label == "none"  # a verdict on a shadow decision is no gold
    assert read(path, calm=True)["quiet"].label == "assumed_calm"
    assert read(path, calm=True)["unjudged"].label == "none"  # escalated: still unknown
    assert all(c.pinned_turn is None for c in found.values())


def test_turns_come_back_as_the_scored_events_the_service_saw_without_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "record.sqlite3"
    store = RecordStore(path)
    f = Floor(store.conn)
    conversation(f, "asked", T0 + 60, (0.3, 0.6), escalated_after=0, reason="explicit_request",
                 verdicts=("useful",))  # fmt: skip
    f.turn("asked", T0 + 200)  # a turn that was not scored
    store.close()

    asked = read(path)["asked"]
    assert (asked.gold_turn, asked.pinned_turn) == (0, 0)
    first, second, unscored = asked.events
    assert first.event.role == events_pb2.ROLE_CUSTOMER
    assert first.event.kind == events_pb2.EVENT_KIND_MESSAGE
    assert first.event.tenant_id == "acme" and first.event.text == ""
    assert first.event.occurred_at.seconds == int(T0 + 60)
    assert first.scores.status == scoring_pb2.SCORE_STATUS_SCORED
    assert second.scores.signals.negativity == pytest.approx(0.6)
    assert not unscored.HasField("scores")
