"""How many cases each fuzz target saw, printed at the end of the test run."""

from __future__ import annotations

from collections import Counter

CASES: Counter[str] = Counter()


def count_case(target: str) -> None:
    """Count one generated case for ``target``."""
    CASES[target] += 1
