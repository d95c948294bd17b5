"""``warmline bench model``: the naive Hugging Face baseline and the JSON it writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from warmline.bench.model import BUILTIN_TEXTS, hf_pipeline_scorer, run
from warmline.model.engine import EmotionEngine

pytest.importorskip("transformers")

#: The pipeline runs the same fp32 weights as the torch engine; measured max abs
#: probability difference 3.6e-7 on these sentences (2026-11-25, minilm-l6-ft6).
NAIVE_MAX_ABS_DIFF = 1e-4


def test_the_naive_pipeline_scores_what_the_fp32_engine_scores() -> None:
    engine = EmotionEngine(threads=1, backend="torch", verify_encoder=False)
    naive = hf_pipeline_scorer(engine)
    texts = [*BUILTIN_TEXTS, "I am extremely unhappy with the service. " * 50]
    one_by_one = torch.cat([naive(text)[0] for text in texts])
    assert one_by_one.shape == (len(texts), 28)
    diff = (one_by_one - engine.probabilities(texts)).abs()
    assert float(diff.max()) <= NAIVE_MAX_ABS_DIFF
    pooled = torch.cat([naive(text)[1] for text in texts])
    _, engine_pooled = engine.split_outputs(engine.outputs(texts))
    assert float((pooled - engine_pooled).abs().max()) <= 1e-3


def test_run_writes_the_documented_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMLINE_GOEMOTIONS_DIR", str(tmp_path / "no-data"))
    out = tmp_path / "model.json"
    result = run(
        out,
        messages=24,
        passes=2,
        request_size=8,
        threads=1,
        backend="torch",
        context_conversations_limit=4,
    )
    assert json.loads(out.read_text(encoding="utf-8")) == result
    for key in ("msgs_per_s", "naive_msgs_per_s", "ratio_to_naive", "p99_batch_ms", "device"):
        assert key in result
    assert result["texts"] == "builtin"
    assert result["messages"] == result["naive_messages"] == 24
    assert len(result["msgs_per_s_passes"]) == 2
    assert result["context_messages"] > 4  # four conversations, several turns each
    assert result["context_turns"] > result["context_messages"]
    assert result["context_msgs_per_s"] > 0 and result["context_naive_msgs_per_s"] > 0
    assert result["ratio_to_naive"] == pytest.approx(
        result["msgs_per_s"] / result["naive_msgs_per_s"], rel=0.01
    )
