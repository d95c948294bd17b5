"""F1, threshold tuning, temperature scaling, ECE and group aggregation."""

from __future__ import annotations

import pytest
import torch

from warmline.model.metrics import (
    LABEL_GROUP_RULES,
    f1_per_label,
    fit_temperature,
    group_matrix,
    group_scores,
    micro_f1,
    reliability,
    tune_thresholds,
)


def test_f1_per_label_and_micro_by_hand() -> None:
    targets = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    preds = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    # label 0: tp1 fn1 -> 2/3; label 1: tp1 fp1 -> 2/3; pooled tp2 fp1 fn1 -> 2/3
    assert f1_per_label(preds, targets).tolist() == pytest.approx([2 / 3, 2 / 3])
    assert micro_f1(preds, targets) == pytest.approx(2 / 3)


def test_thresholds_separate_a_separable_label_and_default_without_positives() -> None:
    probs = torch.tensor([[0.30, 0.9], [0.25, 0.8], [0.10, 0.7], [0.05, 0.6]])
    targets = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    thresholds = tune_thresholds(probs, targets)
    assert 0.10 < float(thresholds[0]) <= 0.25
    assert float(f1_per_label(probs >= thresholds, targets)[0]) == 1.0
    assert float(thresholds[1]) == 0.5  # no positives: nothing to tune


def test_ece_is_zero_when_calibrated_and_one_when_confidently_wrong() -> None:
    probs = torch.full((100, 1), 0.3)
    targets = torch.zeros(100, 1)
    targets[:30] = 1.0
    assert reliability(probs, targets).ece == pytest.approx(0.0, abs=1e-6)
    wrong = reliability(torch.ones(10, 2), torch.zeros(10, 2))
    assert wrong.ece == pytest.approx(1.0)
    assert sum(wrong.counts) == 20
    assert len(wrong.edges) == 16


def test_temperature_recovers_a_known_overconfidence() -> None:
    generator = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 2, generator=generator) * 2
    targets = torch.bernoulli(torch.sigmoid(true_logits), generator=generator)
    shared = fit_temperature(true_logits * 3, targets, per_label=False)
    assert shared.shape == (2,)
    assert float(shared[0]) == pytest.approx(3.0, rel=0.15)
    per_label = fit_temperature(true_logits * torch.tensor([3.0, 0.5]), targets, per_label=True)
    assert per_label.tolist() == pytest.approx([3.0, 0.5], rel=0.15)


def test_group_matrix_takes_the_max_over_members() -> None:
    labels = ("a", "b", "c")
    values = torch.tensor([[0.1, 0.7, 0.2], [0.4, 0.0, 0.9]])
    out = group_matrix(values, labels, {"ab": ["a", "b"], "c": ["c"]})
    assert torch.allclose(out, torch.tensor([[0.7, 0.2], [0.4, 0.9]]))


def test_group_scores_by_rule() -> None:
    labels = ("a", "b", "c")
    probs = torch.tensor([[0.4, 0.4, 0.9], [0.8, 0.5, 0.0]])
    groups = {"ab": ["a", "b"], "c": ["c"]}
    by_rule = {rule: group_scores(probs, labels, groups, rule) for rule in LABEL_GROUP_RULES}
    assert by_rule["max"][:, 0].tolist() == pytest.approx([0.4, 0.8])
    assert by_rule["noisy-or"][:, 0].tolist() == pytest.approx([1 - 0.6 * 0.6, 1 - 0.2 * 0.5])
    assert by_rule["sum"][:, 0].tolist() == pytest.approx([0.8, 1.0])  # clipped to 1
    for scores in by_rule.values():  # a one-member group is its member under every rule
        assert scores[:, 1].tolist() == pytest.approx([0.9, 0.0])
    assert torch.equal(by_rule["max"], group_matrix(probs, labels, groups))


def test_group_rules_never_score_below_the_clearest_member() -> None:
    probs = torch.rand(200, 3, generator=torch.Generator().manual_seed(1))
    groups = {"all": ["a", "b", "c"]}
    clearest = probs.amax(1)
    for rule in LABEL_GROUP_RULES:
        scores = group_scores(probs, ("a", "b", "c"), groups, rule)[:, 0]
        assert bool((scores >= clearest - 1e-6).all())
        assert bool((scores <= 1.0).all())


def test_the_head_rule_is_not_a_label_rule() -> None:
    with pytest.raises(ValueError, match="not a label group rule"):
        group_scores(torch.zeros(1, 1), ("a",), {"a": ["a"]}, "head")
