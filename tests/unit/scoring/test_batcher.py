"""The micro-batcher: order kept, batches bounded by size and wait, errors delivered."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from warmline.scoring.batcher import MicroBatcher


class Recorder:
    """A model stand-in that records the batches it was given (and their thread)."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on

    def __call__(self, texts: Sequence[str]) -> list[str]:
        self.threads.add(threading.current_thread().name)
        if self.fail_on in texts:
            raise RuntimeError(f"model failed on {self.fail_on!r}")
        self.batches.append(list(texts))
        return [t.upper() for t in texts]


async def test_concurrent_requests_share_batches_and_keep_their_order() -> None:
    model = Recorder()
    batcher = MicroBatcher(model, max_batch_size=8, max_wait_ms=50)
    batcher.start()
    requests = [[f"r{r}t{t}" for t in range(3)] for r in range(6)]
    results = await asyncio.gather(*(batcher.score(texts) for texts in requests))
    await batcher.close()
    assert results == [[t.upper() for t in texts] for texts in requests]
    assert len(model.batches) < len(requests)  # batched, not one call per request
    assert all(len(b) <= 8 + 2 for b in model.batches)  # a request is never split
    assert model.threads and threading.current_thread().name not in model.threads


async def test_a_lone_request_is_released_by_max_wait_not_a_full_batch() -> None:
    batcher = MicroBatcher(Recorder(), max_batch_size=1000, max_wait_ms=30)
    batcher.start()
    # A batch of 1000 never fills: only max_wait can release the request
    # (the outer timeout just keeps a broken batcher from hanging the suite).
    assert await asyncio.wait_for(batcher.score(["hello"]), 30) == ["HELLO"]
    await batcher.close()


async def test_a_model_failure_reaches_every_caller_of_that_batch_and_not_the_next() -> None:
    model = Recorder(fail_on="boom")
    batcher = MicroBatcher(model, max_batch_size=100, max_wait_ms=50)
    batcher.start()
    first, second = await asyncio.gather(
        batcher.score(["boom"]), batcher.score(["fine"]), return_exceptions=True
    )
    assert isinstance(first, RuntimeError) and isinstance(second, RuntimeError)
    assert await batcher.score(["later"]) == ["LATER"]
    await batcher.close()


async def test_close_finishes_what_was_submitted() -> None:
    batcher = MicroBatcher(Recorder(), max_batch_size=4, max_wait_ms=20)
    batcher.start()
    pending = asyncio.gather(*(batcher.score([f"t{i}"]) for i in range(10)))
    await asyncio.sleep(0)
    await batcher.close()
    assert [r[0] for r in await pending] == [f"T{i}" for i in range(10)]


async def test_empty_requests_are_answered_without_the_model() -> None:
    model = Recorder()
    batcher = MicroBatcher(model, max_batch_size=4, max_wait_ms=20)
    batcher.start()
    assert await batcher.score([]) == []
    await batcher.close()
    assert model.batches == []


async def test_a_caller_with_nothing_more_to_send_does_not_wait_for_the_batch_to_fill() -> None:
    model = Recorder()
    # A wait far longer than the test's own timeout: only not waiting can pass.
    batcher = MicroBatcher(model, max_batch_size=64, max_wait_ms=600_000)
    batcher.start()
    try:
        poll = await asyncio.wait_for(batcher.score(["a", "b"], wait_for_more=False), 30)
        assert poll == ["A", "B"]
        # A waiting request is closed early by a poll that joins it.
        waiting = asyncio.ensure_future(batcher.score(["c"]))
        await asyncio.sleep(0)
        joined = await asyncio.wait_for(batcher.score(["d"], wait_for_more=False), 30)
        assert joined == ["D"] and await waiting == ["C"]
        assert model.batches == [["a", "b"], ["c", "d"]]
    finally:
        await batcher.close()
