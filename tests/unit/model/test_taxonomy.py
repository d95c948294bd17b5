"""Label list and the label -> contact-center signal mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warmline.model.taxonomy import LABELS, SIGNAL_GROUPS, SIGNALS, signals


def test_label_list_is_the_28_goemotions_labels_in_file_order() -> None:
    assert len(LABELS) == 28
    assert len(set(LABELS)) == 28
    assert LABELS[0] == "admiration"
    assert LABELS[2] == "anger"
    assert LABELS[27] == "neutral"


def test_every_signal_member_is_a_label() -> None:
    for members in SIGNAL_GROUPS.values():
        assert set(members) <= set(LABELS)
    assert SIGNALS == (
        "frustration",
        "anger",
        "confusion",
        "distress",
        "gratitude",
        "negativity",
        "neutral",
    )


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=28, max_size=28))
def test_signals_stay_in_unit_interval(values: list[float]) -> None:
    out = signals(dict(zip(LABELS, values, strict=True)))
    assert set(out) == set(SIGNALS)
    assert all(0.0 <= v <= 1.0 for v in out.values())


def test_a_group_is_as_likely_as_its_clearest_member() -> None:
    probs = {"anger": 0.9, "annoyance": 0.2, "disapproval": 0.1, "gratitude": 0.05}
    out = signals(probs)
    assert out["frustration"] == pytest.approx(0.9)
    assert out["anger"] == pytest.approx(0.9)
    assert out["negativity"] == pytest.approx(0.9)
    assert out["gratitude"] == pytest.approx(0.05)
    assert out["confusion"] == 0.0  # missing labels count as 0


def test_max_does_not_inflate_correlated_members_like_noisy_or_would() -> None:
    probs = {"annoyance": 0.4, "disapproval": 0.4, "disappointment": 0.4}
    # Noisy-OR would give 1 - 0.6**3 = 0.784; max keeps the clearest member's 0.4.
    assert signals(probs)["frustration"] == pytest.approx(0.4)


def test_distress_and_negativity_membership() -> None:
    assert signals({"grief": 0.7})["distress"] == pytest.approx(0.7)
    assert signals({"disgust": 0.6})["negativity"] == pytest.approx(0.6)
    assert signals({"disgust": 0.6})["frustration"] == 0.0
    assert signals({"relief": 0.3, "joy": 0.8})["gratitude"] == pytest.approx(0.8)


def test_out_of_range_inputs_are_clamped() -> None:
    out = signals({"anger": 1.2, "neutral": -0.1})
    assert out["anger"] == 1.0
    assert out["neutral"] == 0.0
