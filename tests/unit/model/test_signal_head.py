"""Merging signal heads trained from different seeds into one."""

from __future__ import annotations

import pytest
import torch

from warmline.model.signal_head import FEATURES, SignalHead, merge_heads
from warmline.model.taxonomy import SIGNALS


def trained_like(seed: int, hidden: int = 16) -> SignalHead:
    torch.manual_seed(seed)
    head = SignalHead(hidden=hidden).eval()
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.normal_()
    return head


def test_the_merged_head_gives_the_mean_logit_of_its_members() -> None:
    heads = [trained_like(seed) for seed in (1, 2, 3)]
    rows = torch.randn(5, FEATURES)
    merged = merge_heads(heads)
    with torch.no_grad():
        expected = torch.stack([head(rows) for head in heads]).mean(0)
        got = merged(rows)
    assert merged.hidden == 48
    assert got.shape == (5, len(SIGNALS))
    assert torch.allclose(got, expected, atol=1e-5)
    # Not just one member: each alone answers differently.
    assert not torch.allclose(got, heads[0](rows), atol=1e-3)


def test_merging_no_heads_is_refused() -> None:
    with pytest.raises(ValueError, match="no heads"):
        merge_heads([])


def test_a_head_digest_follows_the_weights() -> None:
    from warmline.model.signal_training import head_digest

    assert head_digest(trained_like(1)) == head_digest(trained_like(1))
    assert head_digest(trained_like(1)) != head_digest(trained_like(2))
