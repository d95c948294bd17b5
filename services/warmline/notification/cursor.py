"""Resume cursors: where in the escalation stream a console has got to.

A cursor is the next offset to read on every partition of the escalations
topic. Offsets mean the same on every replica and after a restart, so a
console may reconnect anywhere and resume exactly. On the wire it is opaque:
``v1.`` followed by ``partition:offset`` pairs joined with ``,``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PREFIX = "v1."
# ASCII digits only (str.isdigit also passes superscripts that int() refuses),
# and no longer than a Kafka partition (int32) or offset (int64) can be.
_ENTRY = re.compile(r"([0-9]{1,10}):([0-9]{1,19})")


class CursorError(ValueError):
    """A cursor that this service did not issue."""


def encode_cursor(positions: Mapping[int, int]) -> str:
    """The wire form of ``positions`` (partition -> next offset)."""
    return _PREFIX + ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))


def decode_cursor(cursor: str) -> dict[int, int]:
    """Partition -> next offset; raises :class:`CursorError` for a malformed cursor."""
    if not cursor.startswith(_PREFIX):
        raise CursorError(f"not a Warmline resume cursor: {cursor[:40]!r}")
    positions: dict[int, int] = {}
    body = cursor.removeprefix(_PREFIX)
    for pair in body.split(",") if body else []:
        entry = _ENTRY.fullmatch(pair)
        if entry is None:
            raise CursorError(f"malformed cursor entry {pair[:40]!r}")
        positions[int(entry[1])] = int(entry[2])
    return positions


def merge(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
    """The later of two positions on every partition."""
    return {p: max(a.get(p, 0), b.get(p, 0)) for p in a.keys() | b.keys()}
