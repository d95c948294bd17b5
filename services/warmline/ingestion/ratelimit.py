"""Per-tenant token buckets: a noisy tenant slows down, the others do not."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TenantRateLimiter:
    """``rate_per_s`` sustained events per tenant, with bursts up to ``burst``."""

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def try_acquire(self, tenant_id: str, count: int = 1) -> float:
        """Take ``count`` tokens; return 0.0 on success or the seconds to wait before retrying."""
        now = self._clock()
        bucket = self._buckets.setdefault(tenant_id, _Bucket(self._burst, now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= count:
            bucket.tokens -= count
            return 0.0
        return (count - bucket.tokens) / self._rate
