"""The worker's consumer: its fetch loop's give-way to a rebalance, and its commit check."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from warmline.decisioning.faust_runtime.consumer import WorkerApp, WorkerConsumer


async def worker_consumer(callback: Any) -> WorkerConsumer:
    app = WorkerApp("worker-consumer-test", broker="kafka://127.0.0.1:9", store="memory://")
    consumer = app.consumer
    assert isinstance(consumer, WorkerConsumer)
    consumer.callback = callback
    return consumer


async def test_a_record_blocked_in_a_full_buffer_is_dropped_when_a_rebalance_stops_the_flow() -> (
    None
):
    release = asyncio.Event()
    delivered: list[str] = []

    async def blocked_until_released(message: str) -> None:
        await release.wait()
        delivered.append(message)

    consumer = await worker_consumer(blocked_until_released)

    async def fetch_loop() -> list[bool]:
        consumer._drain_task = asyncio.current_task()
        first = await consumer._deliver("blocked")
        # The loop carries on after the rebalance freed it.
        release.set()
        return [first, await consumer._deliver("next")]

    loop_task = asyncio.create_task(fetch_loop())
    await asyncio.sleep(0.05)
    consumer.stop_flow()
    assert await asyncio.wait_for(loop_task, 5) == [False, True]
    assert delivered == ["next"]


async def test_stopping_the_fetcher_while_a_record_is_blocked_still_stops_it() -> None:
    async def blocked(message: str) -> None:
        await asyncio.Event().wait()

    consumer = await worker_consumer(blocked)

    async def fetch_loop() -> bool:
        consumer._drain_task = asyncio.current_task()
        return await consumer._deliver("blocked")

    loop_task = asyncio.create_task(fetch_loop())
    await asyncio.sleep(0.05)
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task


async def test_a_rebalance_while_the_loop_waits_outside_a_callback_cancels_nothing() -> None:
    consumer = await worker_consumer(None)

    async def fetching() -> str:
        consumer._drain_task = asyncio.current_task()
        await asyncio.sleep(0.1)  # as if waiting in getmany
        return "still fetching"

    loop_task = asyncio.create_task(fetching())
    await asyncio.sleep(0.02)
    consumer.stop_flow()
    assert await asyncio.wait_for(loop_task, 5) == "still fetching"
    assert consumer.suspend_flow.is_set()


async def test_offsets_are_committed_only_after_the_apps_check_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committed: list[dict[TP, int]] = []

    async def commit_to_kafka(self: Any, offsets: dict[TP, int]) -> bool:
        committed.append(dict(offsets))
        return True

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit", commit_to_kafka)
    consumer = await worker_consumer(lambda message: None)
    offsets = {TP("warmline.scored.v1", 0): 42}
    checks: list[str] = []

    async def refuse() -> None:
        checks.append("refuse")
        raise RuntimeError("a decision was not written")

    async def accept() -> None:
        checks.append("accept")

    consumer.app.before_commit = refuse  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="not written"):
        await consumer._commit(offsets)
    assert committed == []

    consumer.app.before_commit = accept  # type: ignore[attr-defined]
    assert await consumer._commit(offsets) is True
    assert committed == [offsets] and checks == ["refuse", "accept"]
