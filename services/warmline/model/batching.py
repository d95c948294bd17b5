"""Length-bucketed batching and dynamic padding.

Attention and the Linear layers cost time per *padded* token, so texts of similar
length are batched together and each batch is padded only to its own longest member.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Split indices into batches of near-equal length (sorted ascending, stable).

    Callers restore the original order through the returned indices.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def token_budget_batches(
    lengths: Sequence[int], max_tokens: int, max_batch: int
) -> list[list[int]]:
    """Batches of near-equal length, longest first, each within a padded-token budget.

    Texts are sorted by length, longest first; a batch takes texts while (texts x
    its longest length) stays within ``max_tokens`` and it has at most ``max_batch``
    texts (a text longer than the budget gets a batch of its own). Every batch then
    costs about the same, short texts share bigger batches, and when batches run
    concurrently the costliest start first, so no worker is left with a long batch
    at the end while the others idle. Callers restore the order through the indices.
    """
    if max_tokens < 1 or max_batch < 1:
        raise ValueError("max_tokens and max_batch must be >= 1")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        # Sorted longest first, so the batch's first text sets its padded length.
        size = max(1, min(max_batch, max_tokens // max(1, lengths[order[start]])))
        batches.append(order[start : start + size])
        start += size
    return batches


def shuffled_bucket_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, bucket_batches: int = 50
) -> list[list[int]]:
    """Training batches: shuffle, sort within large buckets by length, shuffle batches.

    Keeps most of the padding saving of a full sort while every epoch still sees
    different batch compositions in a random order.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    bucket = batch_size * bucket_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        chunk = sorted(order[start : start + bucket], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def pad_ids(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists with 0 ([PAD]) to the longest; return ids and mask (long)."""
    import torch  # the torch backend and training only; the scoring image pads in numpy

    longest = max((len(seq) for seq in sequences), default=0)
    ids = torch.zeros(len(sequences), longest, dtype=torch.long)
    mask = torch.zeros(len(sequences), longest, dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask
