"""The idempotency window and the per-tenant token bucket, on a controlled clock."""

from __future__ import annotations

from warmline.ingestion.dedupe import IdempotencyWindow
from warmline.ingestion.ratelimit import TenantRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_id_is_a_duplicate_within_the_window_and_forgotten_after() -> None:
    clock = Clock()
    window = IdempotencyWindow(window_s=60, max_entries=1000, clock=clock)
    window.remember("acme", "e1")
    assert window.seen("acme", "e1")
    assert not window.seen("globex", "e1")  # ids are per tenant
    clock.now += 61
    assert not window.seen("acme", "e1")
    assert len(window) == 0


def test_the_window_is_bounded_oldest_first() -> None:
    window = IdempotencyWindow(window_s=3600, max_entries=1000, clock=Clock())
    for i in range(1500):
        window.remember("acme", f"e{i}")
    assert len(window) == 1000
    assert not window.seen("acme", "e0")
    assert window.seen("acme", "e1499")


def test_a_tenant_over_its_burst_waits_and_others_do_not() -> None:
    clock = Clock()
    limiter = TenantRateLimiter(rate_per_s=10, burst=20, clock=clock)
    assert limiter.try_acquire("acme", 20) == 0.0
    wait = limiter.try_acquire("acme", 5)
    assert wait == 0.5  # 5 tokens at 10/s
    assert limiter.try_acquire("globex", 20) == 0.0
    clock.now += 0.5
    assert limiter.try_acquire("acme", 5) == 0.0
