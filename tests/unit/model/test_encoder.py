"""The torch MiniLM encoder against sentence-transformers' published output."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from warmline.model.batching import pad_ids
from warmline.model.encoder import MiniLMEncoder, load_encoder
from warmline.model.encoder_files import load_tokenizer

# First six dimensions of sentence-transformers' normalised all-MiniLM-L6-v2 embedding
# (SentenceTransformer.encode, v6.2.0 on the packaged files, 2026-11-24); the full
# vectors of our encoder matched to 1.6e-7 max abs difference on 10 sentences.
REFERENCE = {
    "This is an example sentence": [0.067657, 0.063496, 0.048713, 0.079305, 0.037448, 0.002653],
    "I have been on hold for an hour and I am furious.": [
        -0.039216,
        -0.053792,
        0.016221,
        0.004815,
        0.000471,
        -0.015942,
    ],
}


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return load_encoder()


def _embed(encoder: MiniLMEncoder, texts: list[str]) -> torch.Tensor:
    tokenizer = load_tokenizer(max_length=64)
    ids, mask = pad_ids([e.ids for e in tokenizer.encode_batch(texts)])
    with torch.inference_mode():
        return F.normalize(encoder(ids, mask), dim=-1)


def test_matches_sentence_transformers_reference(encoder: MiniLMEncoder) -> None:
    vectors = _embed(encoder, list(REFERENCE))
    for row, expected in zip(vectors, REFERENCE.values(), strict=True):
        assert row[:6].tolist() == pytest.approx(expected, abs=1e-5)


def test_padding_does_not_change_embeddings(encoder: MiniLMEncoder) -> None:
    texts = ["short", "a much longer sentence that needs plenty of padding for the other"]
    together = _embed(encoder, texts)
    alone = torch.cat([_embed(encoder, [t]) for t in texts])
    assert torch.allclose(together, alone, atol=1e-5)


def test_paraphrases_are_closer_than_unrelated_sentences(encoder: MiniLMEncoder) -> None:
    a, b, c = _embed(
        encoder,
        [
            "My internet connection keeps dropping every evening.",
            "Every night my broadband goes down.",
            "The recipe needs two cups of flour.",
        ],
    )
    assert float(a @ b) > float(a @ c) + 0.3


def test_tokenizer_truncates_and_does_not_pad() -> None:
    tokenizer = load_tokenizer(max_length=64)
    assert len(tokenizer.encode("word " * 500).ids) == 64
    assert tokenizer.encode("hi").ids == [101, 7632, 102]
