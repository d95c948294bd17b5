"""Scoring a conversation's turns in order, each customer turn with the turns before it.

The scoring service and the backtest both use :class:`ContextualScorer`. Where the
context lives: the scorer keeps a small window per conversation in memory (the
customer's last turns and the latest bot or agent turn, as pooled sentence
vectors, and that answer's word pairs hashed to see it said again: never text).
Every topic is keyed by tenant/conversation, so one scoring replica sees all of a
conversation's turns, in order; nothing has to travel on the event. A window
that is lost (a restart, a rebalance that moves the partition, an idle
conversation evicted) costs accuracy, not correctness: the next turn is scored as
if it opened the conversation, exactly like the sync ``Score`` call.

No emotion is ever scored for bot and agent turns: they are read for context
only, as the bundle's heads were trained to read them (``encode_other``: the
encoder's pooled vector, or the mean of the word embeddings,
:mod:`warmline.model.word_vectors`). A bot's canned answers repeat, so their
vectors and word pairs are cached by text.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Protocol

import numpy as np
import numpy.typing as npt

from warmline.model.readout import Readout
from warmline.model.turn_features import (
    POOLED_DIM,
    REPEAT_WINDOW,
    Array,
    TurnContext,
    cosine,
    repeat_similarity,
)
from warmline.model.turns import Speaker, Turn, TurnScore

#: Bot/agent texts whose vectors and word pairs are kept for reuse (canned answers repeat).
OTHER_TEXT_CACHE = 4096

#: A pooled vector as a window keeps it (float16: half the memory).
_Stored = npt.NDArray[np.float16]

#: A bot answer's word pairs, hashed, sorted and unique (:func:`word_pairs`).
Pairs = npt.NDArray[np.int64]

#: An answer shorter than this many word pairs is never called a repeat by its words
#: ("Sure." is inside many answers).
MIN_REPEATED_PAIRS = 4

_ANSWER_WORD = re.compile(r"[a-z0-9£$€]+(?:['.,][a-z0-9]+)*")


def word_pairs(text: str) -> Pairs:
    """The text's adjacent word pairs, hashed, sorted and unique: what the window keeps
    of a bot answer to see it repeated inside a longer one (a fingerprint, not text;
    hashes are only compared within one process)."""
    words = _ANSWER_WORD.findall(text.lower())
    return np.unique(np.array([hash(pair) for pair in pairwise(words)], dtype=np.int64))


def contained(previous: Pairs, answer: Pairs) -> float:
    """The share of the previous answer's word pairs found again in ``answer`` (0 for
    an answer too short to call repeated): the same answer with a sentence added
    reads 1.0 where the word-mean vectors read under 0.9."""
    if len(previous) < MIN_REPEATED_PAIRS or not len(answer):
        return 0.0
    # Both sorted and unique: a binary search beats np.isin on arrays this small.
    at = np.minimum(np.searchsorted(answer, previous), len(answer) - 1)
    return float(np.count_nonzero(answer[at] == previous)) / len(previous)


class TurnReader(Protocol):
    """What the scorer needs of an engine: :class:`~warmline.model.engine.EmotionEngine`
    (torch) and :class:`~warmline.model.serving.ServingEngine` (no torch) both are one.
    Only the encoder differs between them; both read its outputs with the same
    :class:`~warmline.model.readout.Readout`."""

    @property
    def readout(self) -> Readout:
        """The bundle's screening, calibration and heads."""
        ...

    def encode(self, texts: Sequence[str]) -> Array:
        """Encoder outputs, one row per text, the pooled vector last."""
        ...

    def encode_other(self, texts: Sequence[str]) -> Array:
        """Bot and agent turns' vectors as the heads read them, one row per text."""
        ...


@dataclass
class _Window:
    customer: deque[_Stored] = field(default_factory=lambda: deque(maxlen=REPEAT_WINDOW))
    other: _Stored | None = None
    other_pairs: Pairs | None = None
    other_repeat: float = 0.0
    turns: int = 0
    customer_turns: int = 0
    touched: float = 0.0

    def context(self) -> TurnContext:
        return TurnContext(
            previous_customer=tuple(v.astype(np.float32) for v in self.customer),
            previous_other=None if self.other is None else self.other.astype(np.float32),
            other_repeat=self.other_repeat,
            customer_turns=self.customer_turns,
        )


class ConversationWindows:
    """Per-conversation windows, least recently used evicted past ``max_conversations``
    or after ``idle_seconds`` without a turn. ``max_conversations`` 0 keeps nothing."""

    def __init__(
        self,
        max_conversations: int = 20_000,
        idle_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_conversations = max_conversations
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def _get(self, conversation: str) -> _Window | None:
        window = self._windows.get(conversation)
        if window is not None and self._clock() - window.touched > self.idle_seconds:
            del self._windows[conversation]
            return None
        return window

    def context(self, conversation: str) -> tuple[TurnContext, int]:
        """The context for the conversation's next turn and how many turns it saw."""
        window = self._get(conversation) if conversation else None
        if window is None:
            return TurnContext(), 0
        return window.context(), window.turns

    def add(
        self, conversation: str, speaker: Speaker, vector: Array, pairs: Pairs | None = None
    ) -> tuple[int, float]:
        """Remember a turn's vector (stored as float16: half the memory); how many
        turns the window saw before it, and for a bot/agent turn how far it repeats
        the same side's previous one (0 for a customer turn or a first answer): the
        higher of the vectors' cosine and the share of the previous answer's word
        ``pairs`` said again (:func:`contained`). The heads read the cosine alone, as
        they were trained."""
        if not conversation or self.max_conversations <= 0:
            return 0, 0.0
        window = self._get(conversation) or _Window()
        seen = window.turns
        stored = vector.astype(np.float16)
        if speaker is Speaker.CUSTOMER:
            window.customer.append(stored)
            window.customer_turns += 1
        else:
            previous = window.other
            window.other_repeat = (
                0.0 if previous is None else cosine(vector, previous.astype(np.float32))
            )
            said_again = (
                0.0
                if window.other_pairs is None or pairs is None
                else contained(window.other_pairs, pairs)
            )
            window.other = stored
            window.other_pairs = pairs
        window.turns += 1
        window.touched = self._clock()
        self._windows[conversation] = window
        self._windows.move_to_end(conversation)
        while len(self._windows) > self.max_conversations:
            self._windows.popitem(last=False)
        if speaker is Speaker.CUSTOMER:
            return seen, 0.0
        return seen, max(window.other_repeat, said_again)

    def forget(self, conversation: str) -> None:
        """Drop a conversation's window (it ended)."""
        self._windows.pop(conversation, None)


@dataclass(frozen=True, slots=True)
class PendingTurn:
    """A customer turn read in its conversation, before the signal head runs."""

    index: int
    outputs: Array
    context: TurnContext
    context_turns: int
    repeat_similarity: float


@dataclass
class Reading:
    """:meth:`ContextualScorer.read`'s result: turns awaiting the heads, and the rest."""

    pending: list[PendingTurn] = field(default_factory=list)
    done: dict[int, TurnScore] = field(default_factory=dict)


class ContextualScorer:
    """Scores batches of turns with an engine (:class:`TurnReader`), each in its conversation.

    A batch may hold several turns of one conversation; they are read in batch
    order, so turn 3 sees turn 2 even when both arrive in one call. Every text goes
    through the encoder once, in one engine call per batch.
    """

    def __init__(self, engine: TurnReader, windows: ConversationWindows | None = None) -> None:
        self.engine = engine
        self.windows = windows if windows is not None else ConversationWindows()
        # A bot/agent text's vector and word pairs, read once (canned answers repeat).
        self._other_readings: OrderedDict[str, tuple[Array, Pairs]] = OrderedDict()

    def read(self, turns: Sequence[Turn]) -> Reading:
        """Encode the batch and walk it in order: the context of every customer turn
        to score, and the final :class:`TurnScore` of every other turn."""
        customers = [i for i, turn in enumerate(turns) if turn.speaker is Speaker.CUSTOMER]
        screened = dict(
            zip(
                customers,
                self.engine.readout.screen([turns[i].text for i in customers]),
                strict=True,
            )
        )
        keep_context = self.windows.max_conversations > 0
        to_encode = [i for i in customers if screened[i] is None]
        # Identical texts in one batch (canned bot answers) are read once.
        others = list(
            dict.fromkeys(
                turn.text
                for turn in turns
                if turn.speaker is Speaker.OTHER
                and keep_context
                and turn.conversation
                and turn.text.strip()
                and turn.text not in self._other_readings
            )
        )
        rows: dict[int, Array] = {}
        if to_encode:
            outputs = self.engine.encode([turns[i].text for i in to_encode])
            rows = {i: outputs[k] for k, i in enumerate(to_encode)}
        fresh: dict[str, Array] = {}
        if others:
            fresh = dict(zip(others, self.engine.encode_other(others), strict=True))
        reading = Reading()
        for i, turn in enumerate(turns):
            if turn.speaker is Speaker.END:
                self.windows.forget(turn.conversation)
                reading.done[i] = TurnScore(None)
                continue
            if turn.speaker is Speaker.OTHER:
                reading.done[i] = self._other_turn(turn, fresh.get(turn.text))
                continue
            early = screened[i]
            if early is not None:
                reading.done[i] = TurnScore(early)
                continue
            context, seen = self.windows.context(turn.conversation)
            vector = rows[i][-POOLED_DIM:]
            reading.pending.append(
                PendingTurn(i, rows[i], context, seen, repeat_similarity(vector, context))
            )
            self.windows.add(turn.conversation, Speaker.CUSTOMER, vector)
        return reading

    def score(self, turns: Sequence[Turn]) -> list[TurnScore]:
        """One :class:`TurnScore` per turn, in order."""
        reading = self.read(turns)
        found = reading.done
        if reading.pending:
            outputs = np.stack([p.outputs for p in reading.pending])
            results = self.engine.readout.results(
                outputs,
                [p.context for p in reading.pending],
                [turns[p.index].text for p in reading.pending],
            )
            for p, result in zip(reading.pending, results, strict=True):
                found[p.index] = TurnScore(result, p.context_turns, p.repeat_similarity)
        return [found[i] for i in range(len(turns))]

    def _other_turn(self, turn: Turn, fresh: Array | None) -> TurnScore:
        # Kept first: a text said twice in one batch is read once.
        reading = self._other_readings.get(turn.text)
        if reading is not None:
            self._other_readings.move_to_end(turn.text)
        elif fresh is not None:
            reading = (fresh.copy(), word_pairs(turn.text))
            self._other_readings[turn.text] = reading
            while len(self._other_readings) > OTHER_TEXT_CACHE:
                self._other_readings.popitem(last=False)
        if reading is None:
            return TurnScore(None)
        vector, pairs = reading
        seen, similarity = self.windows.add(turn.conversation, Speaker.OTHER, vector, pairs)
        return TurnScore(None, seen, similarity)

    def forget(self, conversation: str) -> None:
        """The conversation ended: drop its window."""
        self.windows.forget(conversation)
