"""Evaluation: label, Ekman and sentiment F1 and calibration on a GoEmotions split.

Group metrics (Ekman, sentiment): a text is positive for a group when any of its
gold labels belongs to the group. The predicted group probability follows the
grouping's rule in ``model.json`` (``group_rules``, see
:data:`~warmline.model.metrics.GroupRule`; chosen at training time by a 2-fold
cross-fit on dev; ``"max"`` for bundles that record none): either the member labels'
calibrated probabilities combined by max, noisy-OR or a clipped sum, or
(``"head"``) the bundle's group head, which was trained on the groups of the
mapping files themselves and is used only when the data directory's mapping is the
one it was trained on. A group is predicted when that probability reaches the
group's threshold, tuned on dev at training time and stored in ``model.json``; for a
mapping the bundle has no thresholds (or no matching group head) for, a group is
predicted when any member label is predicted with its own threshold.

The contact-center signals of :mod:`warmline.model.taxonomy` always use max; the
rule here only defines how the Ekman and sentiment metrics are computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from warmline.model.bundle import GroupRule, ModelCard
from warmline.model.data import check_labels, read_grouping, read_split
from warmline.model.metrics import (
    Reliability,
    f1_per_label,
    group_matrix,
    group_scores,
    micro_f1,
    reliability,
)
from warmline.model.taxonomy import LABELS

if TYPE_CHECKING:
    from warmline.model.engine import Backend

GROUPINGS = ("ekman", "sentiment")


@dataclass(frozen=True)
class Evaluation:
    """Metrics for the JSON output plus the reliability bins for the report."""

    metrics: dict[str, Any]
    reliability: Reliability


def head_group_probabilities(
    outputs: torch.Tensor, card: ModelCard, groupings: dict[str, dict[str, list[str]]]
) -> dict[str, torch.Tensor]:
    """Group-head probabilities (n, groups) in each grouping's ``groups`` order, for
    the groupings whose groups and members are those the group head was trained on."""
    found = {}
    for kind, groups in groupings.items():
        trained = card.group_head.get(kind, {})
        same = set(trained) == set(groups) and all(
            set(trained[name]) == set(members) for name, members in groups.items()
        )
        if same:
            index = [card.group_column(kind, name) for name in groups]
            found[kind] = torch.sigmoid(outputs[:, index])
    return found


def group_predictions(
    probs: torch.Tensor,
    thresholds: torch.Tensor,
    groups: dict[str, list[str]],
    group_thresholds: dict[str, float] | None,
    rule: GroupRule = "max",
    head_probs: torch.Tensor | None = None,
) -> torch.Tensor:
    """0/1 predictions per group, columns in ``groups`` order (rules: module docstring).

    ``head_probs``: the group head's probabilities for these groups, where it has them.
    """
    usable = rule != "head" or head_probs is not None
    if usable and group_thresholds is not None and set(group_thresholds) == set(groups):
        limits = torch.tensor([group_thresholds[name] for name in groups])
        if rule == "head" and head_probs is not None:
            return (head_probs >= limits).float()
        return (group_scores(probs, LABELS, groups, rule) >= limits).float()
    label_preds = (probs >= thresholds).float()
    return group_matrix(label_preds, LABELS, groups)


def compute_metrics(
    probs: torch.Tensor,
    targets: torch.Tensor,
    card: ModelCard,
    groupings: dict[str, dict[str, list[str]]],
    head_probs: dict[str, torch.Tensor] | None = None,
) -> Evaluation:
    """All metrics for calibrated ``probs`` against 0/1 ``targets`` (n, 28).

    ``head_probs``: group-head probabilities per grouping
    (:func:`head_group_probabilities`).
    """
    head_probs = head_probs or {}
    thresholds = torch.tensor(card.thresholds)
    preds = (probs >= thresholds).float()
    per_label = f1_per_label(preds, targets)
    rel = reliability(probs, targets)
    metrics: dict[str, Any] = {
        "macro_f1": float(per_label.mean()),
        "micro_f1": micro_f1(preds, targets),
    }
    for kind, groups in groupings.items():
        gold = group_matrix(targets, LABELS, groups)
        pred = group_predictions(
            probs,
            thresholds,
            groups,
            card.group_thresholds.get(kind),
            card.group_rule(kind),
            head_probs.get(kind),
        )
        group_f1 = f1_per_label(pred, gold)
        metrics[f"{kind}_macro_f1"] = float(group_f1.mean())
        metrics[f"{kind}_per_group_f1"] = dict(
            zip(groups, (round(v, 4) for v in group_f1.tolist()), strict=True)
        )
    metrics["per_label_f1"] = dict(
        zip(LABELS, (round(v, 4) for v in per_label.tolist()), strict=True)
    )
    metrics["ece"] = rel.ece
    metrics["model_version"] = card.model_version
    metrics["examples"] = len(targets)
    return Evaluation(metrics=metrics, reliability=rel)


def evaluate_split(
    data_dir: Path,
    split: str,
    model_dir: Path | None = None,
    *,
    threads: int | None = None,
    quantize: bool = False,
    backend: Backend = "auto",
) -> Evaluation:
    """Score every text of ``split`` (no language gate) and compute the metrics."""
    # Imported here so the metric helpers above stay importable without the encoder.
    from warmline.model.engine import EmotionEngine

    check_labels(data_dir)
    engine = EmotionEngine(model_dir, threads=threads, quantize=quantize, backend=backend)
    data = read_split(data_dir, split)
    groupings = {kind: read_grouping(data_dir, kind) for kind in GROUPINGS}
    outputs = engine.outputs(data.texts)
    probs = torch.sigmoid(outputs[:, : len(LABELS)] / engine.temperatures.cpu())
    head_probs = head_group_probabilities(outputs, engine.card, groupings)
    evaluation = compute_metrics(probs, data.labels, engine.card, groupings, head_probs)
    evaluation.metrics["split"] = split
    evaluation.metrics["quantized"] = engine.quantized
    evaluation.metrics["backend"] = engine.backend
    return evaluation


#: Keys of the JSON summary the CLI prints, in this order.
SUMMARY_KEYS = (
    "macro_f1",
    "micro_f1",
    "ekman_macro_f1",
    "sentiment_macro_f1",
    "per_label_f1",
    "ece",
    "model_version",
)


def summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The documented JSON subset of ``metrics`` (other keys go to the report)."""
    return {key: metrics[key] for key in SUMMARY_KEYS if key in metrics}
