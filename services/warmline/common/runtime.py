"""Process lifecycle: run a service until SIGTERM or SIGINT, then drain."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

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
