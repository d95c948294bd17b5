"""Cached encoder features for training: lower-layer token states and pooled vectors.

Fine-tuning only the top ``k`` encoder layers means the lower layers give the same
output every epoch, so their token states are computed once and cached (fp16, flat,
outside the repository). The same pass finishes the frozen top layers and stores the
mean-pooled sentence vectors that the frozen-encoder head trains on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from warmline.model.batching import length_sorted_batches, pad_ids
from warmline.model.encoder import MiniLMEncoder, mean_pool
from warmline.model.encoder_files import ENCODER_SHA256

Progress = Callable[[int], None]


def default_cache_dir() -> Path:
    """``$WARMLINE_CACHE_DIR`` or ``~/.cache/warmline``, plus ``model-features``."""
    root = os.environ.get("WARMLINE_CACHE_DIR") or str(Path.home() / ".cache" / "warmline")
    return Path(root) / "model-features"


@dataclass(frozen=True)
class SplitFeatures:
    """Token states after layer ``layer`` (flat, fp16) and final pooled vectors (fp32)."""

    states: torch.Tensor
    lengths: torch.Tensor
    offsets: torch.Tensor
    pooled: torch.Tensor
    layer: int

    @classmethod
    def build(
        cls, states: torch.Tensor, lengths: torch.Tensor, pooled: torch.Tensor, layer: int
    ) -> SplitFeatures:
        """Derive row offsets from ``lengths``."""
        offsets = torch.zeros(len(lengths) + 1, dtype=torch.long)
        offsets[1:] = torch.cumsum(lengths, 0)
        return cls(states=states, lengths=lengths, offsets=offsets, pooled=pooled, layer=layer)

    def padded(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded fp32 states (batch, longest, dim) and mask (batch, longest) for ``rows``."""
        longest = int(max(int(self.lengths[r]) for r in rows))
        dim = self.states.shape[1]
        hidden = torch.zeros(len(rows), longest, dim)
        mask = torch.zeros(len(rows), longest, dtype=torch.long)
        for i, r in enumerate(rows):
            start, stop = int(self.offsets[r]), int(self.offsets[r + 1])
            hidden[i, : stop - start] = self.states[start:stop].float()
            mask[i, : stop - start] = 1
        return hidden, mask


def cache_key(texts: Sequence[str], max_length: int, layer: int) -> str:
    """Key over the texts, the encoder weights and the truncation/caching settings."""
    digest = hashlib.sha256()
    digest.update(f"{ENCODER_SHA256}|{max_length}|{layer}|".encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@torch.inference_mode()
def compute_features(
    encoder: MiniLMEncoder,
    token_ids: Sequence[Sequence[int]],
    layer: int,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> SplitFeatures:
    """Run the encoder once; keep states after ``layer`` layers and the pooled output."""
    lengths = torch.tensor([len(ids) for ids in token_ids], dtype=torch.long)
    offsets = torch.zeros(len(token_ids) + 1, dtype=torch.long)
    offsets[1:] = torch.cumsum(lengths, 0)
    states = torch.zeros(int(offsets[-1]), encoder.config.hidden_size, dtype=torch.float16)
    pooled = torch.zeros(len(token_ids), encoder.config.hidden_size)
    for rows in length_sorted_batches(lengths.tolist(), batch_size):
        ids, mask = pad_ids([token_ids[r] for r in rows])
        low = encoder.hidden_states(ids, mask, 0, layer)
        top = encoder.hidden_states(ids, mask, layer, None, hidden=low)
        pooled[rows] = mean_pool(top, mask)
        for i, r in enumerate(rows):
            start, stop = int(offsets[r]), int(offsets[r + 1])
            states[start:stop] = low[i, : stop - start].half()
        if progress is not None:
            progress(len(rows))
    return SplitFeatures.build(states, lengths, pooled, layer)


def load_or_compute(
    path: Path,
    compute: Callable[[], SplitFeatures],
) -> SplitFeatures:
    """Load cached features from ``path`` or compute and save them there."""
    if path.is_file():
        raw = load_file(str(path))
        layer = int(raw["layer"].item())
        return SplitFeatures.build(raw["states"], raw["lengths"], raw["pooled"], layer)
    features = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(
        {
            "states": features.states,
            "lengths": features.lengths,
            "pooled": features.pooled,
            "layer": torch.tensor([features.layer]),
        },
        str(tmp),
    )
    tmp.replace(path)
    return features
