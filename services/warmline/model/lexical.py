"""A lexical reading of the seven signals, blended with the signal head.

The encoder was fine-tuned on Reddit emotions; the words customers use when they
are upset ("third time", "still", "refund now", "cancel", "ridiculous") are cues
it reads only partly. A logistic regression per signal over TF-IDF word unigrams
and bigrams of the customer's message, trained on the project's contact-center
turns, reads them directly; the engine averages its probabilities with the
signal head's (``model.json``: ``lexical_weight``) before the thresholds.

The blend and its weight were chosen on the evaluation set's dev part; the
README's model card judges them on the test part only.

Files: ``lexical.safetensors`` (idf, weights, bias) and ``lexical_vocab.json``
(the n-grams in column order). Only n-grams seen in at least ``min_df`` training
turns are kept, so no single message's wording is stored.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file, save_file

from warmline.model.bundle import LEXICAL_FILE, LEXICAL_VOCAB_FILE
from warmline.model.taxonomy import SIGNALS

if TYPE_CHECKING:
    import torch

Array = npt.NDArray[np.float32]
_WORD = re.compile(r"[a-z0-9']+|[!?]")


def ngrams(text: str) -> list[str]:
    """Lowercased word unigrams and bigrams ("!" and "?" count as words)."""
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in pairwise(words)]


class LexicalModel:
    """TF-IDF (sublinear tf, L2-normalised) over a fixed vocabulary, then one
    logistic regression per signal. Reading needs numpy only (the scoring image
    has no torch); :func:`fit` needs torch."""

    def __init__(self, vocab: Sequence[str], idf: Array, weight: Array, bias: Array) -> None:
        self.vocab = list(vocab)
        self.idf = np.asarray(idf, dtype=np.float32)
        # n-gram -> (column, idf) as plain Python numbers: this runs per message,
        # and indexing an array per n-gram cost more than the rest together.
        self.index = {
            gram: (i, w)
            for i, (gram, w) in enumerate(zip(self.vocab, self.idf.tolist(), strict=True))
        }
        self.weight = np.asarray(weight, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)

    def entries(self, texts: Sequence[str]) -> tuple[list[int], list[int], list[float]]:
        """The non-zero TF-IDF entries of ``texts``' rows: (rows, columns, values)."""
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        index = self.index
        for row, text in enumerate(texts):
            counts = Counter(index[g] for g in ngrams(text) if g in index)
            weights = [(col, (1 + math.log(n)) * idf) for (col, idf), n in counts.items()]
            norm = math.sqrt(sum(w * w for _, w in weights)) or 1.0
            for col, w in weights:
                rows.append(row)
                cols.append(col)
                values.append(w / norm)
        return rows, cols, values

    def logits(self, texts: Sequence[str]) -> Array:
        """(len(texts), 7) signal logits."""
        rows, cols, values = self.entries(texts)
        out = np.zeros((len(texts), len(SIGNALS)), dtype=np.float32)
        contributions = self.weight.T[cols] * np.asarray(values, dtype=np.float32)[:, None]
        np.add.at(out, rows, contributions)
        result: Array = out + self.bias
        return result

    def probabilities(self, texts: Sequence[str]) -> Array:
        """(len(texts), 7) signal probabilities."""
        logits = self.logits(texts)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32, copy=False)

    def save(self, directory: Path) -> None:
        """Write the two files into a bundle directory."""
        arrays = {"idf": self.idf, "weight": np.ascontiguousarray(self.weight), "bias": self.bias}
        save_file(arrays, str(directory / LEXICAL_FILE))
        text = json.dumps(self.vocab, ensure_ascii=False)
        (directory / LEXICAL_VOCAB_FILE).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LexicalModel:
        """Read the model from a bundle directory."""
        arrays = load_file(str(directory / LEXICAL_FILE))
        vocab = json.loads((directory / LEXICAL_VOCAB_FILE).read_text(encoding="utf-8"))
        if len(vocab) != arrays["weight"].shape[1] or arrays["weight"].shape[0] != len(SIGNALS):
            raise ValueError(f"{LEXICAL_FILE} and {LEXICAL_VOCAB_FILE} do not fit together")
        return cls(vocab, arrays["idf"], arrays["weight"], arrays["bias"])


def fit(
    texts: Sequence[str],
    targets: torch.Tensor,
    *,
    min_df: int = 2,
    l2: float = 1e-5,
    steps: int = 1000,
) -> LexicalModel:
    """Vocabulary, idf and an L2-regularised logistic regression per signal."""
    import torch  # training only: reading the fitted model needs numpy alone

    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(ngrams(text)))
    vocab = sorted(gram for gram, n in df.items() if n >= min_df)
    n = len(texts)
    idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in vocab], dtype=np.float32)
    model = LexicalModel(
        vocab,
        idf,
        np.zeros((len(SIGNALS), len(vocab)), np.float32),
        np.zeros(len(SIGNALS), np.float32),
    )
    rows, cols, values = model.entries(texts)
    x = torch.sparse_coo_tensor(
        torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1),
        torch.tensor(values, dtype=torch.float32),
        (len(texts), len(vocab)),
        # Built here with in-range indices; checking them costs a pass per call.
        check_invariants=False,
    ).coalesce()
    weight = torch.zeros(len(SIGNALS), len(vocab), requires_grad=True)
    bias = torch.zeros(len(SIGNALS), requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = torch.sparse.mm(x, weight.T) + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
        loss = loss + l2 * (weight * weight).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    with torch.enable_grad():
        optimiser.step(closure)  # type: ignore[no-untyped-call]
    return LexicalModel(vocab, idf, weight.detach().numpy(), bias.detach().numpy())
