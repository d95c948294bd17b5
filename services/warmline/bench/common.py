"""Helpers shared by the benchmarks: percentiles, result files, sample events."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warmline.v1 import events_pb2

_SAMPLE_TEXTS = (
    "Where is my order? It was due yesterday.",
    "I have been charged twice for the same subscription.",
    "Thanks, that fixed it!",
    "This is the third time I am asking the same question.",
    "Can I talk to a real person please",
    "My card 4111 1111 1111 1111 was declined again, call me on +44 20 7946 0958",
)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def sample_event(i: int, conversations: int = 500) -> events_pb2.InteractionEvent:
    """A realistic customer message; ids unique per ``i``."""
    event = events_pb2.InteractionEvent(
        event_id=f"bench-{i}",
        conversation_id=f"conv-{i % conversations}",
        customer_id=f"cust-{i % conversations}",
        channel=events_pb2.CHANNEL_CHAT,
        role=events_pb2.ROLE_CUSTOMER,
        kind=events_pb2.EVENT_KIND_MESSAGE,
        text=_SAMPLE_TEXTS[i % len(_SAMPLE_TEXTS)],
        language="en",
    )
    event.occurred_at.FromDatetime(datetime.now(UTC))
    return event


def write_result(out: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Add the machine description and write ``result`` as JSON to ``out``."""
    result = {
        **result,
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "memory_gib": round(
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
            ),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result
