"""Cheap sentence vectors for the bot's and agents' turns (numpy, no torch).

A customer turn is scored after the bot's latest answer, so the signal head reads
that answer too (:mod:`warmline.model.turn_features`). Running the encoder over
every bot answer cost as much as scoring the customers' messages: bot answers are
longer (31.7 tokens on average in the evaluation conversations against 24.2 for
customers), and an AI bot's answers are rarely the same text twice, so caching
them by text does not help. A bundle whose card says ``context_vectors:
"word-mean"`` reads a bot or agent turn as the mean of the encoder's (frozen)
input word embeddings instead, scaled to the pooled vectors' size: what the
answer is about (a delay, a refund, a reset), without the encoder pass. The
signal head is trained on exactly these vectors.

The table is the encoder package's word embeddings stored as float16, so the
torch engine (from the package) and the scoring image (from the serving
directory, :mod:`warmline.model.serving`) compute the same vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from warmline.model.encoder_files import MAX_CHARS
from warmline.model.turn_features import POOLED_DIM, Array

#: The encoder file's tensor holding the word embeddings.
EMBEDDINGS_TENSOR = "embeddings.word_embeddings.weight"
#: The table's file in a serving directory, and its tensor.
TABLE_FILE = "word_vectors.safetensors"
TABLE_TENSOR = "word_vectors"
#: Length of every vector: the fine-tuned encoder's pooled vectors have norms of
#: about 9 to 12; the head sees vectors on the same scale for either side.
VECTOR_NORM = 10.0

Table = npt.NDArray[np.float16]


def table_from_encoder(encoder_file: Path) -> Table:
    """The word embeddings of the encoder's ``model.safetensors``, as float16."""
    with safe_open(str(encoder_file), "np") as tensors:
        names = tensors.keys()
        if EMBEDDINGS_TENSOR not in names:
            raise ValueError(f"{encoder_file}: no tensor {EMBEDDINGS_TENSOR}")
        table: npt.NDArray[np.float32] = tensors.get_tensor(EMBEDDINGS_TENSOR)
    if table.ndim != 2 or table.shape[1] != POOLED_DIM:
        raise ValueError(f"{encoder_file}: {EMBEDDINGS_TENSOR} has shape {table.shape}")
    return table.astype(np.float16)


def save_table(table: Table, path: Path) -> None:
    """Write the table for a serving directory, readable by every user (the image
    runs the service as a user other than the one that exported it)."""
    save_file({TABLE_TENSOR: table}, str(path))
    path.chmod(0o644)  # safetensors creates the file owner-only


def load_table(path: Path) -> Table:
    """A table written by :func:`save_table`; a wrong file is a ``ValueError``."""
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise ValueError(f"{path}: not a word-vector table ({exc})") from exc
    table = tensors.get(TABLE_TENSOR)
    if table is None or table.dtype != np.float16 or table.ndim != 2:
        raise ValueError(f"{path}: not a word-vector table (want float16 {TABLE_TENSOR})")
    if table.shape[1] != POOLED_DIM:
        raise ValueError(f"{path}: {TABLE_TENSOR} has shape {table.shape}")
    return table


class WordVectors:
    """Texts to the mean of their word embeddings, length :data:`VECTOR_NORM`.

    Special tokens ([CLS], [SEP], [PAD]) are left out; a text with no other token
    reads as zeros, like a conversation without a bot turn.
    """

    def __init__(self, table: Table, tokenizer: Tokenizer) -> None:
        self.table = table
        self.tokenizer = tokenizer
        special = (tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
        self._skip = frozenset(i for i in special if i is not None)

    def __call__(self, texts: Sequence[str]) -> Array:
        """One float32 row of :data:`~warmline.model.turn_features.POOLED_DIM` per text."""
        out = np.zeros((len(texts), POOLED_DIM), dtype=np.float32)
        if not texts:
            return out
        skip = self._skip
        encodings = self.tokenizer.encode_batch_fast([t[:MAX_CHARS] for t in texts])
        for row, encoding in enumerate(encodings):
            ids = [i for i in encoding.ids if i not in skip]
            if ids:
                # A gather and a sum per text: numpy's reduceat over one gather of
                # the whole batch was four times slower here.
                out[row] = self.table[ids].sum(0, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out *= VECTOR_NORM / np.maximum(norms, 1e-12)
        return out
