"""Bot and agent turns read as the mean of their word embeddings (no encoder pass)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from warmline.model.bundle import ModelCard
from warmline.model.encoder_files import encoder_dir, load_tokenizer
from warmline.model.engine import EmotionEngine
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.turn_features import POOLED_DIM, cosine
from warmline.model.word_vectors import (
    VECTOR_NORM,
    WordVectors,
    load_table,
    save_table,
    table_from_encoder,
)


@pytest.fixture(scope="module")
def vectors() -> WordVectors:
    return WordVectors(table_from_encoder(encoder_dir() / "model.safetensors"), load_tokenizer())


def test_the_same_answer_reads_the_same_and_a_reworded_one_closer_than_another_topic(
    vectors: WordVectors,
) -> None:
    answer = "To reset your router, hold the reset button for ten seconds."
    same, again, reworded, other = vectors(
        [
            answer,
            answer,
            "Hold the router's reset button for ten seconds to reset it.",
            "Your refund of 20 pounds will reach your card within five days.",
        ]
    )
    assert same.shape == (POOLED_DIM,) and same.dtype == np.float32
    assert np.linalg.norm(same) == pytest.approx(VECTOR_NORM, rel=1e-5)
    assert np.array_equal(same, again)
    assert cosine(same, reworded) > 0.95 > cosine(same, other)


def test_a_batch_reads_each_text_as_it_reads_it_alone(vectors: WordVectors) -> None:
    texts = ["Your parcel is delayed.", "", "Sorry about that!", "Thanks for waiting. " * 30]
    together = vectors(texts)
    for text, row in zip(texts, together, strict=True):
        assert np.allclose(vectors([text])[0], row, atol=1e-6)
    assert not together[1].any()  # no word, no vector: like no bot turn at all
    assert vectors([]).shape == (0, POOLED_DIM)


def test_a_table_saved_for_a_serving_directory_reads_back_the_same(tmp_path: Path) -> None:
    table = np.arange(12 * POOLED_DIM, dtype=np.float16).reshape(12, POOLED_DIM)
    save_table(table, tmp_path / "table.safetensors")
    assert np.array_equal(load_table(tmp_path / "table.safetensors"), table)
    # The scoring image runs as another user than the one that exported the file.
    assert (tmp_path / "table.safetensors").stat().st_mode & 0o777 == 0o644


def test_a_file_that_is_not_a_table_is_refused_naming_it(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_text("not safetensors")
    with pytest.raises(ValueError, match=r"garbage\.safetensors: not a word-vector table"):
        load_table(garbage)
    wrong = tmp_path / "wrong.safetensors"
    save_file({"word_vectors": np.zeros((3, POOLED_DIM), dtype=np.float32)}, str(wrong))
    with pytest.raises(ValueError, match="want float16"):
        load_table(wrong)
    narrow = tmp_path / "narrow.safetensors"
    save_file({"word_vectors": np.zeros((3, 8), dtype=np.float16)}, str(narrow))
    with pytest.raises(ValueError, match=r"shape \(3, 8\)"):
        load_table(narrow)
    other = tmp_path / "other.safetensors"
    save_file({"weights": np.zeros((3, 8), dtype=np.float32)}, str(other))
    with pytest.raises(ValueError, match=r"no tensor embeddings\.word_embeddings\.weight"):
        table_from_encoder(other)


def test_an_engine_reads_bot_turns_as_its_bundle_was_trained_to() -> None:
    texts = ["Please visit our help centre for router guides.", "Your refund is on its way."]
    assert ModelCard.load(DEFAULT_MODEL_DIR).context_vectors == "word-mean"
    engine = EmotionEngine(threads=1, backend="torch")
    words = engine.encode_other(texts)
    assert np.linalg.norm(words, axis=1) == pytest.approx([VECTOR_NORM] * 2, rel=1e-5)
    pooled = EmotionEngine(threads=1, backend="torch", context_vectors="encoder")
    assert np.allclose(pooled.encode_other(texts), pooled.encode(texts)[:, -POOLED_DIM:])
    assert not np.allclose(pooled.encode_other(texts), words, atol=0.1)


def test_a_card_naming_an_unknown_kind_of_context_vector_is_refused(tmp_path: Path) -> None:
    card = ModelCard.load(DEFAULT_MODEL_DIR)
    card.context_vectors = "bag-of-letters"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="context_vectors: 'bag-of-letters'"):
        card.validate()
