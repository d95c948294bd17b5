"""Epoch-second stamps as the reports print them."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_seconds(stamp: float) -> str:
    """``stamp`` (epoch seconds) in UTC ISO 8601, to the second."""
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
