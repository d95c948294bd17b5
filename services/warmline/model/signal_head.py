"""The contact-center signal head: seven signals from a turn read with its context.

GoEmotions labels describe Reddit comments; contact-center signals need cues that
label set lacks (a repeated question, waiting, a threat to cancel, sarcasm about
the service) and the turns before. This head (torch, for training) reads the row
:func:`warmline.model.turn_features.features` builds for one customer turn and
outputs seven logits (:data:`~warmline.model.taxonomy.SIGNALS` order) that
per-signal temperatures turn into probabilities. The scoring service runs the
trained weights with numpy (:mod:`warmline.model.readout`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from warmline.model.head import MLPHead
from warmline.model.taxonomy import SIGNALS
from warmline.model.turn_features import FEATURES


class SignalHead(MLPHead):
    """FEATURES -> hidden -> ``outputs`` logits, the label head's MLP on the wider
    input: the seven signals, or (``outputs=len(SITUATIONS)``) the situations."""

    def __init__(
        self, hidden: int = 256, dropout: float = 0.2, outputs: int = len(SIGNALS)
    ) -> None:
        super().__init__(in_dim=FEATURES, hidden=hidden, out_dim=outputs, dropout=dropout)
        self.hidden = hidden
        self.outputs = outputs


def merge_heads(heads: Sequence[SignalHead]) -> SignalHead:
    """One head whose logits are the mean of ``heads``' logits (an ensemble of heads
    trained from different seeds, at the cost of one wider MLP).

    Each head is ``W2 · gelu(W1 · x + b1) + b2``; stacking the first layers and
    dividing the concatenated second layers by ``k`` gives exactly the average.
    """
    if not heads:
        raise ValueError("no heads to merge")
    first = [_linear(head, 1) for head in heads]
    second = [_linear(head, 4) for head in heads]
    dropout = heads[0].net[0]
    rate = float(dropout.p) if isinstance(dropout, torch.nn.Dropout) else 0.0
    merged = SignalHead(sum(head.hidden for head in heads), rate, heads[0].outputs)
    with torch.no_grad():
        _linear(merged, 1).weight.copy_(torch.cat([layer.weight for layer in first]))
        _linear(merged, 1).bias.copy_(torch.cat([layer.bias for layer in first]))
        _linear(merged, 4).weight.copy_(
            torch.cat([layer.weight for layer in second], 1) / len(heads)
        )
        _linear(merged, 4).bias.copy_(torch.stack([layer.bias for layer in second]).mean(0))
    return merged.eval()


def _linear(head: SignalHead, index: int) -> torch.nn.Linear:
    """The head's first (``index`` 1) or second (4) linear layer."""
    layer = head.net[index]
    if not isinstance(layer, torch.nn.Linear):
        raise TypeError(f"layer {index} of the signal head is {type(layer).__name__}")
    return layer
