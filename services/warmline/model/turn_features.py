"""The input row of the signal and situation heads: one customer turn read with its
conversation so far (numpy, importable without torch).

A row holds, for one customer turn:

* the turn's pooled sentence vector (the fine-tuned encoder's, 384 values);
* the pooled vectors of the customer's previous turn and of the last bot or agent
  turn before it (zeros when there is none), so "Really? Another delay?" is read
  after the bot's answer it reacts to;
* how similar the turn is to the customer's last three turns and the bot's latest
  answer to its previous one (cosine of the pooled vectors): the repeat cues;
* how many customer turns came before (log-scaled), and flags for which context
  is present;
* the label head's 28 calibrated GoEmotions probabilities (what GoEmotions taught).

Context is late fusion: every turn goes through the encoder once, alone; its
pooled vector is reused for the turns after it, so context costs no second
encoder pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from warmline.model.taxonomy import NUM_LABELS

#: A float32 vector or matrix.
Array = npt.NDArray[np.float32]

#: Width of the encoder's pooled sentence vector.
POOLED_DIM = 384
#: How many of the customer's previous turns the repeat similarity looks at.
REPEAT_WINDOW = 3
#: Scalar context features: has previous customer turn, has previous bot/agent
#: turn, repeat similarity, the other side's repeat similarity, log turn count.
NUM_SCALARS = 5
FEATURES = 3 * POOLED_DIM + NUM_SCALARS + NUM_LABELS

_ZEROS: Array = np.zeros(POOLED_DIM, dtype=np.float32)


@dataclass(frozen=True)
class TurnContext:
    """What the conversation so far says about one customer turn.

    ``previous_customer`` holds the pooled vectors of the customer's earlier turns,
    oldest first (at most :data:`REPEAT_WINDOW` are used); ``previous_other`` the
    pooled vector of the latest bot or agent turn, and ``other_repeat`` how similar
    that turn was to the one before it from the same side.
    """

    previous_customer: tuple[Array, ...] = ()
    previous_other: Array | None = None
    other_repeat: float = 0.0
    customer_turns: int = 0


NO_CONTEXT = TurnContext()


def cosine(a: Array, b: Array) -> float:
    """Cosine similarity of two vectors, 0 when either is all zeros."""
    # Dot products, not np.linalg.norm: this runs for every turn and its window,
    # and norm's per-call overhead was most of the time.
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0 else 0.0


def repeat_similarity(pooled: Array, context: TurnContext) -> float:
    """Highest cosine between this turn and the customer's last turns (0 when none)."""
    recent = context.previous_customer[-REPEAT_WINDOW:]
    return max((cosine(pooled, earlier) for earlier in recent), default=0.0)


def features(pooled: Array, label_probs: Array, context: TurnContext) -> Array:
    """The heads' input for one turn: (FEATURES,) float32."""
    previous = context.previous_customer[-1] if context.previous_customer else _ZEROS
    other = context.previous_other if context.previous_other is not None else _ZEROS
    scalars = np.array(
        [
            float(bool(context.previous_customer)),
            float(context.previous_other is not None),
            repeat_similarity(pooled, context),
            context.other_repeat,
            math.log1p(context.customer_turns) / 2.0,
        ],
        dtype=np.float32,
    )
    return np.concatenate([pooled, previous, other, scalars, label_probs]).astype(
        np.float32, copy=False
    )
