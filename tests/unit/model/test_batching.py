"""Length-bucketed batching and padding helpers."""

from __future__ import annotations

import random

import torch

from warmline.model.batching import (
    length_sorted_batches,
    pad_ids,
    shuffled_bucket_batches,
    token_budget_batches,
)


def test_sorted_batches_cover_every_index_once_in_length_order() -> None:
    lengths = [5, 1, 9, 3, 3, 7, 2]
    batches = length_sorted_batches(lengths, 3)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert [len(b) for b in batches] == [3, 3, 1]


def test_token_budget_batches_cover_every_index_once_longest_first() -> None:
    lengths = [random.Random(2).randint(1, 64) for _ in range(300)]
    batches = token_budget_batches(lengths, 256, 16)
    assert sorted(i for b in batches for i in b) == list(range(300))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths, reverse=True)
    for batch in batches:
        assert len(batch) <= 16
        assert len(batch) * max(lengths[i] for i in batch) <= 256


def test_token_budget_gives_short_texts_bigger_batches_and_overlong_ones_their_own() -> None:
    lengths = [300, 40, 40, 40, 10, 10, 10, 10, 10, 10]
    batches = token_budget_batches(lengths, 100, 4)
    assert [[lengths[i] for i in b] for b in batches] == [
        [300],
        [40, 40],
        [40, 10],
        [10, 10, 10, 10],
        [10],
    ]


def test_training_batches_cover_every_index_once() -> None:
    lengths = [random.Random(1).randint(1, 60) for _ in range(500)]
    batches = shuffled_bucket_batches(lengths, 16, random.Random(0), bucket_batches=4)
    assert sorted(i for b in batches for i in b) == list(range(500))


def test_pad_ids_pads_to_the_longest_with_zero_and_masks() -> None:
    ids, mask = pad_ids([[101, 7, 102], [101, 102]])
    assert ids.tolist() == [[101, 7, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert ids.dtype == torch.long
