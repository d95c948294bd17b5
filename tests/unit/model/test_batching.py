"""Length-bucketed batching and padding helpers."""

from __future__ import annotations

import random

import torch

from warmline.model.batching import length_sorted_batches, pad_ids, shuffled_bucket_batches


def test_sorted_batches_cover_every_index_once_in_length_order() -> None:
    lengths = [5, 1, 9, 3, 3, 7, 2]
    batches = length_sorted_batches(lengths, 3)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert [len(b) for b in batches] == [3, 3, 1]


def test_training_batches_cover_every_index_once() -> None:
    lengths = [random.Random(1).randint(1, 60) for _ in range(500)]
    batches = shuffled_bucket_batches(lengths, 16, random.Random(0), bucket_batches=4)
    assert sorted(i for b in batches for i in b) == list(range(500))


def test_pad_ids_pads_to_the_longest_with_zero_and_masks() -> None:
    ids, mask = pad_ids([[101, 7, 102], [101, 102]])
    assert ids.tolist() == [[101, 7, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert ids.dtype == torch.long
