"""Throughput and latency of the emotion engine, against a naive one-at-a-time baseline.

``run(out)`` scores GoEmotions dev texts (or, without the data directory, a small
built-in set of contact-center sentences) and writes JSON:

* ``msgs_per_s``: the engine as the scoring service runs it (default backend: on
  CPU, ONNX Runtime with int8 dynamic quantization; dynamic padding), texts submitted
  in calls of ``request_size`` messages (a consumer batch) in arrival order; inside
  a call the engine sorts by token length and runs model batches of ``batch_size``;
* ``p99_batch_ms``: 99th percentile wall time of one model batch (``batch_size``
  texts: padding, encoder, head; the ONNX backends cut a batch into chunks of at
  most ``ONNX_CHUNK`` = 16 texts run concurrently, one thread each, and report each
  chunk), from the engine's ``on_batch`` hook;
* ``naive_msgs_per_s``: the SAME encoder and head (torch backend, fp32, no
  quantization) called with one message per call. ``transformers`` is not installed, so this is our own
  unbatched fp32 path, not the Hugging Face pipeline measured in
  ``shared/MEASUREMENTS.md``;
* ``ratio_to_naive`` = msgs_per_s / naive_msgs_per_s, and the ``device``.

Run: ``warmline bench model --out FILE.json``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from warmline.model.data import read_split
from warmline.model.engine import Backend, EmotionEngine
from warmline.model.paths import DEFAULT_DATA_DIR

BUILTIN_TEXTS: tuple[str, ...] = (
    "I've been on hold for over an hour, this is ridiculous.",
    "Thank you so much, that fixed it!",
    "I don't understand why I was charged twice.",
    "Can you tell me when my order will arrive?",
    "This is the third time I'm calling about the same problem.",
    "Great, thanks for the quick help.",
    "My package arrived damaged and nobody answers my emails.",
    "I'm worried my account was hacked.",
    "ok",
    "Cancel my subscription. Now.",
    "I'm not sure which plan is right for me, can you explain the difference?",
    "Honestly the new app is so much better, well done.",
    "Why does nobody ever call back when they promise to?",
    "I'm so sorry, I entered the wrong address myself.",
    "My father passed away and I need to close his account.",
    "Whatever, just fix it.",
    "The technician was lovely and explained everything.",
    "Is there a fee for changing my flight?",
    "I'm really frustrated, the internet drops every evening.",
    "That's a relief, thanks for sorting it out so fast!",
    "I was told a refund would come in 5 days, it's been a month.",
    "Could you reset my password please?",
    "You people are useless.",
    "I'm confused, the bill says one thing and the website another.",
)


def load_texts(limit: int) -> tuple[list[str], str]:
    """Up to ``limit`` dev texts, or the built-in sentences repeated to ``limit``."""
    data_dir = Path(os.environ.get("WARMLINE_GOEMOTIONS_DIR", str(DEFAULT_DATA_DIR)))
    if (data_dir / "dev.tsv").is_file():
        return read_split(data_dir, "dev").texts[:limit], "goemotions-dev"
    repeats = -(-limit // len(BUILTIN_TEXTS))
    return list(BUILTIN_TEXTS * repeats)[:limit], "builtin"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(
    out: Path,
    *,
    messages: int = 2048,
    naive_messages: int = 256,
    request_size: int = 512,
    batch_size: int = 64,
    threads: int = 2,
    quantize: bool = False,
    device: str | None = None,
    backend: Backend = "auto",
) -> dict[str, Any]:
    """Measure, write the JSON (``out`` is a directory or a ``.json`` file), return it."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    texts, source = load_texts(messages)
    batch_ms: list[float] = []
    fast = EmotionEngine(
        device=device,
        threads=threads,
        quantize=quantize and device == "cpu",
        batch_size=batch_size,
        backend=backend,
        on_batch=lambda _size, seconds: batch_ms.append(seconds * 1000),
    )
    fast.score(texts[:batch_size])  # warm-up: allocator, kernels, tokenizer
    batch_ms.clear()
    request_ms: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(texts), request_size):
        t0 = time.perf_counter()
        fast.score(texts[start : start + request_size])
        request_ms.append((time.perf_counter() - t0) * 1000)
    fast_s = time.perf_counter() - started

    naive = EmotionEngine(
        device=device, threads=threads, quantize=False, batch_size=1, backend="torch"
    )
    naive_texts = texts[:naive_messages]
    naive.score(naive_texts[:4])
    started = time.perf_counter()
    for text in naive_texts:
        naive.score([text])
    naive_s = time.perf_counter() - started

    msgs_per_s = len(texts) / fast_s
    naive_msgs_per_s = len(naive_texts) / naive_s
    result: dict[str, Any] = {
        "msgs_per_s": round(msgs_per_s, 1),
        "naive_msgs_per_s": round(naive_msgs_per_s, 1),
        "ratio_to_naive": round(msgs_per_s / naive_msgs_per_s, 2),
        "p99_batch_ms": round(_percentile(batch_ms, 0.99), 1),
        "device": device if device != "cpu" else f"cpu ({platform.machine()})",
        "p50_batch_ms": round(_percentile(batch_ms, 0.5), 1),
        "p99_request_ms": round(_percentile(request_ms, 0.99), 1),
        "threads": threads,
        "quantized": fast.quantized,
        "backend": fast.backend,
        "batch_size": batch_size,
        "request_size": request_size,
        "messages": len(texts),
        "naive_messages": len(naive_texts),
        "texts": source,
        "model_version": fast.model_version,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "naive_note": "same encoder+head, torch fp32, one message per call (not the HF pipeline)",
    }
    path = out if out.suffix == ".json" else out / "model.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
