"""The lean fetch loop's give-way: a record blocked in a stream buffer yields to a rebalance."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from warmline.decisioning.faust_consumer import LeanApp, LeanConsumer, check_faust_compatible


def test_the_installed_faust_has_the_private_parts_decisioning_relies_on() -> None:
    check_faust_compatible()


async def lean_consumer(callback: Any) -> LeanConsumer:
    app = LeanApp("lean-consumer-test", broker="kafka://127.0.0.1:9", store="memory://")
    consumer = app.consumer
    assert isinstance(consumer, LeanConsumer)
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

    consumer = await lean_consumer(blocked_until_released)

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

    consumer = await lean_consumer(blocked)

    async def fetch_loop() -> bool:
        consumer._drain_task = asyncio.current_task()
        return await consumer._deliver("blocked")

    loop_task = asyncio.create_task(fetch_loop())
    await asyncio.sleep(0.05)
    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop_task


async def test_a_rebalance_while_the_loop_waits_outside_a_callback_cancels_nothing() -> None:
    consumer = await lean_consumer(None)

    async def fetching() -> str:
        consumer._drain_task = asyncio.current_task()
        await asyncio.sleep(0.1)  # as if waiting in getmany
        return "still fetching"

    loop_task = asyncio.create_task(fetching())
    await asyncio.sleep(0.02)
    consumer.stop_flow()
    assert await asyncio.wait_for(loop_task, 5) == "still fetching"
    assert consumer.suspend_flow.is_set()
