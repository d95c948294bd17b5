"""The scoring benchmark's steady rate leaves the service's start-up out."""

from __future__ import annotations

from typing import Any

from warmline.bench.scoring import _drain


class Polls:
    """A consumer whose polls return nothing twice (the group joining), then records."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes

    async def getmany(self, timeout_ms: int) -> dict[str, list[Any]]:
        size = self.sizes.pop(0) if self.sizes else 0
        return {"tp": [object()] * size} if size else {}


async def test_the_first_read_and_its_records_are_returned_apart_from_the_rest() -> None:
    seen: list[Any] = []
    first_at, first_count = await _drain(Polls([0, 0, 5, 3, 2]), 10, seen.append)  # type: ignore[arg-type]
    assert first_count == 5
    assert first_at > 0
    assert len(seen) == 10
