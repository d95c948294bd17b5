"""The worker's garbage-collector settings: applied once running, or left alone on request."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from warmline.common.gc_tuning import tune_collector


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_what_start_up_built_is_frozen_and_young_collections_become_rarer() -> None:
    gc.unfreeze()
    built_at_start_up = [[n] for n in range(100)]
    tune_collector(50_000)

    assert gc.get_threshold()[0] == 50_000
    assert gc.get_freeze_count() >= len(built_at_start_up)
    # Cycles made afterwards are still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


@pytest.mark.usefixtures("collector")
def test_zero_leaves_the_collector_as_python_set_it() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    tune_collector(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
