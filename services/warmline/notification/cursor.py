"""Resume cursors: where in the escalation stream a console has got to.

A cursor is the next offset to read on every partition of the escalations
topic. Offsets mean the same on every replica and after a restart, so a
console may reconnect anywhere and resume exactly. On the wire it is opaque:
``v1.`` followed by ``partition:offset`` pairs joined with ``,``.
"""

from __future__ import annotations

from collections.abc import Mapping

_PREFIX = "v1."


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
        partition, sep, offset = pair.partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise CursorError(f"malformed cursor entry {pair[:40]!r}")
        positions[int(partition)] = int(offset)
    return positions


def merge(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
    """The later of two positions on every partition."""
    return {p: max(a.get(p, 0), b.get(p, 0)) for p in a.keys() | b.keys()}
