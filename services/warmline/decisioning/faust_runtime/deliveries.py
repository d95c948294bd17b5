"""The worker's sends that input offsets depend on, and whether Kafka accepted them.

The decisioning worker does not wait for its outputs batch by batch (that round
trip left it idle). Decisions, dead letters and changelog batches are tracked
here instead: :meth:`Deliveries.check` (after each batch) raises if one was
refused, and :meth:`Deliveries.confirm` (before each commit of input offsets)
first waits for all of them. A refusal stays: no later check or commit passes it,
so the worker stops and its restart replays from the last commit. (The whole
promise: :mod:`warmline.decisioning.faust_runtime`.)

Sends go straight to the ``AIOKafkaProducer`` behind faust's producer
(:func:`kafka_producer`): faust's ``Topic.send`` adds a future and callbacks of
its own per record, whose failure nobody reads.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.types import AppT

log = logging.getLogger(__name__)


def kafka_producer(app: AppT) -> Any:
    """The ``AIOKafkaProducer`` behind faust's producer (faust has no public accessor)."""
    driver: Any = app.producer
    return driver._ensure_producer()


class DeliveryError(RuntimeError):
    """Kafka did not accept an output; offsets past it are not committed."""


class Deliveries:
    """Futures of sends not yet known to be acknowledged, and the first refusal."""

    def __init__(self) -> None:
        self._pending: list[tuple[asyncio.Future[Any], str]] = []
        self._refused: str | None = None

    def track(self, future: asyncio.Future[Any], what: str) -> None:
        """Watch ``future``, the send of ``what`` (named in the error if it is refused)."""
        self._pending.append((future, what))

    def check(self) -> None:
        """Forget acknowledged sends; raise :class:`DeliveryError` if one was refused."""
        waiting = []
        for future, what in self._pending:
            if future.done():
                self._note(future, what)
            else:
                waiting.append((future, what))
        self._pending = waiting
        self._raise_if_refused()

    async def confirm(self) -> None:
        """Wait for every tracked send, then :meth:`check`."""
        if self._pending:
            await asyncio.wait([future for future, _ in self._pending])
        self.check()

    def _note(self, future: asyncio.Future[Any], what: str) -> None:
        if future.cancelled():
            error = "the send was cancelled"
        elif future.exception() is not None:
            error = repr(future.exception())
        else:
            return
        if self._refused is None:
            self._refused = f"{what} was not written: {error}"
            log.error("output not written", extra={"output": what, "error": error})

    def _raise_if_refused(self) -> None:
        # A new exception each time: one object raised again and again collects
        # every traceback it passed through.
        if self._refused is not None:
            raise DeliveryError(self._refused)


def all_acknowledged(
    sends: list[asyncio.Future[Any]], earlier: asyncio.Future[None] | None
) -> asyncio.Future[None]:
    """A future done when ``sends`` and ``earlier`` are; failed as soon as one of them fails.

    Chained batch after batch (``earlier`` is the previous batch's), it tells
    when every output up to a batch is acknowledged, holding no reference to
    the futures once they are done.
    """
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    futures = ([earlier] if earlier is not None else []) + sends
    remaining = len(futures)

    def settle(future: asyncio.Future[Any]) -> None:
        nonlocal remaining
        if gate.done():
            return
        if future.cancelled() or future.exception() is not None:
            gate.set_exception(DeliveryError("an earlier output was not written"))
            return
        remaining -= 1
        if remaining == 0:
            gate.set_result(None)

    if not futures:
        gate.set_result(None)
    for future in futures:
        # Settled at once when already done: most batches decide nothing, and
        # their states should not wait a loop turn for an answered gate.
        if future.done():
            settle(future)
        else:
            future.add_done_callback(settle)
    return gate
