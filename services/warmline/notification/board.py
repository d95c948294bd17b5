"""What a notification replica knows: recent decisions, open escalations, claims,
acknowledged cursors, agents' own pauses and agents' exposure.

Pure and synchronous: the feed applies Kafka records to it in log order, the
APIs read it. Every replica applies the same two logs (escalations, agent
actions), so every replica reaches the same claims and exposure; the first
claim of an escalation in the agent-actions log is the one that holds.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp

from warmline.notification.cursor import merge
from warmline.notification.tokens import ALL_QUEUES
from warmline.v1 import escalation_pb2, notification_pb2

Decision = escalation_pb2.EscalationDecision

_CLOSING = (escalation_pb2.DECISION_ACTION_DEESCALATE, escalation_pb2.DECISION_ACTION_RESOLVED)
_HIGH_PRIORITY = escalation_pb2.PRIORITY_HIGH


def _offset(record: Record) -> int:
    return record.offset


def _sequence(record: Record) -> int:
    return record.sequence


def stamp_seconds(decision: Decision) -> float:
    """When the decision was made, as epoch seconds."""
    return seconds(decision.timings.decided_at)


def seconds(stamp: Timestamp) -> float:
    """A protobuf timestamp as epoch seconds."""
    return stamp.seconds + stamp.nanos / 1e9


def high_intensity(decision: Decision) -> bool:
    """Urgent enough, or abusive enough, to count towards an agent's exposure."""
    return decision.abusive or decision.priority >= _HIGH_PRIORITY


@dataclass(frozen=True, slots=True)
class Record:
    """One decision of the escalations topic, in the form consoles receive."""

    partition: int
    offset: int
    decision: Decision
    escalation_id: str
    #: Position in this replica's feed order.
    sequence: int = 0


@dataclass(slots=True)
class Escalation:
    """One conversation's escalation, from its ESCALATE until it is resolved."""

    escalation_id: str
    tenant_id: str
    latest: Record
    offered_at: float
    unmasked_text: str = ""
    open: bool = True
    reoffered: bool = False
    raised: bool = False
    decision_ids: list[str] = field(default_factory=list)

    @property
    def queue(self) -> str:
        """The queue of its latest decision."""
        return self.latest.decision.queue


@dataclass(slots=True)
class Handled:
    """A high-intensity escalation an agent took, for the overload window."""

    at: float
    tenant_id: str
    agent_id: str
    queue: str
    #: When the escalation ended; None while it is open.
    ended: float | None = None

    def seconds_within(self, start: float, now: float) -> float:
        """Time spent on it between ``start`` and ``now``."""
        return max(
            0.0, min(now, self.ended if self.ended is not None else now) - max(start, self.at)
        )


@dataclass(slots=True)
class Exposure:
    """One agent's exposure in one queue over the overload window."""

    high_intensity_claims: int = 0
    reveals: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Pause:
    """An agent's own pause of offers ("I need a minute"), until ``until``."""

    until: float
    all_offers: bool
    #: The queues of the agent's token (ALL_QUEUES: all of the tenant's).
    queues: frozenset[str]

    def covers(self, queue: str) -> bool:
        """True when the pausing agent works ``queue``."""
        return queue in self.queues or ALL_QUEUES in self.queues


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """The claim that now holds an escalation (None from apply_claim: it lost)."""

    escalation_id: str
    tenant_id: str
    agent_id: str
    decision_id: str
    conversation_id: str
    queue: str


class Board:
    """The replica's view of the escalation stream and what agents did with it."""

    def __init__(self, *, max_records: int, exposure_window_s: float) -> None:
        # Retained records three ways: all in feed order (for eviction), per
        # tenant (what a console may see) and per partition (offsets ascending),
        # so resuming costs a binary search, not a scan of everything retained.
        self._records: deque[Record] = deque()
        self._by_tenant: dict[str, deque[Record]] = {}
        self._by_partition: dict[int, deque[Record]] = {}
        self._sequence = 0
        self._max_records = max_records
        self._escalations: OrderedDict[str, Escalation] = OrderedDict()
        self._by_decision: dict[str, Escalation] = {}
        self._open_by_conversation: dict[tuple[str, str], Escalation] = {}
        self._holders: dict[str, str] = {}
        self._acked: dict[tuple[str, str], dict[int, int]] = {}
        self._exposure: dict[tuple[str, str], deque[float]] = {}
        self._exposure_window_s = exposure_window_s
        self._pauses: dict[tuple[str, str], Pause] = {}
        #: (when, tenant, agent, queue) of each reveal, oldest first.
        self._reveals: deque[tuple[float, str, str, str]] = deque()
        #: High-intensity escalations taken, in claim order; the open ones by escalation.
        self._handled: deque[Handled] = deque()
        self._handling: dict[str, Handled] = {}
        #: partition -> next offset of the escalations topic this replica will apply.
        self.positions: dict[int, int] = {}

    # --- applying the logs -------------------------------------------------
    def apply_decision(self, partition: int, offset: int, decision: Decision) -> Record | None:
        """Take one escalations record; None for records consoles never see (shadow)."""
        self.positions[partition] = offset + 1
        if decision.shadow:
            return None
        unmasked = decision.unmasked_customer_text
        shown = Decision()
        shown.CopyFrom(decision)
        shown.ClearField("unmasked_customer_text")
        key = (decision.tenant_id, decision.conversation_id)
        current = self._open_by_conversation.get(key)
        if current is None or decision.action == escalation_pb2.DECISION_ACTION_ESCALATE:
            if current is not None:
                self._close(current)
            record = Record(partition, offset, shown, decision.decision_id, self._sequence)
            current = Escalation(
                decision.decision_id, decision.tenant_id, record, stamp_seconds(decision)
            )
            self._escalations[current.escalation_id] = current
            self._open_by_conversation[key] = current
        else:
            record = Record(partition, offset, shown, current.escalation_id, self._sequence)
            current.latest = record
        current.decision_ids.append(decision.decision_id)
        self._by_decision[decision.decision_id] = current
        if unmasked:
            current.unmasked_text = unmasked
        if decision.action in _CLOSING:
            self._close(current)
        self._sequence += 1
        self._records.append(record)
        self._by_tenant.setdefault(decision.tenant_id, deque()).append(record)
        self._by_partition.setdefault(partition, deque()).append(record)
        self._evict()
        return record

    def apply_claim(self, action: notification_pb2.AgentAction) -> ClaimResult | None:
        """Take one claim; the result when it holds the escalation, None when it came too late."""
        claimed = action.claimed
        if claimed.escalation_id in self._holders:
            return None
        self._holders[claimed.escalation_id] = action.agent_id
        if claimed.high_intensity:
            at = seconds(action.acted_at)
            self._exposure.setdefault((action.tenant_id, action.agent_id), deque()).append(at)
            handled = Handled(at, action.tenant_id, action.agent_id, claimed.queue)
            self._handled.append(handled)
            escalation = self._escalations.get(claimed.escalation_id)
            if escalation is not None and escalation.open:
                self._handling[claimed.escalation_id] = handled
            else:
                handled.ended = at
        return ClaimResult(
            claimed.escalation_id,
            action.tenant_id,
            action.agent_id,
            claimed.decision_id,
            claimed.conversation_id,
            claimed.queue,
        )

    def apply_pause(self, action: notification_pb2.AgentAction) -> Pause | None:
        """Take an agent's pause (or resume); the pause in force after it, if any."""
        paused = action.paused
        until = seconds(paused.until)
        key = (action.tenant_id, action.agent_id)
        if until <= seconds(action.acted_at):
            self._pauses.pop(key, None)
            return None
        pause = Pause(until, paused.all_offers, frozenset(paused.queues))
        self._pauses[key] = pause
        return pause

    def apply_reveal(self, action: notification_pb2.AgentAction) -> None:
        """Take an agent's reveal of masked abusive text (it counts towards exposure)."""
        self._reveals.append(
            (seconds(action.acted_at), action.tenant_id, action.agent_id, action.revealed.queue)
        )

    def apply_ack(self, tenant_id: str, agent_id: str, positions: Mapping[int, int]) -> None:
        """Remember how far an agent's console confirmed it got."""
        key = (tenant_id, agent_id)
        self._acked[key] = merge(self._acked.get(key, {}), positions)

    def _close(self, escalation: Escalation) -> None:
        escalation.open = False
        handled = self._handling.pop(escalation.escalation_id, None)
        if handled is not None:
            handled.ended = max(handled.at, stamp_seconds(escalation.latest.decision))
        key = (escalation.tenant_id, escalation.latest.decision.conversation_id)
        if self._open_by_conversation.get(key) is escalation:
            del self._open_by_conversation[key]

    def _evict(self) -> None:
        while len(self._records) > self._max_records:
            # The oldest record overall is the oldest of its tenant and partition.
            gone = self._records.popleft()
            self._by_tenant[gone.decision.tenant_id].popleft()
            self._by_partition[gone.partition].popleft()
        # Escalations beyond the bound go oldest first; one open that long is stale.
        while len(self._escalations) > self._max_records:
            _, oldest = self._escalations.popitem(last=False)
            self._close(oldest)
            self._holders.pop(oldest.escalation_id, None)
            for decision_id in oldest.decision_ids:
                self._by_decision.pop(decision_id, None)

    # --- reading ------------------------------------------------------------
    def escalation(self, tenant_id: str, decision_id: str) -> Escalation | None:
        """The escalation a decision belongs to, if it is the tenant's and still known."""
        found = self._by_decision.get(decision_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def holder(self, escalation_id: str) -> str | None:
        """The agent who holds an escalation, if any."""
        return self._holders.get(escalation_id)

    def acked(self, tenant_id: str, agent_id: str) -> dict[int, int] | None:
        """The last cursor an agent acknowledged, if any."""
        found = self._acked.get((tenant_id, agent_id))
        return dict(found) if found is not None else None

    def exposure(self, tenant_id: str, agent_id: str, now: float) -> int:
        """High-intensity escalations the agent took within the exposure window."""
        times = self._exposure.get((tenant_id, agent_id))
        if not times:
            return 0
        while times and times[0] < now - self._exposure_window_s:
            times.popleft()
        return len(times)

    def pause(self, tenant_id: str, agent_id: str, now: float) -> Pause | None:
        """The agent's pause, while it lasts."""
        key = (tenant_id, agent_id)
        pause = self._pauses.get(key)
        if pause is not None and pause.until <= now:
            del self._pauses[key]
            return None
        return pause

    def paused_agents(self, tenant_id: str, queue: str, now: float) -> int:
        """How many agents working ``queue`` paused offers now (a count, never who)."""
        return sum(
            1
            for (tenant, agent), pause in list(self._pauses.items())
            if tenant == tenant_id
            and pause.covers(queue)
            and self.pause(tenant, agent, now) is not None
        )

    def exposures(self, now: float, window_s: float) -> dict[tuple[str, str, str], Exposure]:
        """(tenant, queue, agent) -> high-intensity claims, reveals and time spent on
        high-intensity escalations within the last ``window_s``."""
        start = now - window_s
        while self._reveals and self._reveals[0][0] < start:
            self._reveals.popleft()
        while self._handled and (self._handled[0].ended or now) < start:
            self._handled.popleft()
        found: dict[tuple[str, str, str], Exposure] = {}
        # Both logs' partitions interleave, so entries are only roughly in time order.
        for h in self._handled:
            spent = h.seconds_within(start, now)
            if h.at >= start or spent > 0:
                exposure = found.setdefault((h.tenant_id, h.queue, h.agent_id), Exposure())
                exposure.high_intensity_claims += h.at >= start
                exposure.seconds += spent
        for at, tenant, agent, queue in self._reveals:
            if at >= start:
                found.setdefault((tenant, queue, agent), Exposure()).reveals += 1
        return found

    def since(
        self, tenant_id: str, queues: frozenset[str], positions: Mapping[int, int]
    ) -> list[Record]:
        """The tenant's records for ``queues`` at or after ``positions``, in stream order."""
        records = self._by_tenant.get(tenant_id)
        if not records:
            return []
        # The earliest record, in feed order, that any partition still has to give.
        first = self._sequence
        for partition, in_partition in self._by_partition.items():
            at = bisect_left(in_partition, positions.get(partition, 0), key=_offset)
            if at < len(in_partition):
                first = min(first, in_partition[at].sequence)
        start = bisect_left(records, first, key=_sequence)
        return [
            r
            for r in itertools.islice(records, start, None)
            if r.offset >= positions.get(r.partition, 0) and r.decision.queue in queues
        ]

    def open_for(
        self, tenant_id: str, queues: frozenset[str], agent_id: str, supervisor_queue: str
    ) -> list[Record]:
        """Open escalations an agent could take now: unheld (or held by them) in
        ``queues``, plus those raised to the supervisor queue when it is asked for."""
        found = []
        for escalation in self._open_by_conversation.values():
            if escalation.tenant_id != tenant_id:
                continue
            holder = self._holders.get(escalation.escalation_id)
            if holder not in (None, agent_id):
                continue
            raised = escalation.raised and supervisor_queue in queues
            if escalation.queue in queues or raised:
                found.append(escalation.latest)
        return sorted(found, key=lambda r: r.decision.timings.decided_at.ToNanoseconds())

    def due(
        self, now: float, reoffer_after_s: float, supervisor_after_s: float
    ) -> Iterable[tuple[Escalation, bool]]:
        """Unclaimed open escalations whose next timeout passed: (escalation, to_supervisor).

        Each timeout fires once per escalation.
        """
        for escalation in list(self._open_by_conversation.values()):
            if escalation.escalation_id in self._holders:
                continue
            age = now - escalation.offered_at
            if not escalation.raised and age >= supervisor_after_s:
                escalation.raised = escalation.reoffered = True
                yield escalation, True
            elif not escalation.reoffered and age >= reoffer_after_s:
                escalation.reoffered = True
                yield escalation, False

    def settle_timeouts(self, now: float, reoffer_after_s: float, supervisor_after_s: float) -> int:
        """Mark timeouts that passed before this replica caught up as fired, so a
        restart does not re-offer every old escalation at once; returns how many."""
        return sum(1 for _ in self.due(now, reoffer_after_s, supervisor_after_s))

    @property
    def open_count(self) -> int:
        """Open escalations known to this replica."""
        return len(self._open_by_conversation)
