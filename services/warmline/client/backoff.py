"""Capped exponential backoff with full jitter, for every client that reconnects or retries.

After a notification replica restarts, every console connected to it sees its
stream break in the same instant. Waiting a fixed ``base * 2**n`` would bring
them all back in the same instant too, again and again. Full jitter draws each
wait uniformly from ``[0, min(cap, base * 2**n)]`` (the "Full Jitter" of AWS's
*Exponential Backoff and Jitter*), so a crowd that broke together returns
spread over the whole window: at most ``cap_s`` late, ``crowd / cap_s``
arrivals a second once the window is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import random


class Backoff:
    """The waits between attempts of one client; :meth:`reset` after a success."""

    def __init__(
        self, base_s: float = 0.2, cap_s: float = 5.0, *, rng: random.Random | None = None
    ) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError(f"backoff needs 0 < base_s <= cap_s, got {base_s} and {cap_s}")
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        # Each client its own generator: seeded in tests, from the OS otherwise.
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        """The longest the next wait may be: ``min(cap_s, base_s * 2**attempt)``."""
        # The exponent stops growing once past the cap, so it never overflows.
        return min(self.cap_s, self.base_s * (1 << min(self.attempt, 64)))

    def next_delay(self) -> float:
        """The wait before the next attempt, drawn from ``[0, ceiling()]``; counts the attempt."""
        delay = self._rng.uniform(0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from the shortest window (the connection worked)."""
        self.attempt = 0

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        """Sleep the next delay, or less when ``stop`` is set meanwhile."""
        delay = self.next_delay()
        if stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
