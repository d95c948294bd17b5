"""The model card (``model.json``): group rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from warmline.model.bundle import ModelCard
from warmline.model.taxonomy import LABELS


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


def _card_with_group_head() -> ModelCard:
    return ModelCard(
        model_version="v",
        group_head={"ekman": {"joy": ["joy"], "anger": ["anger", "annoyance"]}},
        group_head_outputs=["ekman:joy", "ekman:anger"],
        group_rules={"ekman": "head"},
    )


def test_group_head_columns_follow_the_recorded_output_order(tmp_path: Path) -> None:
    _card_with_group_head().save(tmp_path)  # model.json sorts keys; the order survives
    card = ModelCard.load(tmp_path)
    assert card.group_head_kinds == ["ekman"]
    assert card.group_column("ekman", "joy") == len(LABELS)
    assert card.group_column("ekman", "anger") == len(LABELS) + 1


def test_group_head_outputs_must_name_every_group_once(tmp_path: Path) -> None:
    card = _card_with_group_head()
    card.group_head_outputs = ["ekman:joy"]
    card.save(tmp_path)
    with pytest.raises(ValueError, match="group_head_outputs"):
        ModelCard.load(tmp_path)


def test_the_head_rule_needs_a_group_head(tmp_path: Path) -> None:
    ModelCard(model_version="v", group_rules={"ekman": "head"}).save(tmp_path)
    with pytest.raises(ValueError, match="without a group head"):
        ModelCard.load(tmp_path)
