"""What a conversation's turns are, for the scorer and everyone who feeds it.

Kept apart from :mod:`warmline.model.context` (which runs the model) so the
services that only build or read turns (decisioning's backtest, the CLI, the
contact-center data reader) import no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from warmline.model.results import EmotionResult


class Speaker(StrEnum):
    """Who wrote a turn: the customer (scored) or the bot/agent side (context only);
    ``END``: no text, the conversation ended and its window is dropped."""

    CUSTOMER = "customer"
    OTHER = "other"
    END = "end"


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn to read. ``conversation`` empty: no context is kept or used."""

    text: str
    speaker: Speaker = Speaker.CUSTOMER
    conversation: str = ""


@dataclass(frozen=True, slots=True)
class TurnScore:
    """What the scorer learned from one turn.

    ``result`` is None for bot and agent turns. ``context_turns`` counts the
    conversation's earlier turns the scorer had in its window; ``repeat_similarity``
    is the cosine between this turn and the same side's recent turns (the
    customer's last three, or the bot/agent's previous one), 0 when there were none.
    """

    result: EmotionResult | None
    context_turns: int = 0
    repeat_similarity: float = 0.0
