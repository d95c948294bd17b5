"""EmotionEngine on the committed model bundle, with sentences written for the tests."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import torch

from warmline.bench.model import BUILTIN_TEXTS
from warmline.model.bundle import HEAD_FILE, SIGNAL_HEAD_FILE, ModelCard
from warmline.model.encoder_files import ENCODER_SHA256
from warmline.model.engine import EmotionEngine
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.results import Status
from warmline.model.taxonomy import (
    LABELS,
    SIGNAL_HEAD_TAXONOMY_VERSION,
    SIGNALS,
    TAXONOMY_VERSION,
    signals,
)

#: Tolerances of the int8 engine against fp32 on the 50 sentences below. Measured on
#: the committed model (2026-11-25, minilm-l6-ft6): max abs probability difference
#: 0.156, mean 0.0036 (the earlier ft2 model: 0.178 and 0.0053).
#: A 0.05 bound on the max does not hold for this fine-tuned model: dynamic int8
#: quantizes activations per tensor to 7 bits on x86, and a few outlier activations
#: move single probabilities near the decision boundary. The bounds below guard
#: against regressions (a broken quantized path gives diffs near 0.5 or more); the
#: accuracy cost is measured on dev instead.
QUANTIZED_MAX_ABS_DIFF = 0.25
QUANTIZED_MEAN_ABS_DIFF = 0.01

# The benchmark's contact-center sentences: the texts the engine must handle well.
SENTENCES: list[str] = list(BUILTIN_TEXTS)
SENTENCES += [
    "Wow, I did not expect that to work on the first try.",
    "I'm scared I'll lose all my photos.",
    "This is disgusting, there was a hair in my food.",
    "I'm so embarrassed, I forgot to pay the bill.",
    "Congratulations on the new store opening!",
    "I love this product, best purchase all year.",
    "It's fine I guess.",
    "Please hurry, I need this before my trip tomorrow.",
    "I regret ever signing up for this.",
    "Haha that's hilarious, thanks for the laugh.",
    "I hope the new update fixes the battery issue.",
    "The delivery guy was super nice.",
    "I'm disappointed with the quality.",
    "Do you ship to Canada?",
    "Never again. Worst service ever.",
    "I'm curious how the loyalty points work.",
    "My order number is 4815162342.",
    "I feel so alone dealing with all of this.",
    "Yes that's right.",
    "I'm nervous about the surgery next week, will insurance cover it?",
    "Oh I see, I didn't realise the discount had expired.",
    "Really appreciate your patience with me today.",
    "Nope.",
    "I want to speak to a manager immediately!",
    "The screen is cracked and the box was open.",
    "Thanks anyway, have a good day.",
]


@pytest.fixture(scope="module")
def engine() -> EmotionEngine:
    # The torch fp32 engine: its scores do not depend on batch companions.
    return EmotionEngine(threads=1, backend="torch")


@pytest.fixture(scope="module")
def quantized() -> EmotionEngine:
    return EmotionEngine(threads=1, backend="torch", quantize=True, verify_encoder=False)


def test_committed_model_json_matches_the_label_list() -> None:
    card = ModelCard.load(DEFAULT_MODEL_DIR)  # validates labels, lengths, ranges
    assert tuple(card.labels) == LABELS
    assert card.taxonomy_version == TAXONOMY_VERSION
    assert len(card.thresholds) == len(card.temperatures) == len(LABELS)
    assert card.encoder_sha256 == ENCODER_SHA256
    assert (DEFAULT_MODEL_DIR / HEAD_FILE).is_file()
    size = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir() if p.is_file())
    assert size < 30 * 10**6, "committed weights stay under 30 MB (issue #4)"


def test_results_come_back_in_input_order(engine: EmotionEngine) -> None:
    texts = list(SENTENCES) + ["word " * n for n in (1, 40, 3, 90, 7)]
    random.Random(7).shuffle(texts)
    together = engine.score(texts)
    assert len(together) == len(texts)
    for text, result in zip(texts, together, strict=True):
        alone = engine.score([text])[0]
        assert result.status is Status.SCORED
        for label in LABELS:
            assert result.probabilities[label] == pytest.approx(
                alone.probabilities[label], abs=1e-4
            )


def test_probabilities_keep_order_across_batches() -> None:
    small = EmotionEngine(threads=1, batch_size=4, verify_encoder=False, backend="torch")
    texts = SENTENCES[:13]
    batched = small.probabilities(texts)
    one_by_one = torch.cat([small.probabilities([t]) for t in texts])
    assert torch.allclose(batched, one_by_one, atol=1e-4)


def test_empty_and_whitespace_texts_are_empty(engine: EmotionEngine) -> None:
    results = engine.score(["", "   \n\t", "Thank you!"])
    assert [r.status for r in results] == [Status.EMPTY, Status.EMPTY, Status.SCORED]
    assert results[0].probabilities == {}
    assert results[0].signals == {}
    assert results[0].labels == []


def test_very_long_text_is_scored(engine: EmotionEngine) -> None:
    text = "I am extremely unhappy with the service. " * 5000
    (result,) = engine.score([text])
    assert result.status is Status.SCORED
    assert len(engine.token_ids([text])[0]) == engine.card.max_length


def test_emoji_only_text_is_scored(engine: EmotionEngine) -> None:
    (result,) = engine.score(["😡😡😡🤬"])
    assert result.status is Status.SCORED
    assert set(result.probabilities) == set(LABELS)


def test_non_english_is_unsupported_and_not_scored(engine: EmotionEngine) -> None:
    results = engine.score(
        ["Ich habe mein Paket noch nicht bekommen und bin sehr verärgert", "我的订单还没有到"]
    )
    assert [r.status for r in results] == [Status.UNSUPPORTED_LANGUAGE] * 2
    assert [r.language for r in results] == ["de", "cjk"]
    assert results[0].probabilities == {}


def test_scored_result_fields(engine: EmotionEngine) -> None:
    (result,) = engine.score(["Thank you so much, you saved my day!"])
    assert result.model_version == engine.card.model_version
    assert result.taxonomy_version == SIGNAL_HEAD_TAXONOMY_VERSION
    assert set(result.signals) == set(SIGNALS)
    assert all(0.0 <= p <= 1.0 for p in result.probabilities.values())
    thresholds = dict(zip(LABELS, engine.card.thresholds, strict=True))
    expected = [label for label in LABELS if result.probabilities[label] >= thresholds[label]]
    assert result.labels == expected


def test_a_bundle_without_a_signal_head_takes_signals_from_the_label_mapping(
    tmp_path: Path,
) -> None:
    for path in DEFAULT_MODEL_DIR.iterdir():
        if path.name != SIGNAL_HEAD_FILE:
            shutil.copyfile(path, tmp_path / path.name)
    card = ModelCard.load(tmp_path)
    card.signal_head_hidden, card.signal_temperatures, card.signal_thresholds = 0, [], []
    card.save(tmp_path)
    plain = EmotionEngine(tmp_path, threads=1, backend="torch")
    for result in plain.score(SENTENCES):
        assert result.taxonomy_version == TAXONOMY_VERSION
        assert result.signals == pytest.approx(signals(result.probabilities), abs=1e-7)


def test_plain_how_to_questions_read_calm_and_cancel_threats_read_negative(
    engine: EmotionEngine,
) -> None:
    calm = engine.score(["How do I reset my router?", "Where can I find my PUK code?"])
    upset = engine.score(
        [
            "This is a joke. I'm cancelling my account.",
            "I've had enough, I'm switching to another provider.",
        ]
    )
    assert all(r.signals["negativity"] < 0.3 for r in calm)
    assert all(r.signals["negativity"] >= 0.3 for r in upset)


def test_mixed_statuses_keep_input_order_across_batches() -> None:
    small = EmotionEngine(threads=1, batch_size=3, verify_encoder=False, backend="torch")
    texts: list[str] = []
    for i, sentence in enumerate(SENTENCES[:12]):
        texts += [sentence, "" if i % 2 else "Ich habe mein Paket noch nicht bekommen, danke"]
    results = small.score(texts)
    assert [r.status for r in results[1::2]] == [
        Status.UNSUPPORTED_LANGUAGE if i % 2 == 0 else Status.EMPTY for i in range(12)
    ]
    alone = [small.score([text])[0] for text in texts[0::2]]
    for together, single in zip(results[0::2], alone, strict=True):
        assert together.status is Status.SCORED
        assert together.labels == single.labels
        for label in LABELS:
            assert together.probabilities[label] == pytest.approx(
                single.probabilities[label], abs=1e-4
            )


def test_quantized_engine_stays_close_to_fp32(
    engine: EmotionEngine, quantized: EmotionEngine
) -> None:
    assert len(SENTENCES) == 50
    fp32 = engine.probabilities(SENTENCES)
    int8 = quantized.probabilities(SENTENCES)
    diff = (fp32 - int8).abs()
    assert float(diff.max()) <= QUANTIZED_MAX_ABS_DIFF
    assert float(diff.mean()) <= QUANTIZED_MEAN_ABS_DIFF


def test_quantization_is_refused_off_cpu() -> None:
    with pytest.raises(ValueError, match="CPU-only"):
        EmotionEngine(device="meta", quantize=True, verify_encoder=False)
