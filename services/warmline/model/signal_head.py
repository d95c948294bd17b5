"""The contact-center signal head: seven signals from a turn read with its context.

GoEmotions labels describe Reddit comments; contact-center signals need cues that
label set lacks (a repeated question, waiting, a threat to cancel, sarcasm about
the service) and the turns before. This head reads, for one customer turn:

* the turn's pooled sentence vector (the fine-tuned encoder's, 384 values);
* the pooled vectors of the customer's previous turn and of the last bot or agent
  turn before it (zeros when there is none), so "Really? Another delay?" is read
  after the bot's answer it reacts to;
* how similar the turn is to the customer's last three turns and the bot's latest
  answer to its previous one (cosine of the pooled vectors): the repeat cues;
* how many customer turns came before (log-scaled), and flags for which context
  is present;
* the label head's 28 calibrated GoEmotions probabilities (what GoEmotions taught).

It outputs seven logits (:data:`~warmline.model.taxonomy.SIGNALS` order) that
per-signal temperatures turn into probabilities. Context is late fusion: every
turn goes through the encoder once, alone; its pooled vector is reused for the
turns after it, so context costs no second encoder pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from warmline.model.head import MLPHead
from warmline.model.taxonomy import NUM_LABELS, SIGNALS

#: Width of the encoder's pooled sentence vector.
POOLED_DIM = 384
#: How many of the customer's previous turns the repeat similarity looks at.
REPEAT_WINDOW = 3
#: Scalar context features: has previous customer turn, has previous bot/agent
#: turn, repeat similarity, the other side's repeat similarity, log turn count.
NUM_SCALARS = 5
FEATURES = 3 * POOLED_DIM + NUM_SCALARS + NUM_LABELS

SIGNAL_HEAD_FILE = "signal_head.safetensors"
SITUATION_HEAD_FILE = "situation_head.safetensors"


@dataclass(frozen=True)
class TurnContext:
    """What the conversation so far says about one customer turn.

    ``previous_customer`` holds the pooled vectors of the customer's earlier turns,
    oldest first (at most :data:`REPEAT_WINDOW` are used); ``previous_other`` the
    pooled vector of the latest bot or agent turn, and ``other_repeat`` how similar
    that turn was to the one before it from the same side.
    """

    previous_customer: tuple[torch.Tensor, ...] = ()
    previous_other: torch.Tensor | None = None
    other_repeat: float = 0.0
    customer_turns: int = 0


NO_CONTEXT = TurnContext()


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two vectors, 0 when either is all zeros."""
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else 0.0


def repeat_similarity(pooled: torch.Tensor, context: TurnContext) -> float:
    """Highest cosine between this turn and the customer's last turns (0 when none)."""
    recent = context.previous_customer[-REPEAT_WINDOW:]
    return max((cosine(pooled, earlier) for earlier in recent), default=0.0)


def features(pooled: torch.Tensor, label_probs: torch.Tensor, context: TurnContext) -> torch.Tensor:
    """The head's input for one turn: (FEATURES,) float32."""
    zeros = torch.zeros(POOLED_DIM)
    previous = context.previous_customer[-1] if context.previous_customer else zeros
    other = context.previous_other if context.previous_other is not None else zeros
    scalars = torch.tensor(
        [
            float(bool(context.previous_customer)),
            float(context.previous_other is not None),
            repeat_similarity(pooled, context),
            context.other_repeat,
            math.log1p(context.customer_turns) / 2.0,
        ]
    )
    return torch.cat(
        [pooled.float(), previous.float(), other.float(), scalars, label_probs.float()]
    )


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
