"""The reconnect backoff: capped windows, and a crowd spread across them, not in step."""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import pytest

from warmline.client.backoff import Backoff


def test_each_wait_lies_within_its_doubling_window_up_to_the_cap() -> None:
    backoff = Backoff(0.2, 5.0, rng=random.Random(7))
    ceilings = []
    for _ in range(12):
        ceiling = backoff.ceiling()
        assert 0 <= backoff.next_delay() <= ceiling
        ceilings.append(ceiling)
    assert ceilings[:6] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0])
    assert set(ceilings[5:]) == {5.0}


def test_the_window_stays_capped_after_very_many_attempts() -> None:
    backoff = Backoff(0.2, 5.0, rng=random.Random(1))
    backoff.attempt = 10_000
    assert 0 <= backoff.next_delay() <= 5.0


def test_reset_starts_again_from_the_shortest_window() -> None:
    backoff = Backoff(0.5, 8.0, rng=random.Random(3))
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.ceiling() == 0.5
    assert backoff.next_delay() <= 0.5


def test_the_same_seed_gives_the_same_waits() -> None:
    def waits(seed: int) -> list[float]:
        backoff = Backoff(rng=random.Random(seed))
        return [backoff.next_delay() for _ in range(8)]

    assert waits(42) == waits(42)
    assert waits(42) != waits(43)


def test_a_thousand_consoles_broken_together_come_back_spread_over_the_window() -> None:
    # Every console saw the same restart: same attempt count, own generator.
    rng = random.Random(2026)
    consoles = [Backoff(0.2, 5.0, rng=random.Random(rng.getrandbits(64))) for _ in range(1000)]
    for _ in range(6):  # the window reached the cap
        waits = [c.next_delay() for c in consoles]
    assert min(waits) >= 0
    assert max(waits) <= 5.0
    # Uniform on [0, 5]: mean 2.5, standard deviation 5 / sqrt(12) = 1.44.
    assert statistics.mean(waits) == pytest.approx(2.5, abs=0.15)
    assert statistics.stdev(waits) == pytest.approx(1.44, abs=0.1)
    # No half-second slot takes more than 15% of the crowd (10% expected).
    slots = [0] * 10
    for wait in waits:
        slots[min(int(wait / 0.5), 9)] += 1
    assert max(slots) <= 150, slots
    assert min(slots) >= 50, slots
    # Nobody waits the same time as another: no lockstep.
    assert len({round(w, 6) for w in waits}) == len(waits)


def test_a_base_above_the_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="base_s <= cap_s"):
        Backoff(10.0, 5.0)


async def test_wait_returns_early_when_stopped() -> None:
    backoff = Backoff(30.0, 30.0, rng=random.Random(0))
    backoff.attempt = 1  # draws from [0, 30]: with this seed, well above the test's patience
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    await backoff.wait(stop)
    assert time.monotonic() - started < 5
