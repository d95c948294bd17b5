"""EmotionEngine: texts in, calibrated GoEmotions probabilities and signals out.

Throughput comes from batching by token length (little padding), dynamic padding
and the backend: on CPU, by default, ONNX Runtime with int8 dynamic quantization
(:mod:`warmline.model.onnx_backend`, about 3x torch fp32 on a 2-core AVX2 CPU); the
torch backend runs fp32 under ``torch.inference_mode`` (optionally torch int8) and,
on CUDA, under fp16/bf16 autocast. Results always come back in input order.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file

from warmline.model.batching import length_sorted_batches, pad_ids, token_budget_batches
from warmline.model.encoder import (
    MiniLMEncoder,
    encoder_dir,
    load_encoder,
    load_tokenizer,
    verify_encoder_files,
)
from warmline.model.head import ENCODER_TOP_FILE, ModelCard, load_heads
from warmline.model.language import detect
from warmline.model.lexical import LexicalModel
from warmline.model.onnx_backend import (
    OnnxModel,
    cache_key,
    cache_root,
    cached_model,
    onnx_available,
)
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.signal_head import (
    NO_CONTEXT,
    POOLED_DIM,
    SIGNAL_HEAD_FILE,
    SITUATION_HEAD_FILE,
    SignalHead,
    TurnContext,
    features,
)
from warmline.model.taxonomy import (
    LABELS,
    NUM_LABELS,
    SIGNAL_GROUPS,
    SIGNAL_HEAD_TAXONOMY_VERSION,
    SIGNALS,
    SITUATIONS,
    TAXONOMY_VERSION,
)

#: Characters kept before tokenizing. 64 WordPiece tokens almost never need more;
#: the cap bounds tokenizer and language-detector time on pathological inputs.
MAX_CHARS = 8192

#: Padded tokens (texts x longest length) per model batch of the ONNX backends. A
#: call's texts are cut into batches within this budget, longest first (see
#: :func:`~warmline.model.batching.token_budget_batches`), run concurrently on
#: ``threads`` single-threaded ONNX Runtime workers. Batches of equal cost keep the
#: workers equally busy to the end of a call; on 2 AVX2 cores, small single-threaded
#: batches beat one 2-thread session on batches of 64 (small int8 GEMMs scale poorly
#: across threads).
ONNX_BATCH_TOKENS = 320

#: ``"onnx"``: ONNX Runtime int8 (CPU); ``"onnx-fp32"``: ONNX Runtime fp32 (CPU);
#: ``"torch"``: torch fp32 (int8 with ``quantize=True``; autocast on CUDA);
#: ``"auto"``: ``"onnx"`` on CPU when onnxruntime is installed, else ``"torch"``.
Backend = Literal["auto", "torch", "onnx", "onnx-fp32"]


def _usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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


class Status(StrEnum):
    """What happened to one text."""

    SCORED = "SCORED"
    UNSUPPORTED_LANGUAGE = "UNSUPPORTED_LANGUAGE"
    EMPTY = "EMPTY"


@dataclass(frozen=True)
class EmotionResult:
    """Scores for one text. ``probabilities``/``signals`` are empty unless SCORED."""

    status: Status
    model_version: str
    taxonomy_version: str
    language: str = "en"
    probabilities: dict[str, float] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    #: Situation probabilities (SCORED, bundles with a situation head only).
    situations: dict[str, float] = field(default_factory=dict)


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
    ) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self.model_dir = model_dir or DEFAULT_MODEL_DIR
        self.card = ModelCard.load(self.model_dir)
        self.device = torch.device(device)
        if quantize and self.device.type != "cpu":
            raise ValueError("int8 dynamic quantization is CPU-only; use cuda_dtype on GPU")
        self.backend = resolve_backend(backend, self.device)
        if quantize and self.backend == "onnx-fp32":
            raise ValueError("backend 'onnx-fp32' is fp32; use backend='onnx' for int8")
        self.batch_size = batch_size
        self.check_language = check_language
        self.on_batch = on_batch
        self.quantized = quantize or self.backend == "onnx"
        self.cuda_dtype = torch.float16 if cuda_dtype == "float16" else torch.bfloat16
        source = encoder_path or encoder_dir()
        if verify_encoder:
            verify_encoder_files(source)
        self.tokenizer = load_tokenizer(source, self.card.max_length)
        encoder = load_encoder(source)
        load_finetuned_layers(encoder, self.model_dir, self.card.finetuned_layers)
        head = load_heads(self.model_dir, self.card)
        self.onnx: OnnxModel | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._worker = threading.local()
        if self.backend == "torch":
            model: torch.nn.Module = quantize_linear_int8(encoder) if quantize else encoder
        else:
            bundle = [p for p in self.model_dir.iterdir() if p.suffix in (".json", ".safetensors")]
            key = cache_key(bundle, source / "model.safetensors")
            directory = (onnx_cache_dir or cache_root()) / f"{self.card.model_version}-{key}"
            path = cached_model(encoder, head, directory, int8=self.backend == "onnx")
            self.onnx = OnnxModel(path, threads=1)
            workers = threads or _usable_cpus()
            # One session per worker: concurrent runs of one session contend on its
            # allocator (measured ~3% slower on 2 cores than a session each).
            spare: queue.SimpleQueue[OnnxModel] = queue.SimpleQueue()
            for _ in range(workers):
                spare.put(OnnxModel(path, threads=1))

            def claim_session() -> None:
                self._worker.onnx = spare.get_nowait()

            self._pool = ThreadPoolExecutor(
                workers, thread_name_prefix="warmline-onnx", initializer=claim_session
            )
            model = encoder
        self.encoder = model.to(self.device)
        self.head = head.to(self.device)
        self.temperatures = torch.tensor(self.card.temperatures, device=self.device)
        self.thresholds = torch.tensor(self.card.thresholds)
        self._temperatures_cpu = self.temperatures.cpu()
        self._signal_columns = [
            torch.tensor([LABELS.index(label) for label in members])
            for members in SIGNAL_GROUPS.values()
        ]
        self.signal_head: SignalHead | None = None
        if self.card.signal_head_hidden:
            self.signal_head = SignalHead(self.card.signal_head_hidden).eval()
            self.signal_head.load_state_dict(load_file(str(self.model_dir / SIGNAL_HEAD_FILE)))
            self._signal_temperatures = torch.tensor(self.card.signal_temperatures)
        self.lexical: LexicalModel | None = None
        if self.signal_head is not None and self.card.lexical_weight:
            self.lexical = LexicalModel.load(self.model_dir)
        self.situation_head: SignalHead | None = None
        if self.card.situation_head_hidden:
            self.situation_head = SignalHead(
                self.card.situation_head_hidden, outputs=len(SITUATIONS)
            ).eval()
            self.situation_head.load_state_dict(
                load_file(str(self.model_dir / SITUATION_HEAD_FILE))
            )
            self._situation_temperatures = torch.tensor(self.card.situation_temperatures)
        self.taxonomy_version = (
            SIGNAL_HEAD_TAXONOMY_VERSION if self.signal_head is not None else TAXONOMY_VERSION
        )

    #: Width of the pooled sentence vector at the end of :meth:`outputs`' rows.
    pooled_dim = POOLED_DIM

    @property
    def model_version(self) -> str:
        """Version string of the loaded bundle (from ``model.json``)."""
        return self.card.model_version

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids with [CLS]/[SEP], truncated to the bundle's max length."""
        # The fast variant skips character offsets, which nothing here uses.
        encodings = self.tokenizer.encode_batch_fast([text[:MAX_CHARS] for text in texts])
        return [encoding.ids for encoding in encodings]

    @torch.inference_mode()
    def _logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.onnx is not None:
            return self.onnx(ids, mask)
        ids, mask = ids.to(self.device), mask.to(self.device)
        if self.device.type == "cuda":
            with torch.autocast("cuda", dtype=self.cuda_dtype):
                pooled = self.encoder(ids, mask).float()
        else:
            pooled = self.encoder(ids, mask)
        # Same layout as the exported ONNX graph: head outputs, then the pooled vector.
        return torch.cat([self.head(pooled).float(), pooled.float()], 1)

    def _batch_logits(self, texts: Sequence[str]) -> Iterator[tuple[list[int], torch.Tensor]]:
        """(row indices into ``texts``, their logits on CPU) per model batch.

        Texts are sorted by token length and batched (the ONNX backends: batches of
        at most ``ONNX_BATCH_TOKENS`` padded tokens, longest first, run concurrently,
        one ONNX Runtime thread each); every batch is submitted at once, and batches
        are yielded in submission order as they finish, so callers can use one
        batch's results while later ones still run.
        """
        token_ids = self.token_ids(texts)
        lengths = [len(ids) for ids in token_ids]
        if self.onnx is None:
            batches = length_sorted_batches(lengths, self.batch_size)
        else:
            batches = token_budget_batches(lengths, ONNX_BATCH_TOKENS, self.batch_size)

        def run(rows: list[int]) -> tuple[list[int], torch.Tensor, float]:
            started = time.perf_counter()
            if self.onnx is not None:
                # A pool worker's own session; the calling thread's is self.onnx.
                session: OnnxModel = getattr(self._worker, "onnx", self.onnx)
                logits = session.score_ids([token_ids[r] for r in rows])
            else:
                ids, mask = pad_ids([token_ids[r] for r in rows])
                logits = self._logits(ids, mask).float().cpu()
            return rows, logits, time.perf_counter() - started

        done: Iterable[tuple[list[int], torch.Tensor, float]]
        if self._pool is not None and len(batches) > 1:
            done = self._pool.map(run, batches)
        else:
            done = map(run, batches)
        for rows, logits, seconds in done:
            if self.on_batch is not None:
                self.on_batch(len(rows), seconds)
            yield rows, logits

    def outputs(self, texts: Sequence[str]) -> torch.Tensor:
        """Every output on CPU, in input order: (len(texts), 28 + group outputs + 384).

        The 28 uncalibrated label logits come first, then the group head's logits
        (if the bundle has one; ``card.group_column`` finds a group's column), then
        the pooled sentence vector (:meth:`split_outputs`).
        Texts are sorted by token length, batched, and scattered back by index, so
        larger calls pad less: give the engine whole consumer batches, not single
        messages.
        """
        out = torch.zeros(len(texts), NUM_LABELS + self.card.group_outputs + POOLED_DIM)
        for rows, logits in self._batch_logits(texts):
            out[rows] = logits
        return out

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Uncalibrated label logits (len(texts), 28) on CPU, in input order."""
        return self.outputs(texts)[:, :NUM_LABELS]

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """Calibrated probabilities (len(texts), 28) on CPU, in input order.

        No language or emptiness check: evaluation and benchmarks use this directly.
        """
        return torch.sigmoid(self.logits(texts) / self._temperatures_cpu)

    def split_outputs(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(calibrated label probabilities (n, 28), pooled vectors (n, 384)) of outputs."""
        probs = torch.sigmoid(outputs[:, :NUM_LABELS] / self._temperatures_cpu)
        return probs, outputs[:, -POOLED_DIM:]

    def feature_rows(
        self, probs: torch.Tensor, pooled: torch.Tensor, contexts: Sequence[TurnContext]
    ) -> torch.Tensor:
        """The signal and situation heads' input rows (n, FEATURES)."""
        return torch.stack(
            [features(p, lp, c) for p, lp, c in zip(pooled, probs, contexts, strict=True)]
        )

    def situation_probabilities_from_features(self, rows: torch.Tensor) -> torch.Tensor | None:
        """Calibrated situations (n, 4) of feature rows; None without a situation head."""
        if self.situation_head is None:
            return None
        with torch.inference_mode():
            logits = self.situation_head(rows)
        return torch.sigmoid(logits / self._situation_temperatures)

    def signal_probabilities_from_features(
        self, rows: torch.Tensor, texts: Sequence[str] | None = None
    ) -> torch.Tensor:
        """Calibrated signals (n, 7) of signal-head feature rows and their texts.

        With a lexical model (``card.lexical_weight``) the head's probabilities are
        averaged with the lexical model's on ``texts``, which it then needs. A
        bundle without a signal head takes the max over member labels, which it
        reads back from the rows' label probabilities."""
        if self.signal_head is None:
            probs = rows[:, -NUM_LABELS:]
            return torch.stack([probs[:, cols].amax(1) for cols in self._signal_columns], 1)
        with torch.inference_mode():
            head = torch.sigmoid(self.signal_head(rows) / self._signal_temperatures)
        if self.lexical is None:
            return head
        if texts is None or len(texts) != len(rows):
            raise ValueError("this bundle blends a lexical model: give the texts of the rows")
        weight = self.card.lexical_weight
        return (1 - weight) * head + weight * self.lexical.probabilities(texts)

    def signal_thresholds(self) -> torch.Tensor:
        """Per-signal decision thresholds (0.5 each for a bundle without a signal head)."""
        if self.signal_head is None:
            return torch.full((len(SIGNALS),), 0.5)
        return torch.tensor(self.card.signal_thresholds)

    def results(
        self,
        outputs: torch.Tensor,
        contexts: Sequence[TurnContext] | None = None,
        texts: Sequence[str] | None = None,
    ) -> list[EmotionResult]:
        """SCORED results for rows of :meth:`outputs` (of ``texts``) read with
        ``contexts`` (none: every turn alone): labels past their thresholds,
        signals, situations."""
        probs, pooled = self.split_outputs(outputs)
        situation_values: list[list[float]] = [[] for _ in range(len(probs))]
        if self.signal_head is None:
            signal_values = torch.stack(
                [probs[:, cols].amax(1) for cols in self._signal_columns], 1
            )
        else:
            rows = self.feature_rows(probs, pooled, contexts or [NO_CONTEXT] * len(probs))
            signal_values = self.signal_probabilities_from_features(rows, texts)
            situations = self.situation_probabilities_from_features(rows)
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

    def score(
        self, texts: Sequence[str], contexts: Sequence[TurnContext] | None = None
    ) -> list[EmotionResult]:
        """Score each text (with its turn's context when given); output order equals
        input order.

        Empty/whitespace-only texts come back EMPTY, obviously non-English ones
        UNSUPPORTED_LANGUAGE; the rest are batched through the model.
        """
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError(f"{len(contexts)} contexts for {len(texts)} texts")
        results = self.screen(texts)
        todo = [i for i, result in enumerate(results) if result is None]
        if todo:
            # Results of one model batch are built while the next batches still run.
            for rows, outputs in self._batch_logits([texts[i] for i in todo]):
                batch_contexts = None if contexts is None else [contexts[todo[r]] for r in rows]
                batch_texts = [texts[todo[r]] for r in rows]
                batch_results = self.results(outputs, batch_contexts, batch_texts)
                for row, result in zip(rows, batch_results, strict=True):
                    results[todo[row]] = result
        return [result for result in results if result is not None]
