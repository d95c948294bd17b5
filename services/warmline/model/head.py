"""The classification heads (torch): the label MLP and the group heads.

The bundle they are stored in is described in :mod:`warmline.model.bundle`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from warmline.model.bundle import GROUP_HEAD_FILE, HEAD_FILE, ModelCard
from warmline.model.taxonomy import NUM_LABELS


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
