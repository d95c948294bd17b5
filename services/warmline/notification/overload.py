"""Overload alerts for supervisors: exposure over a sliding window against policy thresholds.

The exposure is the board's (every replica applies the same agent-actions log):
high-intensity escalations taken, masked abusive texts revealed, and time spent
on high-intensity escalations, per agent and queue. An agent passing a threshold,
or a queue whose agents together do, raises one alert to the supervisor queue's
consoles, suggesting rotation or a break; it is raised again only after it
cleared. A team (the agents whose tokens file entry names the same
``supervisor``, over every queue they work) whose agents together pass a team
threshold raises one alert to that supervisor's own consoles and no one else's;
an agent without a supervisor belongs to no team.

Promised: each agent is held against the thresholds alone, never against other
agents; a queue's or team's alert counts agents, it never lists them; who an agent's
alert names the agent to is the tenant's choice (:func:`names_agent_to`): by
default only their own supervisor's consoles (the tokens file's
``supervisor``), and an agent without one is named to no one; every other
supervisor console gets the same alert unnamed. Not promised: the time spent is
from the claim to the escalation's end, which is when the conversation ended,
not when the agent stopped working on it.

Every alert raised is also written, unnamed, to the overload-alerts topic, for
the record to keep (:mod:`warmline.record.rows`). Its id is the same on every replica (they
apply the same log, and the id is of the finding and the window it was raised
in), so the record keeps one row however many replicas raised it. Not promised:
replicas whose checks fall either side of a window's end raise two ids; and an
alert raised again within the window it first was keeps the first one's id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from warmline.common.keys import derived_id
from warmline.common.metrics import NOTIFICATION_OVERLOAD_ALERTS, NOTIFICATION_QUEUE_EXPOSURE
from warmline.common.settings import DEFAULT_OVERLOAD_NAMES, NotificationSettings, OverloadNames
from warmline.notification.board import Exposure
from warmline.notification.tokens import AgentScope
from warmline.v1 import notification_pb2

Alert = notification_pb2.OverloadAlert
QUEUE = notification_pb2.OVERLOAD_SCOPE_QUEUE
AGENT = notification_pb2.OVERLOAD_SCOPE_AGENT
TEAM = notification_pb2.OVERLOAD_SCOPE_TEAM

#: ``supervisor_of(tenant, agent)``: the agent's own supervisor, None when there is none.
SupervisorOf = Callable[[str, str], str | None]


def no_supervisor(_tenant: str, _agent: str) -> str | None:
    """A tokens file that names no supervisor: nobody belongs to a team."""
    return None


@dataclass(frozen=True, slots=True)
class OverloadPolicy:
    """The thresholds; an agent's measures are per queue, within ``window_s``."""

    window_s: float
    agent_claims: int
    agent_reveals: int
    agent_minutes: float
    queue_claims: int
    queue_agents_over: int
    team_claims: int
    team_agents_over: int

    @classmethod
    def from_settings(cls, n: NotificationSettings) -> OverloadPolicy:
        """The policy of the notification settings."""
        return cls(
            n.overload_window_s,
            n.overload_agent_claims,
            n.overload_agent_reveals,
            n.overload_agent_minutes,
            n.overload_queue_claims,
            n.overload_queue_agents_over,
            n.overload_team_claims,
            n.overload_team_agents_over,
        )

    def agent_measures(self, e: Exposure) -> list[tuple[str, float, float]]:
        """(measure, value, threshold) of each agent threshold ``e`` reached."""
        measures = [
            ("high_intensity_claims", float(e.high_intensity_claims), float(self.agent_claims)),
            ("reveals", float(e.reveals), float(self.agent_reveals)),
            ("minutes", round(e.seconds / 60, 1), self.agent_minutes),
        ]
        return [m for m in measures if m[1] >= m[2]]


@dataclass(frozen=True, slots=True)
class Finding:
    """One threshold passed: by a queue as a whole, by one agent in it, or by a team."""

    tenant_id: str
    queue: str  # empty for a team
    agent_id: str  # empty for a queue or a team
    measure: str
    value: float
    threshold: float
    team: str = ""  # a team's supervisor (its agent_id); empty for a queue or an agent

    @property
    def scope(self) -> str:
        """What the finding is about: "agent", "queue" or "team"."""
        return "team" if self.team else "agent" if self.agent_id else "queue"


def findings(
    exposures: Mapping[tuple[str, str, str], Exposure],
    policy: OverloadPolicy,
    supervisor_of: SupervisorOf = no_supervisor,
) -> list[Finding]:
    """Every threshold passed now; each agent is held against the thresholds alone."""
    found: list[Finding] = []
    queues: dict[tuple[str, str], tuple[int, int]] = {}
    past: set[tuple[str, str]] = set()  # (tenant, agent) over an agent threshold somewhere
    for (tenant, queue, agent), exposure in sorted(exposures.items()):
        passed = policy.agent_measures(exposure)
        found += [Finding(tenant, queue, agent, m, v, t) for m, v, t in passed]
        if passed:
            past.add((tenant, agent))
        claims, over = queues.get((tenant, queue), (0, 0))
        queues[(tenant, queue)] = (claims + exposure.high_intensity_claims, over + bool(passed))
    for (tenant, queue), (claims, over) in queues.items():
        if claims >= policy.queue_claims:
            found.append(
                Finding(tenant, queue, "", "high_intensity_claims", claims, policy.queue_claims)
            )
        if over >= policy.queue_agents_over:
            found.append(Finding(tenant, queue, "", "agents_over", over, policy.queue_agents_over))
    return found + _team_findings(exposures, policy, supervisor_of, past)


def _team_findings(
    exposures: Mapping[tuple[str, str, str], Exposure],
    policy: OverloadPolicy,
    supervisor_of: SupervisorOf,
    past: set[tuple[str, str]],
) -> list[Finding]:
    """Each team's high-intensity claims over every queue its agents work, and how many
    of its agents passed an agent threshold in some queue (``past``; each counted once)."""
    claims: dict[tuple[str, str], int] = {}
    agents_over: dict[tuple[str, str], set[str]] = {}
    for (tenant, _, agent), exposure in sorted(exposures.items()):
        supervisor = supervisor_of(tenant, agent)
        if supervisor is None:
            continue  # an agent without a supervisor belongs to no team
        team = (tenant, supervisor)
        claims[team] = claims.get(team, 0) + exposure.high_intensity_claims
        agents_over.setdefault(team, set()).update([agent] if (tenant, agent) in past else [])
    found: list[Finding] = []
    for (tenant, supervisor), total in claims.items():
        count = len(agents_over[(tenant, supervisor)])
        passed = [
            ("high_intensity_claims", total, policy.team_claims),
            ("agents_over", count, policy.team_agents_over),
        ]
        found += [Finding(tenant, "", "", m, v, t, supervisor) for m, v, t in passed if v >= t]
    return found


def names_agent_to(names: OverloadNames, own_supervisor: str | None, viewer: str) -> bool:
    """Whether an agent's alert names the agent on the supervisor console of ``viewer``
    (an agent_id), under the tenant's setting ``names``; ``own_supervisor`` is the
    agent's own supervisor, None when the tokens file names none."""
    if names == "supervisors":
        return True
    return names == "own_supervisor" and own_supervisor is not None and viewer == own_supervisor


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """One alert as raised: ``unnamed`` for the record and any supervisor console,
    ``named`` for the consoles :func:`names_agent_to` allows (the same for a queue or
    a team); ``own_supervisor`` is the agent's own supervisor, or the team's."""

    unnamed: Alert
    named: Alert
    names: OverloadNames
    own_supervisor: str | None

    @property
    def tenant_id(self) -> str:
        """The alert's tenant."""
        return self.unnamed.tenant_id

    @property
    def queue(self) -> str:
        """The queue the alert is about."""
        return self.unnamed.queue

    def reaches(self, console: AgentScope) -> bool:
        """Whether a supervisor console of ``console`` gets the alert: a team's goes to
        the team's own supervisor alone, whatever queues they cover; any other to
        those covering its queue."""
        if self.unnamed.scope == TEAM:
            return console.agent_id == self.own_supervisor
        return console.allows(self.queue)

    def for_viewer(self, viewer: str) -> Alert:
        """The alert as the supervisor console of agent ``viewer`` gets it."""
        if names_agent_to(self.names, self.own_supervisor, viewer):
            return self.named
        return self.unnamed


def suggestion(finding: Finding, window_s: float, named: bool) -> str:
    """What the supervisor might do, in words."""
    window = f"{window_s / 3600:g} h" if window_s >= 3600 else f"{window_s / 60:g} min"
    what = {
        "high_intensity_claims": f"{finding.value:g} high-intensity contacts taken",
        "reveals": f"{finding.value:g} abusive messages revealed",
        "minutes": f"{finding.value:g} minutes on high-intensity contacts",
        "agents_over": f"{finding.value:g} agents past an exposure threshold",
    }[finding.measure]
    if finding.team:
        # Only the team's own supervisor sees it, so it needs no name.
        return (
            f"Your team: {what} in the last {window}. "
            "Consider rotating some of the team to calmer queues, or breaks for the team."
        )
    if not finding.agent_id:
        return (
            f"Queue {finding.queue}: {what} in the last {window}. "
            "Consider rotating agents in from calmer queues, or breaks for the team."
        )
    who = finding.agent_id if named else "An agent"
    return (
        f"{who} on {finding.queue}: {what} in the last {window}. "
        "Consider checking in, offering a break or rotation to calmer contacts."
    )


class OverloadWatch:
    """Raises each finding once while it lasts; it may be raised again after it cleared."""

    def __init__(
        self,
        policy: OverloadPolicy,
        names: Mapping[str, OverloadNames],
        supervisor_of: SupervisorOf = no_supervisor,
    ) -> None:
        """``names``: each tenant's setting (others have the default);
        ``supervisor_of(tenant, agent)``: the agent's own supervisor, if any."""
        self.policy = policy
        self._names = names
        self._supervisor_of = supervisor_of
        self._active: dict[Finding, RaisedAlert] = {}
        self._queues_seen: set[str] = set()

    def check(
        self, exposures: Mapping[tuple[str, str, str], Exposure], now: float
    ) -> list[RaisedAlert]:
        """The alerts raised by this check (findings that were not active)."""
        self._count(exposures)
        found = findings(exposures, self.policy, self._supervisor_of)
        current = {self._key(f): f for f in found}
        self._active = {k: a for k, a in self._active.items() if k in current}
        raised = []
        for key, finding in current.items():
            if key not in self._active:
                self._active[key] = self._alert(finding, now)
                raised.append(self._active[key])
                NOTIFICATION_OVERLOAD_ALERTS.labels(finding.scope).inc()
        return raised

    def active(self, tenant_id: str) -> list[RaisedAlert]:
        """The tenant's alerts that still hold (for a supervisor console connecting now)."""
        return [a for a in self._active.values() if a.tenant_id == tenant_id]

    @staticmethod
    def _key(finding: Finding) -> Finding:
        # One alert per threshold passed, whatever its value does while it stays passed.
        f = finding
        return Finding(f.tenant_id, f.queue, f.agent_id, f.measure, 0, 0, f.team)

    def _alert(self, finding: Finding, now: float) -> RaisedAlert:
        names = self._names.get(finding.tenant_id, DEFAULT_OVERLOAD_NAMES)
        own_supervisor = (
            self._supervisor_of(finding.tenant_id, finding.agent_id)
            if finding.agent_id
            else finding.team or None
        )
        unnamed = self._as_alert(finding, now, named=False)
        # A queue's or a team's alert names no one: the same alert for every console.
        named = self._as_alert(finding, now, named=True) if finding.agent_id else unnamed
        return RaisedAlert(unnamed, named, names, own_supervisor)

    def _as_alert(self, finding: Finding, now: float, *, named: bool) -> Alert:
        parts = [finding.tenant_id, finding.queue, finding.agent_id, finding.measure]
        parts.append(str(int(now // self.policy.window_s)))
        if finding.team:
            parts += ["team", finding.team]  # more parts: never a queue's or agent's id
        alert = Alert(
            alert_id=derived_id(*parts),
            tenant_id=finding.tenant_id,
            queue=finding.queue,
            scope={"agent": AGENT, "queue": QUEUE, "team": TEAM}[finding.scope],
            agent_id=finding.agent_id if named else "",
            measure=finding.measure,
            value=finding.value,
            threshold=finding.threshold,
            window_s=int(self.policy.window_s),
            suggestion=suggestion(finding, self.policy.window_s, named),
        )
        alert.raised_at.FromDatetime(datetime.fromtimestamp(now, UTC))
        return alert

    def _count(self, exposures: Mapping[tuple[str, str, str], Exposure]) -> None:
        """The per-queue sums, for the aggregate metric (zero once a queue's window is empty)."""
        sums: dict[str, Exposure] = {queue: Exposure() for queue in self._queues_seen}
        for (_, queue, _), e in exposures.items():
            total = sums.setdefault(queue, Exposure())
            total.high_intensity_claims += e.high_intensity_claims
            total.reveals += e.reveals
            total.seconds += e.seconds
        self._queues_seen |= sums.keys()
        for queue, total in sums.items():
            NOTIFICATION_QUEUE_EXPOSURE.labels(queue, "high_intensity_claims").set(
                total.high_intensity_claims
            )
            NOTIFICATION_QUEUE_EXPOSURE.labels(queue, "reveals").set(total.reveals)
            NOTIFICATION_QUEUE_EXPOSURE.labels(queue, "minutes").set(total.seconds / 60)
