"""Multi-label metrics, threshold tuning, temperature scaling and calibration error.

All functions take torch tensors: ``probs``/``logits`` and ``targets`` of shape
(n, labels), targets 0/1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from warmline.model.bundle import GroupRule

#: Candidate thresholds for per-label tuning: 0.01 .. 0.99.
THRESHOLD_GRID = torch.linspace(0.01, 0.99, 99)


def f1_per_label(preds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """F1 of each column; a label with no positives and no predictions scores 0."""
    preds = preds.float()
    tp = (preds * targets).sum(0)
    fp = (preds * (1 - targets)).sum(0)
    fn = ((1 - preds) * targets).sum(0)
    denom = 2 * tp + fp + fn
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(tp))


def micro_f1(preds: torch.Tensor, targets: torch.Tensor) -> float:
    """F1 over all (example, label) cells pooled."""
    preds = preds.float()
    tp = float((preds * targets).sum())
    fp = float((preds * (1 - targets)).sum())
    fn = float(((1 - preds) * targets).sum())
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else 0.0


def tune_thresholds(
    probs: torch.Tensor, targets: torch.Tensor, grid: torch.Tensor = THRESHOLD_GRID
) -> torch.Tensor:
    """Per-label threshold from ``grid`` maximising that label's F1 (ties: lowest).

    Labels without positives keep 0.5: there is nothing to tune on.
    """
    # (grid, n, labels) would be large; loop over the grid instead (99 steps).
    scores = torch.stack([f1_per_label(probs >= t, targets) for t in grid])
    best = grid[scores.argmax(0)]
    has_pos = targets.sum(0) > 0
    return torch.where(has_pos, best, torch.full_like(best, 0.5))


#: Temperatures are kept inside this range; outside it the fit is degenerate.
TEMPERATURE_RANGE = (0.05, 20.0)
#: Labels with fewer positives than this use the shared temperature.
MIN_POSITIVES_PER_LABEL = 10


def _fit_log_temperature(
    logits: torch.Tensor, targets: torch.Tensor, size: int, steps: int
) -> torch.Tensor:
    low, high = (math.log(bound) for bound in TEMPERATURE_RANGE)
    log_t = torch.zeros(size, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        scaled = logits / log_t.clamp(low, high).exp()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scaled, targets)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    with torch.enable_grad():
        optimiser.step(closure)  # type: ignore[no-untyped-call]
    return log_t.detach().clamp(low, high)


def fit_temperature(
    logits: torch.Tensor, targets: torch.Tensor, per_label: bool, steps: int = 200
) -> torch.Tensor:
    """Temperatures minimising BCE of ``sigmoid(logits / T)``: shape (labels,).

    Optimised over log T, clamped to :data:`TEMPERATURE_RANGE`. With ``per_label``
    each label gets its own temperature, except labels with fewer than
    :data:`MIN_POSITIVES_PER_LABEL` positives, which keep the shared one: with no
    positives the BCE optimum is T -> 0 (push every probability to 0).
    """
    labels = logits.shape[1]
    shared = _fit_log_temperature(logits, targets, 1, steps).exp().expand(labels).clone()
    if not per_label:
        return shared
    own = _fit_log_temperature(logits, targets, labels, steps).exp()
    enough = targets.sum(0) >= MIN_POSITIVES_PER_LABEL
    return torch.where(enough, own, shared)


@dataclass(frozen=True)
class Reliability:
    """Equal-width reliability bins: mean confidence, positive rate and count per bin."""

    edges: list[float]
    confidence: list[float]
    frequency: list[float]
    counts: list[int]
    ece: float


def reliability(probs: torch.Tensor, targets: torch.Tensor, bins: int = 15) -> Reliability:
    """Expected calibration error over all label probabilities, ``bins`` equal-width bins.

    Definition used throughout Warmline: every (example, label) probability is one
    prediction of a binary event; predictions are binned by probability on [0, 1]
    into 15 equal-width bins; ECE = sum over bins of (bin count / total) *
    |mean probability - fraction of positives|. Because most cells are confident
    negatives this "all-cells" ECE is smaller than a top-label ECE would be.
    """
    p = probs.flatten().double()
    y = targets.flatten().double()
    index = (p * bins).long().clamp(max=bins - 1)
    counts = torch.bincount(index, minlength=bins).double()
    conf_sum = torch.bincount(index, weights=p, minlength=bins)
    pos_sum = torch.bincount(index, weights=y, minlength=bins)
    safe = counts.clamp(min=1)
    confidence = conf_sum / safe
    frequency = pos_sum / safe
    ece = float(((counts / counts.sum()) * (confidence - frequency).abs()).sum())
    return Reliability(
        edges=[i / bins for i in range(bins + 1)],
        confidence=confidence.tolist(),
        frequency=frequency.tolist(),
        counts=[int(c) for c in counts.tolist()],
        ece=ece,
    )


def group_matrix(
    values: torch.Tensor, labels: tuple[str, ...], groups: dict[str, list[str]]
) -> torch.Tensor:
    """Per group, the max over its member columns: (n, groups) in ``groups`` order.

    For 0/1 targets this is "any member label present" (gold groups); for
    probabilities it is :func:`group_scores` with the ``"max"`` rule.
    """
    columns = []
    for members in groups.values():
        idx = [labels.index(m) for m in members]
        columns.append(values[:, idx].max(1).values)
    return torch.stack(columns, 1)


#: The group rules computed from label probabilities alone (see :data:`GROUP_RULES`).
LABEL_GROUP_RULES: tuple[GroupRule, ...] = ("max", "noisy-or", "sum")


def group_scores(
    probs: torch.Tensor,
    labels: tuple[str, ...],
    groups: dict[str, list[str]],
    rule: GroupRule,
) -> torch.Tensor:
    """Group probabilities (n, groups) in ``groups`` order, combined from the label
    probabilities by ``rule`` (one of :data:`LABEL_GROUP_RULES`)."""
    columns = []
    for members in groups.values():
        member_probs = probs[:, [labels.index(m) for m in members]]
        if rule == "max":
            columns.append(member_probs.amax(1))
        elif rule == "noisy-or":
            columns.append(1 - (1 - member_probs).prod(1))
        elif rule == "sum":
            columns.append(member_probs.sum(1).clamp(max=1.0))
        else:
            raise ValueError(f"{rule!r} is not a label group rule; known: {LABEL_GROUP_RULES}")
    return torch.stack(columns, 1)
