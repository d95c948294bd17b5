"""Owned partitions that stop moving: noticed, reported, and healed by rejoining the group.

Twice in CI (2026-12-05) a decisioning worker that had settled after a
rebalance (ready, its partitions assigned) then left them undecided for more
than 90 s while records waited on them. The cause was not found; faust's own
recovery has paths that end a rebalance without resuming the partitions it
paused (``Recovery.on_recovery_completed`` returns early when the generation it
recovered is no longer the consumer's, after telling the app the rebalance is
complete). Whatever the cause, a contact center must not wait on it:

- every ``check_every_s`` the watch reads, for each scored partition the worker
  owns, the consumer's position and the partition's end offset;
- a partition with records waiting (end beyond the position) whose position has
  not moved for ``stall_after_s`` while the group is settled is *stalled*: the
  watch logs what the consumer looked like (flow, pauses, recovery, generation),
  counts it in ``warmline_decisioning_stalls_total``, reports the worker not
  ready, and asks the group coordinator to rejoin: the rebalance that follows
  runs faust's whole pause, recover, seek and resume sequence again;
- the worker is ready again once the rebalance completes or the partition moves.

A rebalance in progress (including a long table recovery) is never a stall:
the clocks start again when the group settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from faust.types import TP

from warmline.common.metrics import DECISIONING_STALLS

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Progress:
    position: int
    since: float


def waiting_and_unmoved(
    positions: Mapping[TP, int],
    ends: Mapping[TP, int],
    seen: dict[TP, _Progress],
    now: float,
    stall_after_s: float,
) -> list[TP]:
    """The partitions with records waiting whose position has not moved for
    ``stall_after_s``; updates ``seen`` (the last position and since when)."""
    stalled = []
    for tp, position in positions.items():
        before = seen.get(tp)
        if before is None or before.position != position:
            seen[tp] = _Progress(position, now)
            continue
        end = ends.get(tp)
        if end is None or end <= position:
            before.since = now  # nothing waiting: idle, not stalled
            continue
        if now - before.since >= stall_after_s:
            stalled.append(tp)
    for gone in set(seen) - set(positions):
        del seen[gone]
    return stalled


class StallWatch:
    """Watches the scored partitions of one faust app (see the module's docstring)."""

    def __init__(
        self,
        app: Any,
        topic: str,
        stall_after_s: float,
        on_stalled: Callable[[], None],
        on_moving: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.topic = topic
        self.stall_after_s = stall_after_s
        self.check_every_s = max(stall_after_s / 4, 0.25)
        self._on_stalled = on_stalled
        self._on_moving = on_moving
        self._clock = clock
        self._seen: dict[TP, _Progress] = {}
        self._settled = False
        # Stalled partitions and where they stood: the worker is ready again
        # only once each has moved, has nothing waiting, or is no longer ours.
        self._stalled_at: dict[TP, int] = {}

    def rebalancing(self) -> None:
        """A rebalance started: nothing is a stall until it completes."""
        self._settled = False
        self._stalled_at.clear()
        self._seen.clear()

    def settled(self) -> None:
        """The rebalance completed: the clocks start now."""
        self._settled = True
        self._seen.clear()

    async def run(self) -> None:
        """Check every ``check_every_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.check_every_s)
            try:
                await self.check()
            except Exception:  # a failed look is not a stall; the next one tries again
                log.warning("stall check failed", exc_info=True)

    async def check(self) -> list[TP]:
        """One look: the partitions found stalled (the group is asked to rejoin if any)."""
        if not self._settled:
            return []
        consumer = self.app.consumer
        owned = [tp for tp in consumer.assignment() if tp.topic == self.topic]
        positions = await self._positions(owned)
        ends = await consumer.highwaters(*positions) if positions else {}
        if not self._settled:  # a rebalance started while we looked
            return []
        stalled = waiting_and_unmoved(
            positions, ends, self._seen, self._clock(), self.stall_after_s
        )
        if self._stalled_at:
            self._stalled_at = {
                tp: at
                for tp, at in self._stalled_at.items()
                if positions.get(tp) == at and ends.get(tp, at) > at
            }
            if not self._stalled_at and not stalled:
                self._on_moving()
        if stalled:
            self._heal(stalled, positions, ends)
        return stalled

    async def _positions(self, owned: list[TP]) -> dict[TP, int]:
        consumer = self.app.consumer
        positions = {}
        for tp in owned:
            # aiokafka waits for a position being reset; that is not ours to judge.
            with contextlib.suppress(Exception):
                position = await asyncio.wait_for(consumer.position(tp), self.check_every_s)
                if position is not None:
                    positions[tp] = position
        return positions

    def _heal(self, stalled: list[TP], positions: Mapping[TP, int], ends: Mapping[TP, int]) -> None:
        consumer = self.app.consumer
        recovery = self.app.tables.recovery
        log.error(
            "decisioning partitions stalled: records waiting, position unmoved; rejoining the group",
            extra={
                "stalled": {
                    f"{tp.topic}[{tp.partition}]": (positions[tp], ends[tp]) for tp in stalled
                },
                "stall_after_s": self.stall_after_s,
                "flow_active": consumer.flow_active,
                "paused": sorted(
                    f"{tp.topic}[{tp.partition}]" for tp in consumer._paused_partitions
                ),
                "in_recovery": recovery.in_recovery,
                "app_rebalancing": self.app.rebalancing,
                "generation": self.app.consumer_generation_id,
            },
        )
        DECISIONING_STALLS.inc(len(stalled))
        self._stalled_at.update((tp, positions[tp]) for tp in stalled)
        self._on_stalled()
        for tp in stalled:
            self._seen[tp].since = self._clock()  # the next rejoin only after another wait
        consumer._thread._ensure_consumer()._coordinator.request_rejoin()
