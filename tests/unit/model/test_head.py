"""The model card (``model.json``): group rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from warmline.model.head import ModelCard


def test_a_card_without_group_rules_combines_groups_by_max(tmp_path: Path) -> None:
    ModelCard(model_version="v").save(tmp_path)
    card = ModelCard.load(tmp_path)
    assert card.group_rule("ekman") == "max"


def test_recorded_group_rules_round_trip(tmp_path: Path) -> None:
    ModelCard(model_version="v", group_rules={"ekman": "noisy-or", "sentiment": "sum"}).save(
        tmp_path
    )
    card = ModelCard.load(tmp_path)
    assert card.group_rule("ekman") == "noisy-or"
    assert card.group_rule("sentiment") == "sum"


def test_an_unknown_group_rule_is_refused(tmp_path: Path) -> None:
    ModelCard(model_version="v", group_rules={"ekman": "mean"}).save(tmp_path)
    with pytest.raises(ValueError, match="group_rules"):
        ModelCard.load(tmp_path)
