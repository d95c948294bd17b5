"""EmotionEngine: texts in, calibrated GoEmotions probabilities and signals out.

Throughput comes from batching by token length (little padding), dynamic padding
and the backend: on CPU, by default, ONNX Runtime with int8 dynamic quantization
(:mod:`warmline.model.onnx_backend`, about 3x torch fp32 on a 2-core AVX2 CPU); the
torch backend runs fp32 under ``torch.inference_mode`` (optionally torch int8) and,
on CUDA, under fp16/bf16 autocast. Results always come back in input order.
After the encoder, every backend reads its outputs the same way, with numpy
(:class:`~warmline.model.readout.Readout`). This engine builds the model from its
torch weights; the scoring image, which has no torch, scores with
:class:`~warmline.model.serving.ServingEngine` from an exported graph instead.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file

from warmline.model.batching import length_sorted_batches, pad_ids
from warmline.model.bundle import ENCODER_TOP_FILE, ContextVectors
from warmline.model.encoder import MiniLMEncoder, load_encoder
from warmline.model.encoder_files import (
    encoder_dir,
    load_tokenizer,
    token_ids,
    verify_encoder_files,
)
from warmline.model.head import load_heads
from warmline.model.onnx_backend import cache_key, cache_root, cached_model, onnx_available
from warmline.model.onnx_runner import OnnxRunner
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.readout import Readout, score_in_batches
from warmline.model.results import EmotionResult
from warmline.model.turn_features import POOLED_DIM, Array, TurnContext
from warmline.model.word_vectors import WordVectors, table_from_encoder

#: ``"onnx"``: ONNX Runtime int8 (CPU); ``"onnx-fp32"``: ONNX Runtime fp32 (CPU);
#: ``"torch"``: torch fp32 (int8 with ``quantize=True``; autocast on CUDA);
#: ``"auto"``: ``"onnx"`` on CPU when onnxruntime is installed, else ``"torch"``.
Backend = Literal["auto", "torch", "onnx", "onnx-fp32"]


def resolve_backend(backend: Backend, device: torch.device) -> Backend:
    """The concrete backend ``"auto"`` stands for on ``device``; checks the others."""
    if backend == "auto":
        return "onnx" if device.type == "cpu" and onnx_available() else "torch"
    if backend in ("onnx", "onnx-fp32"):
        if device.type != "cpu":
            raise ValueError(f"the {backend} backend is CPU-only; use backend='torch' on GPU")
        if not onnx_available():
            raise ValueError(f"backend {backend!r} needs the onnxruntime and onnx packages")
    return backend


def load_finetuned_layers(encoder: MiniLMEncoder, model_dir: Path, layers: Sequence[int]) -> None:
    """Overwrite the encoder's top layers with the bundle's fine-tuned copies."""
    if not layers:
        return
    state = {k: v.float() for k, v in load_file(str(model_dir / ENCODER_TOP_FILE)).items()}
    expected = {
        name
        for name, _ in encoder.named_parameters()
        if any(name.startswith(f"encoder.layer.{i}.") for i in layers)
    }
    if set(state) != expected:
        raise ValueError(f"{ENCODER_TOP_FILE} does not hold exactly layers {list(layers)}")
    encoder.load_state_dict(state, strict=False)


def quantize_linear_int8(module: torch.nn.Module) -> torch.nn.Module:
    """Copy of ``module`` with every Linear replaced by an int8 dynamic-quantized one.

    Weights are quantized per output channel: on the earlier top-2 model and GoEmotions
    dev this halved the drift from fp32 against per-tensor weights (macro-F1 0.508 vs
    0.484, fp32 0.529) at the same speed. Activations stay per-tensor and, on x86,
    7-bit (torch passes ``reduce_range=True``), which is where the remaining error
    comes from.

    ``torch.ao.quantization`` and quantized tensors warn that they are deprecated
    (to be removed in a future PyTorch) in favour of ``torchao``, which is not a
    Warmline dependency; the eager API still works in torch 2.15, so the warnings are
    silenced here and the migration is follow-up work.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # Same deprecation, raised as a UserWarning when the int8 weights are created.
        warnings.filterwarnings("ignore", "torch.quantize_per_", UserWarning)
        spec = {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
        quantized: torch.nn.Module = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            module, spec, dtype=torch.qint8
        )
    return quantized


class EmotionEngine:
    """Scores batches of texts with the MiniLM encoder, the MLP head and calibration.

    ``threads`` calls ``torch.set_num_threads``, which is process-wide: give it only
    where the engine owns the process's compute (the scoring worker); with the ONNX
    backends it is also the number of concurrent single-threaded ONNX Runtime
    workers (default: the CPUs this process may run on). ``on_batch`` is called
    after every model batch with (batch size, seconds), e.g. for a latency
    histogram.

    ``backend`` (see :data:`Backend`) defaults to ONNX Runtime int8 on CPU: about 3x
    the torch fp32 engine on a 2-core AVX2 CPU for about one point of dev macro-F1.
    Like any dynamic int8 path, a text's int8 scores depend slightly on the other
    texts of its model batch (activations are quantized per batch). The ONNX file is
    exported from the very torch modules built here and cached (``onnx_cache_dir``,
    default :func:`~warmline.model.onnx_backend.cache_root`). ``quantize`` asks for
    int8: with the torch backend it quantizes the encoder's Linear layers (CPU only;
    about two points of macro-F1 and, on AVX2-only CPUs without VNNI, almost no
    speed, see ``quantize_linear_int8``); the ``"onnx"`` backend is int8 already and
    ``"onnx-fp32"`` refuses it.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: str = "cpu",
        threads: int | None = None,
        quantize: bool = False,
        batch_size: int = 64,
        cuda_dtype: Literal["float16", "bfloat16"] = "float16",
        encoder_path: Path | None = None,
        verify_encoder: bool = True,
        check_language: bool = True,
        on_batch: Callable[[int, float], None] | None = None,
        backend: Backend = "auto",
        onnx_cache_dir: Path | None = None,
        context_vectors: ContextVectors | None = None,
    ) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self.model_dir = model_dir or DEFAULT_MODEL_DIR
        self.readout = Readout(self.model_dir, check_language=check_language)
        self.card = self.readout.card
        self.device = torch.device(device)
        if quantize and self.device.type != "cpu":
            raise ValueError("int8 dynamic quantization is CPU-only; use cuda_dtype on GPU")
        self.backend = resolve_backend(backend, self.device)
        if quantize and self.backend == "onnx-fp32":
            raise ValueError("backend 'onnx-fp32' is fp32; use backend='onnx' for int8")
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.quantized = quantize or self.backend == "onnx"
        self.cuda_dtype = torch.float16 if cuda_dtype == "float16" else torch.bfloat16
        source = encoder_path or encoder_dir()
        if verify_encoder:
            verify_encoder_files(source)
        self.tokenizer = load_tokenizer(source, self.card.max_length)
        # Training a head on other vectors than the base bundle's names them here.
        self.context_vectors = context_vectors or self.card.context_vectors
        self._word_vectors = (
            WordVectors(table_from_encoder(source / "model.safetensors"), self.tokenizer)
            if self.context_vectors == "word-mean"
            else None
        )
        encoder = load_encoder(source)
        load_finetuned_layers(encoder, self.model_dir, self.card.finetuned_layers)
        head = load_heads(self.model_dir, self.card)
        self.onnx: OnnxRunner | None = None
        if self.backend == "torch":
            model: torch.nn.Module = quantize_linear_int8(encoder) if quantize else encoder
        else:
            key = cache_key(self.model_dir, source / "model.safetensors")
            directory = (onnx_cache_dir or cache_root()) / f"{self.card.model_version}-{key}"
            path = cached_model(encoder, head, directory, int8=self.backend == "onnx")
            self.onnx = OnnxRunner(path, threads, batch_size)
            model = encoder
        self.encoder = model.to(self.device)
        self.head = head.to(self.device)
        self.temperatures = torch.tensor(self.card.temperatures, device=self.device)
        self.taxonomy_version = self.readout.taxonomy_version

    @property
    def model_version(self) -> str:
        """Version string of the loaded bundle (from ``model.json``)."""
        return self.card.model_version

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids with [CLS]/[SEP], truncated to the bundle's max length."""
        return token_ids(self.tokenizer, texts)

    @torch.inference_mode()
    def _logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ids, mask = ids.to(self.device), mask.to(self.device)
        if self.device.type == "cuda":
            with torch.autocast("cuda", dtype=self.cuda_dtype):
                pooled = self.encoder(ids, mask).float()
        else:
            pooled = self.encoder(ids, mask)
        # Same layout as the exported ONNX graph: head outputs, then the pooled vector.
        return torch.cat([self.head(pooled).float(), pooled.float()], 1)

    def batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], Array]]:
        """(row indices into ``texts``, their outputs) per model batch, as numpy.

        The ONNX backends run batches within a padded-token budget concurrently
        (:class:`~warmline.model.onnx_runner.OnnxRunner`); the torch backend runs
        length-sorted batches of ``batch_size`` one after another.
        """
        ids = self.token_ids(texts)
        if self.onnx is not None:
            yield from self.onnx.run(ids, self.on_batch)
            return
        for rows in length_sorted_batches([len(row) for row in ids], self.batch_size):
            started = time.perf_counter()
            padded, mask = pad_ids([ids[r] for r in rows])
            logits = self._logits(padded, mask).float().cpu().numpy()
            if self.on_batch is not None:
                self.on_batch(len(rows), time.perf_counter() - started)
            yield rows, logits

    def encode(self, texts: Sequence[str]) -> Array:
        """Every output as numpy, in input order: (len(texts), 28 + group outputs + 384)."""
        return self.readout.gather(self.batches(texts), len(texts))

    def encode_other(self, texts: Sequence[str]) -> Array:
        """Vectors of bot and agent turns as the bundle's heads read them (pooled
        vectors or word means, ``context_vectors``), one row per text."""
        if self._word_vectors is not None:
            return self._word_vectors(texts)
        return self.encode(texts)[:, -POOLED_DIM:]

    def outputs(self, texts: Sequence[str]) -> torch.Tensor:
        """Every output on CPU, in input order: (len(texts), 28 + group outputs + 384).

        The 28 uncalibrated label logits come first, then the group head's logits
        (if the bundle has one; ``card.group_column`` finds a group's column), then
        the pooled sentence vector (:meth:`split_outputs`).
        Texts are sorted by token length, batched, and scattered back by index, so
        larger calls pad less: give the engine whole consumer batches, not single
        messages.
        """
        return torch.from_numpy(self.encode(texts))

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """Calibrated probabilities (len(texts), 28) on CPU, in input order.

        No language or emptiness check: evaluation and benchmarks use this directly.
        """
        probs, _ = self.readout.split(self.encode(texts))
        return torch.from_numpy(probs)

    def split_outputs(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(calibrated label probabilities (n, 28), pooled vectors (n, 384)) of outputs."""
        probs, pooled = self.readout.split(outputs.numpy())
        return torch.from_numpy(probs), torch.from_numpy(pooled)

    def feature_rows(
        self, probs: torch.Tensor, pooled: torch.Tensor, contexts: Sequence[TurnContext]
    ) -> torch.Tensor:
        """The signal and situation heads' input rows (n, FEATURES)."""
        return torch.from_numpy(self.readout.feature_rows(probs.numpy(), pooled.numpy(), contexts))

    def situation_probabilities_from_features(self, rows: torch.Tensor) -> torch.Tensor | None:
        """Calibrated situations (n, 4) of feature rows; None without a situation head."""
        situations = self.readout.situation_probabilities(rows.numpy())
        return None if situations is None else torch.from_numpy(situations)

    def signal_probabilities_from_features(
        self, rows: torch.Tensor, texts: Sequence[str] | None = None
    ) -> torch.Tensor:
        """Calibrated signals (n, 7) of signal-head feature rows and their texts
        (:meth:`~warmline.model.readout.Readout.signal_probabilities`)."""
        return torch.from_numpy(self.readout.signal_probabilities(rows.numpy(), texts))

    def signal_thresholds(self) -> torch.Tensor:
        """Per-signal decision thresholds (0.5 each for a bundle without a signal head)."""
        return torch.from_numpy(self.readout.signal_thresholds())

    def score(
        self, texts: Sequence[str], contexts: Sequence[TurnContext] | None = None
    ) -> list[EmotionResult]:
        """Score each text (with its turn's context when given); output order equals
        input order.

        Empty/whitespace-only texts come back EMPTY, obviously non-English ones
        UNSUPPORTED_LANGUAGE; the rest are batched through the model.
        """
        return score_in_batches(self.readout, self.batches, texts, contexts)
