"""Small groups are suppressed, so no customer or agent can be singled out.

What is promised: a group (a queue in an hour, a reason in a queue, ...) of fewer
than ``min_group`` distinct conversations is reported without any figure, not
even its count (``suppressed: true``, every number null). Where a total is
reported beside its parts (all queues beside each queue, the whole window
beside each time bucket), one small part could be worked out by subtracting
the others from the total; so when the suppressed parts of a total hold fewer
than ``min_group`` conversations together, the next-smallest parts are
suppressed too, until they do (complementary suppression, one dimension at a
time). No figure carries an agent's id.

What is not promised: that reports over many overlapping windows cannot be
combined to narrow a suppressed figure down. Hand out reports, not the record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

#: The dimensions a group is keyed by; None in one of them means "all of them".
DIMENSIONS = ("bucket", "queue", "reason", "escalated")
#: Each row's true number of distinct conversations, dropped before output.
SIZE = "_conversations"


def suppress_small(rows: list[dict[str, Any]], min_group: int, along: Iterable[str]) -> None:
    """Mark rows of fewer than ``min_group`` conversations, then their complements
    along each dimension of ``along`` (in place; see the module's promise)."""
    for row in rows:
        row["suppressed"] = row[SIZE] < min_group
    for dimension in along:
        _complement(rows, dimension, min_group)


def _complement(rows: list[dict[str, Any]], along: str, min_group: int) -> None:
    """Within each set of parts that add up to one total along ``along``, suppress
    the smallest visible parts until the suppressed ones hold ``min_group``
    conversations, or none is visible."""
    parts: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get(along) is not None:
            others = tuple((d, row.get(d)) for d in DIMENSIONS if d != along and d in row)
            parts[others].append(row)
    for group in parts.values():
        hidden = sum(r[SIZE] for r in group if r["suppressed"])
        visible = sorted((r for r in group if not r["suppressed"]), key=lambda r: r[SIZE])
        while 0 < hidden < min_group and visible:
            smallest = visible.pop(0)
            smallest["suppressed"] = True
            hidden += smallest[SIZE]


def published(rows: list[dict[str, Any]], figures: Iterable[str]) -> list[dict[str, Any]]:
    """The rows as reported: a suppressed row keeps its keys and loses every figure."""
    names = (*figures, "conversations")
    out = []
    for row in rows:
        shown = {k: v for k, v in row.items() if k != SIZE}
        shown["conversations"] = row[SIZE]
        if row["suppressed"]:
            shown |= dict.fromkeys(names)
        out.append(shown)
    return out
