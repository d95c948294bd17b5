"""The stall rule: records waiting and a position that does not move, for long enough."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from warmline.decisioning.faust_runtime.stall_watch import (
    StallWatch,
    _Progress,
    waiting_and_unmoved,
)

A = TP("scored", 0)
B = TP("scored", 1)


def look(
    seen: dict[TP, _Progress], at: float, positions: dict[TP, int], ends: dict[TP, int]
) -> list[TP]:
    return waiting_and_unmoved(positions, ends, seen, now=at, stall_after_s=20.0)


def test_a_partition_with_records_waiting_and_no_progress_is_stalled_after_the_wait() -> None:
    seen: dict[TP, _Progress] = {}
    assert look(seen, 0.0, {A: 10}, {A: 15}) == []
    assert look(seen, 19.0, {A: 10}, {A: 16}) == []
    assert look(seen, 20.0, {A: 10}, {A: 17}) == [A]


def test_a_partition_that_moves_however_slowly_is_not_stalled() -> None:
    seen: dict[TP, _Progress] = {}
    for second in range(0, 100, 5):
        assert look(seen, float(second), {A: 10 + second}, {A: 1_000}) == []


def test_an_idle_partition_with_nothing_waiting_is_never_stalled() -> None:
    seen: dict[TP, _Progress] = {}
    assert look(seen, 0.0, {A: 10}, {A: 10}) == []
    assert look(seen, 300.0, {A: 10}, {A: 10}) == []
    # Records arrive after a long quiet: the wait starts from the last idle look.
    assert look(seen, 305.0, {A: 10}, {A: 12}) == []
    assert look(seen, 325.0, {A: 10}, {A: 12}) == [A]


def test_only_the_stuck_partition_is_named_and_a_revoked_one_is_forgotten() -> None:
    seen: dict[TP, _Progress] = {}
    look(seen, 0.0, {A: 1, B: 1}, {A: 5, B: 5})
    assert look(seen, 30.0, {A: 1, B: 4}, {A: 5, B: 5}) == [A]
    assert look(seen, 31.0, {B: 4}, {B: 5}) == []
    assert set(seen) == {B}


def test_a_partition_without_a_known_end_is_not_judged() -> None:
    seen: dict[TP, _Progress] = {}
    look(seen, 0.0, {A: 3}, {})
    assert look(seen, 60.0, {A: 3}, {}) == []


class FakeConsumer:
    """What the watch reads of faust's consumer, with positions and ends set by the test."""

    def __init__(self) -> None:
        self.positions = {A: 10}
        self.ends = {A: 15}
        self.flow_active = False
        self._paused_partitions = {A}
        self.rejoins = 0
        coordinator = SimpleNamespace(request_rejoin=self._rejoin)
        self._thread = SimpleNamespace(
            _ensure_consumer=lambda: SimpleNamespace(_coordinator=coordinator)
        )

    def _rejoin(self) -> None:
        self.rejoins += 1

    def assignment(self) -> set[TP]:
        return set(self.positions)

    async def position(self, tp: TP) -> int:
        return self.positions[tp]

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}


async def test_a_stall_rejoins_and_the_worker_is_ready_again_only_once_the_partition_moves() -> (
    None
):
    consumer = FakeConsumer()
    app = SimpleNamespace(
        consumer=consumer,
        tables=SimpleNamespace(recovery=SimpleNamespace(in_recovery=False)),
        rebalancing=False,
        consumer_generation_id=3,
    )
    ready: list[bool] = []
    now = [0.0]
    watch = StallWatch(
        app,
        "scored",
        stall_after_s=20.0,
        on_stalled=lambda: ready.append(False),
        on_moving=lambda: ready.append(True),
        clock=lambda: now[0],
    )
    assert await watch.check() == []  # not settled: no judgement
    watch.settled()
    await watch.check()
    now[0] = 20.0
    assert await watch.check() == [A]
    assert consumer.rejoins == 1 and ready == [False]
    # Still unmoved a few seconds later: still not ready, and no second rejoin yet.
    now[0] = 25.0
    assert await watch.check() == []
    assert ready == [False] and consumer.rejoins == 1
    # It moves: ready again.
    consumer.positions[A] = 12
    now[0] = 30.0
    assert await watch.check() == []
    assert ready == [False, True]
