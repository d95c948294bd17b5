"""The idempotency window: a repeated ``event_id`` is acknowledged, not re-written.

Ids are remembered per tenant for a configurable time, in insertion order, so
expiry is a pop from the front. The window is per process: with several
replicas, a platform's retry usually lands on the same connection, and the
pipeline's ids make any duplicate that slips through harmless downstream.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class IdempotencyWindow:
    """Remembers (tenant, event_id) pairs for ``window_s`` seconds, at most ``max_entries``."""

    def __init__(
        self, window_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window_s = window_s
        self._max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, tenant_id: str, event_id: str) -> bool:
        """True when the pair was remembered within the window."""
        self._expire()
        return (tenant_id, event_id) in self._seen

    def remember(self, tenant_id: str, event_id: str) -> None:
        """Remember a pair that was durably accepted."""
        self._seen[(tenant_id, event_id)] = self._clock()
        self._seen.move_to_end((tenant_id, event_id))
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)

    def _expire(self) -> None:
        horizon = self._clock() - self._window_s
        while self._seen:
            key, stamp = next(iter(self._seen.items()))
            if stamp >= horizon:
                break
            del self._seen[key]
