"""From the encoder's outputs to calibrated results: numpy only, the same for every backend.

The encoder graph (torch, or ONNX Runtime) ends with the label and group heads'
logits and the pooled sentence vector. Everything after it runs here: label
temperatures and thresholds, the contact-center signal and situation heads (their
trained weights, read from the bundle), the lexical blend and the screening of
empty and non-English texts. The scoring image has no torch, so this is the one
implementation of that reading; training fits the heads in torch
(:mod:`warmline.model.signal_head`) and saves them where this reads them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from warmline.model.bundle import SIGNAL_HEAD_FILE, SITUATION_HEAD_FILE, ModelCard
from warmline.model.encoder_files import MAX_CHARS
from warmline.model.language import detect
from warmline.model.lexical import LexicalModel
from warmline.model.results import EmotionResult, Status
from warmline.model.taxonomy import (
    LABELS,
    NUM_LABELS,
    SIGNAL_GROUPS,
    SIGNAL_HEAD_TAXONOMY_VERSION,
    SIGNALS,
    SITUATIONS,
    TAXONOMY_VERSION,
)
from warmline.model.turn_features import NO_CONTEXT, POOLED_DIM, Array, TurnContext, features


def sigmoid(x: Array) -> Array:
    """The logistic function, elementwise.

    Clipped where float32 saturates anyway (|x| > 88 overflows ``exp``: the answer
    is the same 0 or 1, without numpy's overflow warning)."""
    return (1.0 / (1.0 + np.exp(-np.clip(x, -88.0, 88.0)))).astype(np.float32, copy=False)


def _erf(x: Array) -> Array:
    """erf by Abramowitz and Stegun 7.1.26 (absolute error at most 1.5e-7): numpy has
    no erf, and torch's exact GELU is what the heads were trained with."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: Array = sign * (1.0 - poly * np.exp(-a * a))
    return out


def gelu(x: Array) -> Array:
    """Exact (erf) GELU, as ``torch.nn.GELU()``."""
    out: Array = 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    return out


class DenseHead:
    """A trained head (``warmline.model.head.MLPHead``: Linear, GELU, Linear) read
    for inference: dropout is off, so two matrix products and a GELU."""

    def __init__(self, path: Path) -> None:
        arrays = load_file(str(path))
        try:
            self.w1, self.b1 = arrays["net.1.weight"], arrays["net.1.bias"]
            self.w2, self.b2 = arrays["net.4.weight"], arrays["net.4.bias"]
        except KeyError as exc:
            raise ValueError(f"{path}: not an MLP head (no {exc.args[0]})") from exc

    def __call__(self, rows: Array) -> Array:
        """Logits (n, outputs) of input rows (n, inputs)."""
        out: Array = gelu(rows @ self.w1.T + self.b1) @ self.w2.T + self.b2
        return out


class Readout:
    """The bundle's calibration and contact-center heads, applied to encoder outputs.

    ``check_language`` False scores every non-empty text (evaluation on data known
    to be English)."""

    def __init__(self, model_dir: Path, *, check_language: bool = True) -> None:
        self.card = ModelCard.load(model_dir)
        self.check_language = check_language
        self.temperatures = np.array(self.card.temperatures, dtype=np.float32)
        self.thresholds = np.array(self.card.thresholds, dtype=np.float32)
        self._signal_columns = [
            [LABELS.index(label) for label in members] for members in SIGNAL_GROUPS.values()
        ]
        self.signal_head: DenseHead | None = None
        self.lexical: LexicalModel | None = None
        if self.card.signal_head_hidden:
            self.signal_head = DenseHead(model_dir / SIGNAL_HEAD_FILE)
            self.signal_temperatures = np.array(self.card.signal_temperatures, dtype=np.float32)
            if self.card.lexical_weight:
                self.lexical = LexicalModel.load(model_dir)
        self.situation_head: DenseHead | None = None
        if self.card.situation_head_hidden:
            self.situation_head = DenseHead(model_dir / SITUATION_HEAD_FILE)
            self.situation_temperatures = np.array(
                self.card.situation_temperatures, dtype=np.float32
            )
        self.taxonomy_version = (
            SIGNAL_HEAD_TAXONOMY_VERSION if self.signal_head is not None else TAXONOMY_VERSION
        )

    @property
    def model_version(self) -> str:
        """Version string of the bundle (from ``model.json``)."""
        return self.card.model_version

    @property
    def width(self) -> int:
        """Columns of an encoder output row: labels, group outputs, pooled vector."""
        return NUM_LABELS + self.card.group_outputs + POOLED_DIM

    def gather(self, batches: Iterator[tuple[list[int], Array]], count: int) -> Array:
        """The rows of ``batches`` (row indices, outputs) put back in input order."""
        out = np.zeros((count, self.width), dtype=np.float32)
        for rows, outputs in batches:
            out[rows] = outputs
        return out

    def split(self, outputs: Array) -> tuple[Array, Array]:
        """(calibrated label probabilities (n, 28), pooled vectors (n, 384)) of outputs."""
        probs = sigmoid(outputs[:, :NUM_LABELS] / self.temperatures)
        return probs, outputs[:, -POOLED_DIM:]

    def feature_rows(self, probs: Array, pooled: Array, contexts: Sequence[TurnContext]) -> Array:
        """The signal and situation heads' input rows (n, FEATURES)."""
        return np.stack(
            [features(p, lp, c) for p, lp, c in zip(pooled, probs, contexts, strict=True)]
        )

    def signals_from_labels(self, probs: Array) -> Array:
        """Signals as the max over their member labels (bundles without a signal head)."""
        return np.stack([probs[:, cols].max(1) for cols in self._signal_columns], 1)

    def signal_probabilities(self, rows: Array, texts: Sequence[str] | None = None) -> Array:
        """Calibrated signals (n, 7) of feature rows and their texts.

        With a lexical model (``card.lexical_weight``) the head's probabilities are
        averaged with the lexical model's on ``texts``, which it then needs. A
        bundle without a signal head takes the max over member labels, which it
        reads back from the rows' label probabilities."""
        if self.signal_head is None:
            return self.signals_from_labels(rows[:, -NUM_LABELS:])
        head = sigmoid(self.signal_head(rows) / self.signal_temperatures)
        if self.lexical is None:
            return head
        if texts is None or len(texts) != len(rows):
            raise ValueError("this bundle blends a lexical model: give the texts of the rows")
        weight = self.card.lexical_weight
        blended: Array = (1 - weight) * head + weight * self.lexical.probabilities(texts)
        return blended

    def situation_probabilities(self, rows: Array) -> Array | None:
        """Calibrated situations (n, 4) of feature rows; None without a situation head."""
        if self.situation_head is None:
            return None
        return sigmoid(self.situation_head(rows) / self.situation_temperatures)

    def signal_thresholds(self) -> Array:
        """Per-signal decision thresholds (0.5 each for a bundle without a signal head)."""
        if self.signal_head is None:
            return np.full(len(SIGNALS), 0.5, dtype=np.float32)
        return np.array(self.card.signal_thresholds, dtype=np.float32)

    def results(
        self,
        outputs: Array,
        contexts: Sequence[TurnContext] | None = None,
        texts: Sequence[str] | None = None,
    ) -> list[EmotionResult]:
        """SCORED results for encoder output rows (of ``texts``) read with ``contexts``
        (none: every turn alone): labels past their thresholds, signals, situations."""
        probs, pooled = self.split(outputs)
        situation_values: list[list[float]] = [[] for _ in range(len(probs))]
        if self.signal_head is None:
            signal_values = self.signals_from_labels(probs)
        else:
            rows = self.feature_rows(probs, pooled, contexts or [NO_CONTEXT] * len(probs))
            signal_values = self.signal_probabilities(rows, texts)
            situations = self.situation_probabilities(rows)
            if situations is not None:
                situation_values = situations.tolist()
        version, taxonomy = self.model_version, self.taxonomy_version
        return [
            EmotionResult(
                Status.SCORED,
                version,
                taxonomy,
                probabilities=dict(zip(LABELS, label_probs, strict=True)),
                signals=dict(zip(SIGNALS, signal_probs, strict=True)),
                labels=[label for label, ok in zip(LABELS, passed, strict=True) if ok],
                situations=dict(zip(SITUATIONS, situation_probs, strict=False)),
            )
            for label_probs, signal_probs, passed, situation_probs in zip(
                probs.tolist(),
                signal_values.tolist(),
                (probs >= self.thresholds).tolist(),
                situation_values,
                strict=True,
            )
        ]

    def screen(self, texts: Sequence[str]) -> list[EmotionResult | None]:
        """EMPTY or UNSUPPORTED_LANGUAGE results for texts the model must not score,
        None for the texts it should."""
        version, taxonomy = self.model_version, self.taxonomy_version
        screened: list[EmotionResult | None] = []
        for text in texts:
            if not text.strip():
                screened.append(EmotionResult(Status.EMPTY, version, taxonomy, language="und"))
                continue
            guess = detect(text[:MAX_CHARS]) if self.check_language else None
            if guess is not None and not guess.supported:
                screened.append(
                    EmotionResult(
                        Status.UNSUPPORTED_LANGUAGE, version, taxonomy, language=guess.language
                    )
                )
                continue
            screened.append(None)
        return screened


#: Rows read out together: finished model batches (about 16 texts each) are read
#: in groups of at least this many, since the heads' per-call cost dominates small
#: groups (on a 2-core Xeon, 2026-12-06: 38 ms per 512 texts read 16 at a time,
#: 24 ms 64 at a time, 21 ms all at once; the engine scored about 6% more texts/s),
#: while groups are still read as later model batches run.
READOUT_ROWS = 64


def grouped(
    batches: Iterator[tuple[list[int], Array]], rows_per_group: int = READOUT_ROWS
) -> Iterator[tuple[list[int], Array]]:
    """``batches`` (row indices, outputs) joined into groups of at least
    ``rows_per_group`` rows (the last group may be smaller)."""
    rows: list[int] = []
    parts: list[Array] = []
    for batch_rows, outputs in batches:
        rows += batch_rows
        parts.append(outputs)
        if len(rows) >= rows_per_group:
            yield rows, np.concatenate(parts)
            rows, parts = [], []
    if rows:
        yield rows, np.concatenate(parts)


def score_in_batches(
    readout: Readout,
    batches: Callable[[Sequence[str]], Iterator[tuple[list[int], Array]]],
    texts: Sequence[str],
    contexts: Sequence[TurnContext] | None = None,
) -> list[EmotionResult]:
    """Score each text (with its turn's context when given), in input order.

    Empty/whitespace-only texts come back EMPTY, obviously non-English ones
    UNSUPPORTED_LANGUAGE; the rest go through ``batches`` (an engine's model
    batches), and the results of finished batches are built (:func:`grouped`)
    while the next batches still run.
    """
    if contexts is not None and len(contexts) != len(texts):
        raise ValueError(f"{len(contexts)} contexts for {len(texts)} texts")
    results = readout.screen(texts)
    todo = [i for i, result in enumerate(results) if result is None]
    if todo:
        for rows, outputs in grouped(batches([texts[i] for i in todo])):
            batch_contexts = None if contexts is None else [contexts[todo[r]] for r in rows]
            batch_texts = [texts[todo[r]] for r in rows]
            for row, result in zip(
                rows, readout.results(outputs, batch_contexts, batch_texts), strict=True
            ):
                results[todo[row]] = result
    return [result for result in results if result is not None]
