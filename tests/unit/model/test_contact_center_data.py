"""Warmline's own contact-center data: format, guide rules, splits, agreement."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from warmline.model import contact_center as cc
from warmline.model.annotation import agreement, cohen_kappa, read_labelling, resolve
from warmline.model.signal_training import train_signal_head


def test_the_evaluation_set_covers_channels_intents_and_both_parts() -> None:
    conversations = cc.read_conversations(cc.EVAL_FILE)
    turns = list(cc.labelled_turns(conversations))
    assert len(turns) >= 600
    assert {c.channel for c in conversations} == {"chat", "email", "voice"}
    intents = Counter(c.intent for c in conversations)
    for intent in ("how_to", "billing", "outage", "delivery", "cancellation"):
        assert intents[intent] > 0, intent
    for intent in ("bereavement", "fraud", "abuse", "gratitude"):
        assert intents[intent] > 0, intent
    assert {c.split for c in conversations} == {"dev", "test"}
    assert all(c.split == cc.split_of(c.id) for c in conversations)
    escalating = sum(1 for c in conversations if c.gold_escalation_turn is not None)
    assert 0.3 < escalating / len(conversations) < 0.7


def test_training_and_evaluation_conversations_share_no_text() -> None:
    evaluation = {t.text for c in cc.read_conversations(cc.EVAL_FILE) for t in c.customer_turns}
    training = {t.text for c in cc.read_conversations(cc.TRAIN_FILE) for t in c.customer_turns}
    assert len(cc.read_conversations(cc.TRAIN_FILE)) > 500
    # Short stock replies ("yes", "thanks") may coincide; real messages never do.
    shared = {text for text in evaluation & training if len(text.split()) > 4}
    assert not shared


def test_the_test_part_is_never_fitted_on(tmp_path: Path) -> None:
    conversations = cc.read_conversations(cc.EVAL_FILE)
    assert all(c.split == "dev" for c in cc.fitting_part(conversations))
    with pytest.raises(ValueError, match="test part"):
        train_signal_head(
            Path("unused"), tmp_path, Path("unused"), [], cc.part(conversations, "test")
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"turns": [{"role": "customer", "text": "hi", "signals": ["neutral", "gratitude"]}]},
            "neutral",
        ),
        ({"turns": [{"role": "customer", "text": "hi", "signals": ["anger"]}]}, "negativity"),
        ({"turns": [{"role": "customer", "text": "hi", "signals": ["cross"]}]}, "unknown signal"),
        ({"gold_escalation_turn": 3, "gold_reason": "abuse"}, "not a customer turn"),
        ({"gold_escalation_turn": 0, "gold_reason": "bored"}, "gold_reason"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_a_record_breaking_the_guide_is_refused_with_its_line(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    record = {
        "id": "x-1",
        "channel": "chat",
        "intent": "billing",
        "turns": [{"role": "customer", "text": "hi", "signals": ["neutral"]}],
        "gold_escalation_turn": None,
        "gold_reason": None,
    }
    record.update(change)
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(cc.DataError, match=message) as caught:
        cc.read_conversations(path)
    assert "bad.jsonl:1" in str(caught.value)


def test_cohen_kappa_matches_hand_computed_values() -> None:
    assert cohen_kappa([True, False, True, False], [True, False, True, False]) == 1.0
    # observed 0.5, expected 0.5: no better than chance
    assert cohen_kappa([True, True, False, False], [True, False, True, False]) == 0.0
    # observed 0.75, expected 0.5
    assert cohen_kappa([True, True, False, False], [True, True, True, False]) == 0.5


def test_the_committed_labellings_agree_and_every_disagreement_is_resolved() -> None:
    folder = cc.DATA_DIR / "annotations"
    first = read_labelling(sorted(folder.glob("labeller_a_*.jsonl")))
    second = read_labelling(sorted(folder.glob("labeller_b_*.jsonl")))
    report = agreement(first, second)
    assert report["turns"] >= 600
    assert float(report["kappa_mean"]) > 0.6
    resolutions = read_labelling([folder / "resolutions.jsonl"])
    conversations = cc.read_conversations(cc.EVAL_FILE)
    resolved = resolve(conversations, first, second, resolutions)
    assert resolved == conversations  # the committed set is exactly the resolution
    with pytest.raises(cc.DataError, match="no resolution"):
        resolve(conversations, first, second, {})
