"""The lexical reading of the signals and its blend with the signal head."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from warmline.model import lexical
from warmline.model.bundle import ModelCard
from warmline.model.engine import EmotionEngine
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.taxonomy import SIGNALS
from warmline.model.turn_features import NO_CONTEXT

NEG = SIGNALS.index("negativity")


def _targets(rows: list[set[str]]) -> torch.Tensor:
    return torch.tensor([[float(s in row) for s in SIGNALS] for row in rows])


def test_ngrams_are_lowercased_words_and_word_pairs() -> None:
    assert lexical.ngrams("Third TIME asking?!") == [
        "third",
        "time",
        "asking",
        "?",
        "!",
        "third time",
        "time asking",
        "asking ?",
        "? !",
    ]


def test_a_fitted_model_reads_the_cue_words_it_learned(tmp_path: Path) -> None:
    texts = ["this is ridiculous", "still waiting, ridiculous", "thanks a lot", "thanks so much"]
    model = lexical.fit(
        texts * 3, _targets([{"negativity"}, {"negativity"}, {"gratitude"}, {"gratitude"}] * 3)
    )
    probs = model.probabilities(["ridiculous service", "thanks"])
    assert probs[0, NEG] > 0.5 > probs[1, NEG]
    model.save(tmp_path)
    again = lexical.LexicalModel.load(tmp_path)
    assert np.allclose(again.probabilities(["ridiculous"]), model.probabilities(["ridiculous"]))
    # Words seen once are not kept: no single message's wording is stored.
    assert "service" not in again.vocab


def test_unknown_words_give_the_bias_only() -> None:
    model = lexical.fit(["abc def"] * 2 + ["ghi"] * 2, _targets([{"negativity"}] * 2 + [set()] * 2))
    empty = model.probabilities(["zzz qqq"])
    assert np.allclose(empty, 1 / (1 + np.exp(-model.bias))[None])


def test_the_engine_blends_the_lexical_model_into_the_signals(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "b")
    blended = EmotionEngine(DEFAULT_MODEL_DIR, threads=1, backend="torch")
    card = ModelCard.load(tmp_path / "b")
    assert card.lexical_weight > 0
    card.lexical_weight = 0.0
    card.save(tmp_path / "b")
    head_only = EmotionEngine(tmp_path / "b", threads=1, backend="torch")
    text = "I want a refund now. I've waited long enough."
    head = head_only.score([text])[0].signals["negativity"]
    lexical_model = blended.readout.lexical
    assert lexical_model is not None
    lex = float(lexical_model.probabilities([text])[0, NEG])
    both = blended.score([text])[0].signals["negativity"]
    weight = ModelCard.load(DEFAULT_MODEL_DIR).lexical_weight
    assert both == pytest.approx((1 - weight) * head + weight * lex, abs=1e-4)


def test_a_blending_bundle_refuses_rows_without_their_texts() -> None:
    engine = EmotionEngine(threads=1, backend="torch")
    outputs = engine.outputs(["hello"])
    probs, pooled = engine.split_outputs(outputs)
    rows = engine.feature_rows(probs, pooled, [NO_CONTEXT])
    with pytest.raises(ValueError, match="texts"):
        engine.signal_probabilities_from_features(rows)
