"""Process lifecycle: run a service until SIGTERM or SIGINT, then drain."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol

ServiceMain = Callable[[asyncio.Event], Awaitable[None]]


def run_service(main: ServiceMain) -> None:
    """Run ``main(stop)`` on a fresh loop; SIGTERM/SIGINT set ``stop``.

    ``main`` is expected to start its servers, wait for ``stop`` and then shut
    down gracefully (drain in-flight work, commit offsets) before returning.
    """

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(_run())


class ManagedService(Protocol):
    """What every Warmline service offers its process."""

    async def start(self) -> None:
        """Serve; may wait for dependencies (Kafka, the model) before returning."""

    async def stop(self) -> None:
        """Drain in-flight work and release everything."""

    def crashed(self) -> asyncio.Task[None] | None:
        """Background work whose end means the service can no longer do its job."""


async def serve_until_stopped(service: ManagedService, stop: asyncio.Event) -> None:
    """Start ``service``, run until ``stop`` is set or it fails, then stop it gracefully.

    A failure (in start-up or in the work ``crashed`` returns) is re-raised after
    the graceful stop, so the process exits non-zero and the orchestrator
    restarts it; uncommitted input is replayed then.
    """
    starting = asyncio.create_task(service.start())
    stopped = asyncio.create_task(stop.wait())
    failure: BaseException | None = None
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
    elif (failure := starting.exception()) is None:
        work = service.crashed()
        await asyncio.wait(
            {stopped} | ({work} if work else set()), return_when=asyncio.FIRST_COMPLETED
        )
        if work is not None and work.done() and not work.cancelled():
            failure = work.exception()
    stopped.cancel()
    await service.stop()
    if failure is not None:
        raise failure


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel background tasks and wait until each has ended."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
