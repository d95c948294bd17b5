"""Fan-out: each decision to the consoles that should see it, now or after a hold.

A console's subscription is a queue of responses its stream (gRPC or SSE)
drains. Putting is synchronous, so a subscription's backlog and its live
deliveries are ordered by construction: nothing arrives between computing the
backlog and registering for what comes next.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from warmline.common.metrics import (
    NOTIFICATION_CONSOLES,
    NOTIFICATION_DELIVERIES,
    NOTIFICATION_DISCONNECTED_SLOW,
    NOTIFICATION_EXPOSED_AGENTS,
    NOTIFICATION_PAUSED_AGENTS,
)
from warmline.notification.board import (
    Board,
    ClaimResult,
    Escalation,
    Pause,
    Record,
    high_intensity,
)
from warmline.notification.cursor import encode_cursor
from warmline.notification.overload import RaisedAlert
from warmline.notification.tokens import ALL_QUEUES, AgentScope
from warmline.v1 import escalation_pb2, notification_pb2

log = logging.getLogger(__name__)

Response = notification_pb2.SubscribeResponse

_CLOSING = (escalation_pb2.DECISION_ACTION_DEESCALATE, escalation_pb2.DECISION_ACTION_RESOLVED)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A response waiting in a console's queue; ``read_at`` is when its record was
    read from Kafka (monotonic), for the delivery-latency metric."""

    response: Response
    read_at: float | None = None


# Put in a queue to end the stream: the console fell too far behind.
CLOSE = Outgoing(Response())


@dataclass(eq=False)
class Subscription:
    """One connected console."""

    scope: AgentScope
    queues: frozenset[str]
    api: str
    #: The queues whose capacity a supervisor console is shown; empty for any other.
    overseen: frozenset[str] = frozenset()
    pending: asyncio.Queue[Outgoing] = field(default_factory=asyncio.Queue)
    closed: bool = False

    @property
    def agent_id(self) -> str:
        """The agent at this console."""
        return self.scope.agent_id


@dataclass(frozen=True, slots=True)
class HubSettings:
    """The notification settings the hub needs."""

    supervisor_queue: str
    exposure_limit: int
    protected_hold_s: float
    max_pending: int


def pause_state(pause: Pause | None) -> Response:
    """The response telling an agent's consoles about their own pause."""
    response = Response(pause=notification_pb2.PauseState(paused=pause is not None))
    if pause is not None:
        response.pause.until.FromNanoseconds(int(pause.until * 1e9))
        response.pause.all_offers = pause.all_offers
    return response


def capacity(queue: str, paused_agents: int) -> Response:
    """The response telling supervisors how many agents of a queue paused."""
    return Response(
        capacity=notification_pb2.QueueCapacity(queue=queue, paused_agents=paused_agents)
    )


def delivery(
    record: Record, cursor: str, *, reoffer: bool = False, holder: str | None = None
) -> Response:
    """The response carrying one decision."""
    response = Response(
        delivery=notification_pb2.Delivery(
            decision=record.decision, cursor=cursor, reoffer=reoffer, holder_agent_id=holder or ""
        )
    )
    response.delivery.delivered_at.FromDatetime(datetime.now(UTC))
    return response


class Hub:
    """Registers consoles and hands each decision to those that should see it."""

    def __init__(
        self, board: Board, settings: HubSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self.board = board
        self.settings = settings
        self._clock = clock
        self._by_tenant: dict[str, set[Subscription]] = {}
        self._held: dict[str, asyncio.TimerHandle] = {}
        self._pause_ends: dict[tuple[str, str], asyncio.TimerHandle] = {}
        #: tenant -> the overload alerts that still hold, for supervisors connecting.
        self.active_alerts: Callable[[str], list[RaisedAlert]] = lambda _: []

    # --- consoles -------------------------------------------------------------
    def subscribe(
        self,
        scope: AgentScope,
        queues: frozenset[str],
        start: dict[int, int] | None,
        api: str,
        *,
        console_kept_nothing: bool = False,
    ) -> Subscription:
        """Register a console and queue its backlog.

        ``start`` is a resume position: everything of the console's queues after
        it is queued first. Without one the console gets the escalations open
        now that it could take. ``console_kept_nothing`` (a reloaded page resumed
        from its agent's last ack) also re-sends the open escalations before
        ``start``, which the console showed once but no longer has.
        """
        supervisor = self.settings.supervisor_queue
        sub = Subscription(scope, queues, api, self._overseen(scope, queues))
        now = self._clock()
        pause = self.board.pause(scope.tenant_id, scope.agent_id, now)
        if pause is not None:
            # The pause outlives the console: a reconnecting one is told first.
            self._put(sub, Outgoing(pause_state(pause)), backlog=True)
            self._end_pause_later(scope.tenant_id, scope.agent_id, pause)
        if supervisor in queues:
            for queue in sorted(sub.overseen):
                paused = self.board.paused_agents(scope.tenant_id, queue, now)
                self._put(sub, Outgoing(capacity(queue, paused)), backlog=True)
            for alert in self.active_alerts(scope.tenant_id):
                if alert.reaches(scope):
                    shown = alert.for_viewer(scope.agent_id)
                    self._put(sub, Outgoing(Response(overload=shown)), backlog=True)
        if start is None:
            backlog = self.board.open_for(scope.tenant_id, queues, scope.agent_id, supervisor)
            backlog = [r for r in backlog if not self._held_back(sub, r, now)]
            # A snapshot, not a stretch of the log: only its last delivery carries
            # a cursor, so a console cut off half-way gets the whole snapshot again.
            for n, record in enumerate(backlog, start=1):
                cursor = encode_cursor(self.board.positions) if n == len(backlog) else ""
                self._put(sub, self._delivery(record, cursor), backlog=True)
        else:
            if console_kept_nothing:
                still_open = self.board.open_for(
                    scope.tenant_id, queues, scope.agent_id, supervisor
                )
                for record in still_open:
                    if record.offset < start.get(record.partition, 0) and not self._held_back(
                        sub, record, now
                    ):
                        self._put(sub, self._delivery(record, ""), backlog=True)
            position = dict(start)
            for record in self.board.since(scope.tenant_id, queues, start):
                position[record.partition] = record.offset + 1
                if not self._held_back(sub, record, now):
                    self._put(sub, self._delivery(record, encode_cursor(position)), backlog=True)
        self._by_tenant.setdefault(scope.tenant_id, set()).add(sub)
        NOTIFICATION_CONSOLES.labels(api).inc()
        return sub

    def _overseen(self, scope: AgentScope, queues: frozenset[str]) -> frozenset[str]:
        """The queues whose capacity a supervisor queue's console is shown: those it
        subscribes to beside the supervisor queue; subscribed to the supervisor queue
        alone, those its token names (one for every queue names none). Overload
        alerts reach it by its token too (:meth:`RaisedAlert.reaches`)."""
        supervisor = self.settings.supervisor_queue
        if supervisor not in queues:
            return frozenset()
        return (queues - {supervisor}) or (scope.queues - {supervisor, ALL_QUEUES})

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a console whose stream ended."""
        subs = self._by_tenant.get(sub.scope.tenant_id)
        if subs is not None and sub in subs:
            subs.discard(sub)
            NOTIFICATION_CONSOLES.labels(sub.api).dec()

    def consoles(self) -> int:
        """Connected consoles."""
        return sum(len(s) for s in self._by_tenant.values())

    # --- the stream -----------------------------------------------------------
    def publish(self, record: Record, read_at: float) -> None:
        """Hand a decision just read to every console of its tenant and queue.

        A new high-intensity escalation goes first to agents below the exposure
        limit; the others get it after the hold, if nobody took it meanwhile.
        Agents who paused it get it only if it is still open when they resume;
        meanwhile the re-offer and supervisor timeouts keep it from being lost.
        """
        decision = record.decision
        now = self._clock()
        targets = [
            s
            for s in self._by_tenant.get(decision.tenant_id, ())
            if self._wants(s, record) and not self._held_back(s, record, now)
        ]
        if not targets:
            return
        cursor = encode_cursor(self.board.positions)
        holder = self.board.holder(record.escalation_id)
        protected = (
            decision.action == escalation_pb2.DECISION_ACTION_ESCALATE
            and high_intensity(decision)
            and self.settings.protected_hold_s > 0
        )
        exposed = [s for s in targets if protected and self._exposed(s, now)]
        if len(exposed) == len(targets):
            exposed = []  # nobody less exposed is here: nobody waits
        response = delivery(record, cursor, holder=holder)
        for sub in targets:
            if sub not in exposed:
                self._put(sub, Outgoing(response, read_at))
        NOTIFICATION_DELIVERIES.labels("new").inc(len(targets) - len(exposed))
        if exposed:
            self._hold(record, exposed)
        self._count_exposed(decision.queue, targets, now)

    def claimed(self, claim: ClaimResult) -> None:
        """Tell the tenant's consoles that an escalation has a holder."""
        self._release_cancelled(claim.escalation_id)
        notice = Response(
            claimed=notification_pb2.ClaimNotice(
                decision_id=claim.decision_id,
                conversation_id=claim.conversation_id,
                holder_agent_id=claim.agent_id,
            )
        )
        supervisor = self.settings.supervisor_queue
        for sub in list(self._by_tenant.get(claim.tenant_id, ())):
            if claim.queue in sub.queues or supervisor in sub.queues:
                self._put(sub, Outgoing(notice))

    def reoffer(self, escalation: Escalation, to_supervisor: bool) -> int:
        """Offer an unclaimed escalation again, to its queue or to the supervisor queue."""
        queue = self.settings.supervisor_queue if to_supervisor else escalation.queue
        response = delivery(escalation.latest, encode_cursor(self.board.positions), reoffer=True)
        sent = 0
        now = self._clock()
        for sub in list(self._by_tenant.get(escalation.tenant_id, ())):
            if queue in sub.queues and not self._held_back(sub, escalation.latest, now):
                self._put(sub, Outgoing(response))
                sent += 1
        NOTIFICATION_DELIVERIES.labels("supervisor" if to_supervisor else "reoffer").inc(sent)
        return sent

    # --- agents' own pauses ----------------------------------------------------
    def paused(
        self, tenant_id: str, agent_id: str, pause: Pause | None, queues: Iterable[str]
    ) -> None:
        """An agent paused (``pause``) or resumed (None): tell their consoles and
        the supervisors, and on a resume offer what was held back from them."""
        handle = self._pause_ends.pop((tenant_id, agent_id), None)
        if handle is not None:
            handle.cancel()
        if pause is None:
            self._pause_over(tenant_id, agent_id, frozenset(queues), self._clock())
            return
        for sub in self._agent_subs(tenant_id, agent_id):
            self._put(sub, Outgoing(pause_state(pause)))
        self._end_pause_later(tenant_id, agent_id, pause)
        self._capacity_changed(tenant_id, pause.queues, self._clock())

    def _end_pause_later(self, tenant_id: str, agent_id: str, pause: Pause) -> None:
        key = (tenant_id, agent_id)
        if key in self._pause_ends:
            return

        def end() -> None:
            self._pause_ends.pop(key, None)
            # The timer may fire a hair before the wall clock reaches the end.
            self._pause_over(tenant_id, agent_id, pause.queues, max(self._clock(), pause.until))

        delay = max(0.0, pause.until - self._clock())
        self._pause_ends[key] = asyncio.get_running_loop().call_later(delay, end)

    def _pause_over(
        self, tenant_id: str, agent_id: str, queues: frozenset[str], now: float
    ) -> None:
        """Tell the agent's consoles and offer them what is open and nobody took."""
        if self.board.pause(tenant_id, agent_id, now) is not None:
            return  # a newer pause took over
        supervisor = self.settings.supervisor_queue
        cursor = encode_cursor(self.board.positions)
        for sub in self._agent_subs(tenant_id, agent_id):
            self._put(sub, Outgoing(pause_state(None)))
            for record in self.board.open_for(tenant_id, sub.queues, agent_id, supervisor):
                if self.board.holder(record.escalation_id) is None:
                    self._put(sub, Outgoing(delivery(record, cursor, reoffer=True)))
        self._capacity_changed(tenant_id, queues, now)

    def _capacity_changed(self, tenant_id: str, queues: frozenset[str], now: float) -> None:
        """Supervisors' consoles and the metric get the new count of paused agents."""
        subs = self._by_tenant.get(tenant_id, ())
        shown = {q for s in subs for q in s.overseen}
        counts = {}
        for queue in queues | shown:
            if queue in queues or ALL_QUEUES in queues:
                counts[queue] = self.board.paused_agents(tenant_id, queue, now)
                NOTIFICATION_PAUSED_AGENTS.labels(queue).set(counts[queue])
        for sub in list(subs):
            for queue in sorted(sub.overseen & counts.keys()):
                self._put(sub, Outgoing(capacity(queue, counts[queue])))

    # --- overload alerts --------------------------------------------------------
    def overload(self, alert: RaisedAlert) -> int:
        """Raise an alert to the supervisor queue's consoles that cover its queue (a
        team's: its own supervisor's), each named or not as the tenant's setting says
        for that console's agent."""
        supervisor = self.settings.supervisor_queue
        sent = 0
        for sub in list(self._by_tenant.get(alert.tenant_id, ())):
            if supervisor in sub.queues and alert.reaches(sub.scope):
                shown = alert.for_viewer(sub.agent_id)
                self._put(sub, Outgoing(Response(overload=shown)))
                sent += 1
        return sent

    def _agent_subs(self, tenant_id: str, agent_id: str) -> list[Subscription]:
        return [s for s in self._by_tenant.get(tenant_id, ()) if s.agent_id == agent_id]

    def _held_back(self, sub: Subscription, record: Record, now: float) -> bool:
        """True when the console's agent paused offers like this one."""
        pause = self.board.pause(sub.scope.tenant_id, sub.agent_id, now)
        if pause is None or record.decision.action in _CLOSING:
            return False
        if self.board.holder(record.escalation_id) == sub.agent_id:
            return False  # their own escalation's updates always reach them
        return pause.all_offers or high_intensity(record.decision)

    # --- helpers --------------------------------------------------------------
    def _wants(self, sub: Subscription, record: Record) -> bool:
        return record.decision.queue in sub.queues

    def _exposed(self, sub: Subscription, now: float) -> bool:
        exposure = self.board.exposure(sub.scope.tenant_id, sub.agent_id, now)
        return exposure >= self.settings.exposure_limit

    def _count_exposed(self, queue: str, subs: Iterable[Subscription], now: float) -> None:
        agents = {s.agent_id for s in subs if self._exposed(s, now)}
        NOTIFICATION_EXPOSED_AGENTS.labels(queue).set(len(agents))

    def _delivery(self, record: Record, cursor: str) -> Outgoing:
        holder = self.board.holder(record.escalation_id)
        return Outgoing(delivery(record, cursor, holder=holder))

    def _hold(self, record: Record, exposed: list[Subscription]) -> None:
        def release() -> None:
            self._held.pop(record.escalation_id, None)
            escalation = self.board.escalation(record.decision.tenant_id, record.escalation_id)
            if escalation is None or not escalation.open:
                return
            if self.board.holder(record.escalation_id) is not None:
                return
            response = delivery(record, encode_cursor(self.board.positions), reoffer=True)
            now = self._clock()
            for sub in exposed:
                if not sub.closed and not self._held_back(sub, record, now):
                    self._put(sub, Outgoing(response))
            NOTIFICATION_DELIVERIES.labels("after_hold").inc(len(exposed))

        loop = asyncio.get_running_loop()
        self._held[record.escalation_id] = loop.call_later(self.settings.protected_hold_s, release)

    def _release_cancelled(self, escalation_id: str) -> None:
        handle = self._held.pop(escalation_id, None)
        if handle is not None:
            handle.cancel()

    def _put(self, sub: Subscription, item: Outgoing, *, backlog: bool = False) -> None:
        if sub.closed:
            return
        # A backlog may be long; the limit is for live deliveries piling up behind it.
        if not backlog and sub.pending.qsize() >= self.settings.max_pending:
            # Too far behind: end its stream; it resumes from its last cursor.
            sub.closed = True
            self.unsubscribe(sub)
            sub.pending.put_nowait(CLOSE)
            NOTIFICATION_DISCONNECTED_SLOW.inc()
            log.warning(
                "console too slow, disconnected",
                extra={"tenant": sub.scope.tenant_id, "pending": sub.pending.qsize()},
            )
            return
        sub.pending.put_nowait(item)

    def close_all(self) -> None:
        """End every stream (service shutdown)."""
        for subs in list(self._by_tenant.values()):
            for sub in list(subs):
                sub.closed = True
                self.unsubscribe(sub)
                sub.pending.put_nowait(CLOSE)
        for handle in [*self._held.values(), *self._pause_ends.values()]:
            handle.cancel()
        self._held.clear()
        self._pause_ends.clear()
