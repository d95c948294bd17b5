"""The adaptive micro-batcher: many small requests, few large model calls.

Callers (the Kafka pipeline and the gRPC ``Score`` RPC) submit items (turns to
score) and await their results. A batch closes when it holds ``max_batch_size``
items or its oldest item has waited ``max_wait_ms``; under load batches fill at
once, when quiet a lone item waits at most ``max_wait_ms``. Requests keep their
arrival order inside a batch, so a conversation's turns reach the model in order. A caller that will send nothing
more until its texts are scored (the Kafka pipeline, which hands over a whole
poll) submits with ``wait_for_more=False``: its batch closes with whatever is
already queued instead of waiting. Inference runs on one worker thread, so the
asyncio loop never blocks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from warmline.common.metrics import (
    SCORING_BATCH_SIZE,
    SCORING_INFERENCE_SECONDS,
    SCORING_QUEUE_DEPTH,
)

T = TypeVar("T")
R = TypeVar("R")
Infer = Callable[[Sequence[T]], list[R]]


class ModelNotReady(RuntimeError):
    """Scoring was requested before the model finished loading."""


@dataclass(slots=True)
class _Request(Generic[T, R]):
    texts: Sequence[T]
    future: asyncio.Future[list[R]]
    enqueued: float
    wait_for_more: bool = True


class MicroBatcher(Generic[T, R]):
    """Feeds ``infer`` (a blocking function) with batches built from concurrent requests."""

    def __init__(self, infer: Infer[T, R], *, max_batch_size: int, max_wait_ms: float) -> None:
        self._infer = infer
        self._max_batch = max_batch_size
        self._max_wait_s = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Request[T, R] | None] = asyncio.Queue()
        self._pending_texts = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start batching on the running loop."""
        self._worker = asyncio.create_task(self._run())

    async def score(self, texts: Sequence[T], *, wait_for_more: bool = True) -> list[R]:
        """Results for ``texts``, in order; raises what the model raised.

        ``wait_for_more=False``: do not hold the batch open for other callers.
        """
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        request: _Request[T, R] = _Request(
            texts, loop.create_future(), time.monotonic(), wait_for_more
        )
        self._pending_texts += len(texts)
        SCORING_QUEUE_DEPTH.set(self._pending_texts)
        await self._queue.put(request)
        return await request.future

    async def close(self) -> None:
        """Finish what was submitted, then stop the worker thread."""
        if self._worker is not None:
            await self._queue.put(None)
            await self._worker
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            size = len(first.texts)
            deadline = first.enqueued + (self._max_wait_s if first.wait_for_more else 0.0)
            while size < self._max_batch:
                timeout = deadline - time.monotonic()
                try:
                    nxt = (
                        self._queue.get_nowait()
                        if timeout <= 0
                        else await asyncio.wait_for(self._queue.get(), timeout)
                    )
                except (TimeoutError, asyncio.QueueEmpty):
                    break
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
                size += len(nxt.texts)
                if not nxt.wait_for_more:
                    deadline = 0.0  # take what is queued, then go
            await self._run_batch(batch, size)

    async def _run_batch(self, batch: list[_Request[T, R]], size: int) -> None:
        texts = [text for request in batch for text in request.texts]
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self._infer, texts)
        except Exception as exc:  # the model failed: every waiting caller learns why
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        finally:
            self._pending_texts -= size
            SCORING_QUEUE_DEPTH.set(self._pending_texts)
        SCORING_INFERENCE_SECONDS.observe(time.perf_counter() - started)
        SCORING_BATCH_SIZE.observe(size)
        offset = 0
        for request in batch:
            n = len(request.texts)
            if not request.future.done():
                request.future.set_result(results[offset : offset + n])
            offset += n
