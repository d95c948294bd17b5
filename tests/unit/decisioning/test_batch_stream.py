"""Batches taken straight off a Faust stream's queue: size, timing, acks, rebalances, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faust.types import ConsumerMessage, Message

from warmline.decisioning.faust_runtime.batch_stream import take_batches
from warmline.decisioning.faust_runtime.consumer import WorkerApp
from warmline.decisioning.faust_runtime.raw_schema import RawBytesSchema

TOPIC = "warmline.scored.v1"


class Source:
    """A real Faust app and topic stream, with records put on its queue as the conductor would."""

    def __init__(self) -> None:
        self.app = WorkerApp("batch-stream-test", broker="kafka://127.0.0.1:9", store="memory://")
        self.app.flow_control.resume()
        self.topic = self.app.topic(TOPIC, schema=RawBytesSchema())
        self.stream = self.app.stream(self.topic)
        self.offset = 0

    async def put(self, count: int, *, generation: int | None = None) -> list[ConsumerMessage]:
        """``count`` records of partition 0 on the stream's queue, as the consumer makes them."""
        messages = []
        for _ in range(count):
            message = ConsumerMessage(
                TOPIC, 0, self.offset, time.time(), 0, [], b"key", b"value", None,
                generation_id=self.app.consumer_generation_id if generation is None else generation,
            )  # fmt: skip
            self.offset += 1
            message.incref()
            await self.stream.channel.put(await self.stream.channel.decode(message))
            messages.append(message)
        return messages


@pytest.fixture
async def source() -> Source:
    source = Source()
    # What the conductor does when the consumer subscribes: learn which topics ack.
    await source.app.topics._update_indices()
    assert source.app.topics.acks_enabled_for(TOPIC)
    return source


async def next_batch(batches: AsyncIterator[list[Any]], timeout_s: float = 5.0) -> list[Any]:
    return await asyncio.wait_for(anext(batches), timeout_s)


async def test_a_full_batch_comes_at_once_and_the_rest_after_the_wait(source: Source) -> None:
    await source.put(250)
    batches = take_batches(source.stream, 100, within=30.0)
    # Full batches never wait for ``within``.
    assert [len(await next_batch(batches, 1.0)) for _ in range(2)] == [100, 100]

    quick = take_batches(source.stream, 100, within=0.05)
    started = time.perf_counter()
    assert len(await next_batch(quick)) == 50
    assert time.perf_counter() - started >= 0.04  # it waited for more before giving up


async def test_records_arriving_during_the_wait_join_the_batch(source: Source) -> None:
    await source.put(1)
    batches = take_batches(source.stream, 10, within=5.0)
    pending = asyncio.ensure_future(next_batch(batches))
    await asyncio.sleep(0.05)
    await source.put(9)
    assert [e.message.offset for e in await pending] == list(range(10))


async def test_a_batch_is_acked_when_the_next_is_asked_for_and_tracked_until_then(
    source: Source,
) -> None:
    first = await source.put(3)
    batches = take_batches(source.stream, 3, within=0.01)
    await next_batch(batches)
    assert not any(m.acked for m in first)
    # Tracked: a rebalance waits for these before it commits.
    unacked = source.app.consumer.unacked
    assert all(m in unacked for m in first)

    second = await source.put(3)
    await next_batch(batches)
    assert all(m.acked for m in first) and not any(m.acked for m in second)
    assert not any(m in unacked for m in first)


async def test_a_batch_whose_caller_failed_stays_unacked(source: Source) -> None:
    messages = await source.put(2)

    async def failing_agent() -> None:
        async for _events in take_batches(source.stream, 2, within=0.01):
            raise RuntimeError("deciding failed")

    with pytest.raises(RuntimeError, match="deciding failed"):
        await failing_agent()
    assert not any(m.acked for m in messages)


async def test_records_queued_before_a_rebalance_are_dropped_unacked(source: Source) -> None:
    stale = await source.put(2, generation=source.app.consumer_generation_id - 1)
    fresh = await source.put(1)
    batch = await next_batch(take_batches(source.stream, 3, within=0.05))
    assert [e.message for e in batch] == fresh
    assert not any(m.acked for m in stale)


async def test_records_taken_while_the_flow_is_stopped_are_dropped(source: Source) -> None:
    await source.put(2)
    source.app.flow_control.suspend()
    batches = take_batches(source.stream, 2, within=0.05)
    with pytest.raises(TimeoutError):
        await next_batch(batches, 0.3)


async def test_an_error_thrown_into_the_stream_reaches_the_agent_at_once(source: Source) -> None:
    await source.put(1)
    # faust's queue hands out errors before the events queued ahead of them.
    await source.stream.channel.throw(ValueError("poisoned"))
    batches = take_batches(source.stream, 5, within=0.05)
    with pytest.raises(ValueError, match="poisoned"):
        await next_batch(batches)
    assert len(await next_batch(take_batches(source.stream, 5, within=0.05))) == 1


async def test_an_error_thrown_while_a_batch_fills_comes_after_that_batch(source: Source) -> None:
    [taken] = await source.put(1)
    batches = take_batches(source.stream, 5, within=5.0)
    pending = asyncio.ensure_future(next_batch(batches))
    await asyncio.sleep(0.05)  # the batch waits for more
    await source.stream.channel.throw(ValueError("poisoned"))
    assert [e.message for e in await pending] == [taken]
    with pytest.raises(ValueError, match="poisoned"):
        await next_batch(batches)
    assert taken.acked  # handed over and done with before the error surfaced


async def test_raw_topics_hand_over_the_records_bytes_untouched(source: Source) -> None:
    message = Message(TOPIC, 3, 7, time.time(), 0, [], b"acme/c1", b"\x00\xffproto", None)
    event = await source.stream.channel.decode(message)
    assert (event.key, event.value, event.message) == (b"acme/c1", b"\x00\xffproto", message)
    tombstone = Message(TOPIC, 3, 8, time.time(), 0, [], b"acme/c1", None, None)
    assert (await source.stream.channel.decode(tombstone)).value is None


async def test_the_end_of_a_finite_channel_ends_the_batches(source: Source) -> None:
    await source.put(2)
    batches = take_batches(source.stream, 5, within=5.0)
    pending = asyncio.ensure_future(next_batch(batches))
    await asyncio.sleep(0.05)
    await source.stream.channel.throw(StopAsyncIteration())
    assert len(await pending) == 2
    with pytest.raises(StopAsyncIteration):
        await next_batch(batches)
