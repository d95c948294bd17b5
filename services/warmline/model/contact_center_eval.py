"""``warmline model eval --suite contact-center``: the model on Warmline's own set.

Per customer turn (read in its conversation, as the scoring service reads it):
per-signal F1 at the bundle's thresholds and their macro average, negativity
ranking AUC, and negativity F1 at the policy's ``negative_turn_threshold`` (the
number the policy acts on). Per conversation: the backtest's escalation
precision, recall and F1 with the same policy, overall and per gold reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from warmline.decisioning.backtest import read_conversations as read_replay
from warmline.decisioning.backtest import run_backtest
from warmline.decisioning.policy import Policy
from warmline.model.contact_center import CCConversation, write_replay
from warmline.model.context import ContextualScorer, ConversationWindows
from warmline.model.engine import EmotionEngine
from warmline.model.metrics import f1_per_label
from warmline.model.signal_training import conversation_rows, signal_targets
from warmline.model.taxonomy import SIGNALS


def ranking_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Probability that a random positive outranks a random negative (ties count half)."""
    pos, neg = scores[positive.bool()], scores[~positive.bool()]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).float().sum()
    ties = (pos[:, None] == neg[None, :]).float().sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def turn_metrics(
    engine: EmotionEngine, conversations: Sequence[CCConversation], negative_threshold: float
) -> dict[str, Any]:
    """Turn-level metrics of ``engine`` on the labelled customer turns."""
    rows = conversation_rows(engine, conversations)
    if not rows:
        raise ValueError("no labelled customer turns to evaluate")
    x = torch.stack([row for *_, row in rows])
    targets = signal_targets([c.turns[i].signals or frozenset() for c, i, _ in rows])
    probs = engine.signal_probabilities_from_features(x, [c.turns[i].text for c, i, _ in rows])
    thresholds = engine.signal_thresholds()
    per = f1_per_label(probs >= thresholds, targets)
    negativity = SIGNALS.index("negativity")
    at_policy = f1_per_label(
        probs[:, negativity : negativity + 1] >= negative_threshold,
        targets[:, negativity : negativity + 1],
    )
    return {
        "turns": len(targets),
        "macro_f1": round(float(per.mean()), 4),
        "per_signal_f1": {name: round(float(v), 4) for name, v in zip(SIGNALS, per, strict=True)},
        "negativity_auc": round(ranking_auc(probs[:, negativity], targets[:, negativity]), 4),
        "negativity_f1_at_policy_threshold": round(float(at_policy[0]), 4),
        "policy_negative_turn_threshold": negative_threshold,
    }


def escalation_metrics(
    engine: EmotionEngine, conversations: Sequence[CCConversation], policy: Policy, scratch: Path
) -> dict[str, Any]:
    """The backtest's metrics on ``conversations`` (written as replay JSONL to ``scratch``)."""
    scorer = ContextualScorer(engine, ConversationWindows(10**6, float("inf")))
    metrics, _ = run_backtest(
        read_replay(write_replay(conversations, scratch)), policy, scorer.score
    )
    return metrics


def evaluate(
    engine: EmotionEngine,
    conversations: Sequence[CCConversation],
    policy: Policy,
    scratch: Path,
) -> dict[str, Any]:
    """Turn and escalation metrics of ``engine`` on ``conversations``."""
    return {
        "model_version": engine.model_version,
        "taxonomy_version": engine.taxonomy_version,
        "backend": engine.backend,
        "conversations": len(conversations),
        "turn": turn_metrics(
            engine, conversations, policy.defaults.thresholds.negative_turn_threshold
        ),
        "escalation": escalation_metrics(engine, conversations, policy, scratch),
    }
