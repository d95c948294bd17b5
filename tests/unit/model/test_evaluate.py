"""Group metrics: which group probabilities a bundle's rule uses."""

from __future__ import annotations

import torch

from warmline.model.bundle import ModelCard
from warmline.model.evaluate import group_predictions, head_group_probabilities
from warmline.model.taxonomy import LABELS

GROUPS = {"anger": ["anger", "annoyance"], "joy": ["joy"]}


def _card() -> ModelCard:
    return ModelCard(
        model_version="v",
        group_head={"ekman": {"joy": ["joy"], "anger": ["annoyance", "anger"]}},
        group_head_outputs=["ekman:joy", "ekman:anger"],
        group_rules={"ekman": "head"},
    )


def test_head_probabilities_come_back_in_the_mapping_order() -> None:
    outputs = torch.zeros(2, len(LABELS) + 2)
    outputs[:, len(LABELS)] = 4.0  # joy
    outputs[:, len(LABELS) + 1] = -4.0  # anger
    found = head_group_probabilities(outputs, _card(), {"ekman": GROUPS})
    assert found["ekman"][:, 0].tolist() == [torch.sigmoid(torch.tensor(-4.0)).item()] * 2
    assert found["ekman"][:, 1].tolist() == [torch.sigmoid(torch.tensor(4.0)).item()] * 2


def test_a_different_mapping_gets_no_head_probabilities() -> None:
    outputs = torch.zeros(1, len(LABELS) + 2)
    other = {"anger": ["anger"], "joy": ["joy"]}
    assert head_group_probabilities(outputs, _card(), {"ekman": other}) == {}


def test_the_head_rule_uses_the_head_and_falls_back_to_label_thresholds_without_it() -> None:
    probs = torch.zeros(1, len(LABELS))
    probs[0, LABELS.index("joy")] = 0.9
    thresholds = torch.full((len(LABELS),), 0.5)
    limits = {"anger": 0.5, "joy": 0.5}
    head = torch.tensor([[0.8, 0.1]])  # the head says anger, not joy
    with_head = group_predictions(probs, thresholds, GROUPS, limits, "head", head)
    assert with_head.tolist() == [[1.0, 0.0]]
    without = group_predictions(probs, thresholds, GROUPS, limits, "head", None)
    assert without.tolist() == [[0.0, 1.0]]  # joy's own label passed its threshold
