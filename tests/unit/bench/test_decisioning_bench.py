"""The decisioning benchmark: realistic records, and a clear error instead of a hang."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest

from warmline.bench.decisioning import STALL_S, BenchError, _raise_if_stuck, scored_events
from warmline.model.taxonomy import LABELS, TAXONOMY_VERSION, signals
from warmline.v1 import scoring_pb2


def worker(failure: Exception | None = None) -> Any:
    failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    if failure is not None:
        failed.set_exception(failure)
    return cast(Any, SimpleNamespace(stream=SimpleNamespace(failed=failed)))


async def test_a_failed_worker_ends_the_run_with_its_error() -> None:
    with pytest.raises(BenchError, match="worker failed: RuntimeError\\('changelog refused'\\)"):
        _raise_if_stuck(worker(RuntimeError("changelog refused")), 1.0, 100, 1_000)


async def test_a_worker_that_handles_nothing_for_too_long_ends_the_run() -> None:
    _raise_if_stuck(worker(), STALL_S - 1, 100, 1_000)  # slow is fine
    with pytest.raises(BenchError, match="handled nothing for 90s \\(100 of 1000 records done\\)"):
        _raise_if_stuck(worker(), STALL_S + 1, 100, 1_000)


def test_the_benchmark_feeds_records_shaped_like_the_scoring_services() -> None:
    records = scored_events(80, 40)
    assert len({key for key, _ in records}) == 40
    for _, value in records:
        scores = scoring_pb2.ScoredEvent.FromString(value).scores
        # Every label's probability, as the scoring service writes them, not a sample.
        assert set(scores.labels) == set(LABELS)
        assert scores.taxonomy_version == TAXONOMY_VERSION
        expected = signals(dict(scores.labels))
        assert scores.signals.negativity == pytest.approx(expected["negativity"], abs=1e-6)
        assert scores.signals.neutral == pytest.approx(expected["neutral"], abs=1e-6)
