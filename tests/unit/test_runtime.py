"""The service lifecycle every `warmline serve` uses: stop drains, failures exit non-zero."""

from __future__ import annotations

import asyncio

import pytest

from warmline.common.runtime import serve_until_stopped


class FakeService:
    """A service whose start-up and background work the test controls."""

    def __init__(self, start_delay: float = 0.0, start_error: Exception | None = None) -> None:
        self.start_delay = start_delay
        self.start_error = start_error
        self.work: asyncio.Task[None] | None = None
        self.stopped = False
        self.break_work = asyncio.Event()

    async def start(self) -> None:
        await asyncio.sleep(self.start_delay)
        if self.start_error:
            raise self.start_error
        self.work = asyncio.create_task(self._work())

    async def _work(self) -> None:
        await self.break_work.wait()
        raise RuntimeError("kafka refused the write")

    def crashed(self) -> asyncio.Task[None] | None:
        return self.work

    async def stop(self) -> None:
        self.stopped = True
        if self.work is not None:
            self.work.cancel()


async def test_a_stop_signal_drains_the_service() -> None:
    service, stop = FakeService(), asyncio.Event()
    running = asyncio.create_task(serve_until_stopped(service, stop))
    await asyncio.sleep(0.05)
    assert not service.stopped
    stop.set()
    await asyncio.wait_for(running, 5)
    assert service.stopped


async def test_failed_background_work_stops_the_service_and_raises() -> None:
    service, stop = FakeService(), asyncio.Event()
    running = asyncio.create_task(serve_until_stopped(service, stop))
    await asyncio.sleep(0.05)
    service.break_work.set()
    with pytest.raises(RuntimeError, match="kafka refused"):
        await asyncio.wait_for(running, 5)
    assert service.stopped


async def test_a_failing_start_is_stopped_and_raised() -> None:
    service = FakeService(start_error=ValueError("bad credentials file"))
    with pytest.raises(ValueError, match="bad credentials"):
        await asyncio.wait_for(serve_until_stopped(service, asyncio.Event()), 5)
    assert service.stopped


async def test_a_stop_during_a_slow_start_cancels_it() -> None:
    service, stop = FakeService(start_delay=3600), asyncio.Event()
    running = asyncio.create_task(serve_until_stopped(service, stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert service.stopped and service.work is None
