"""The leaders' numbers, read from the record: aggregates only, small groups suppressed.

Every figure is over one tenant's live decisions (shadow ones are left out) and
customer turns in a window ``[start, end)``, per queue and per time bucket, and
for all of them together (``queue``/``bucket`` null). A conversation belongs to
the queue of its first escalation; one never escalated to :data:`NOT_ESCALATED`.
Groups are suppressed as :mod:`warmline.insights.privacy` promises. Nothing
read here names an agent: claims and verdicts are counted, never attributed, and
overload alerts are counted per queue, whether about a queue or an agent, and
team alerts (which have no queue) together under :data:`TEAMS`, never per team.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from warmline.insights.privacy import SIZE, published, suppress_small
from warmline.record.database import Connection

#: The queue of conversations that were never escalated.
NOT_ESCALATED = "(not escalated)"
#: The queue the insights count team overload alerts under (a team spans queues).
TEAMS = "(teams)"
#: A customer turn at or above this negativity counts as negative (the default
#: policy's ``negative_turn_threshold``).
NEGATIVE_TURN = 0.5
#: A CSAT score at or above this counts as satisfied (1-5 scale).
SATISFIED_CSAT = 4
BUCKETS = {"hour": 3_600, "day": 86_400, "week": 7 * 86_400}


@dataclass(frozen=True, slots=True)
class Window:
    """What to aggregate: one tenant, ``[start, end)`` in epoch seconds, buckets of
    ``bucket`` ("hour", "day" or "week"), and the queues it may show (None: all,
    conversations that were never escalated too)."""

    tenant: str
    start: float
    end: float
    bucket: str
    min_group: int = 5
    queues: frozenset[str] | None = None

    @property
    def bucket_s(self) -> int:
        """The bucket's length in seconds."""
        return BUCKETS[self.bucket]


class WindowError(ValueError):
    """A window that cannot be read: a malformed time, an empty span, too many buckets;
    ``field`` names the parameter at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


#: The most buckets one window may have (a year by hour is too many for a chart).
MAX_BUCKETS = 1_000
#: The window when none is given: the last seven days.
DEFAULT_SPAN_S = 7 * 86_400


def auto_bucket(start: float, end: float) -> str:
    """Hours up to two days, days up to ninety, weeks beyond."""
    span = end - start
    return "hour" if span <= 2 * 86_400 else "day" if span <= 90 * 86_400 else "week"


def parse_time(text: str, what: str) -> float:
    """An ISO 8601 date or time as epoch seconds; one without a zone is UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WindowError(f"{what}: not an ISO 8601 date or time: {text!r}", what) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def make_window(
    tenant: str,
    start: str | None,
    end: str | None,
    *,
    bucket: str = "auto",
    min_group: int = 5,
    queues: frozenset[str] | None = None,
    now: float,
) -> Window:
    """The window of ``[start, end)`` (default: the seven days before ``end``, which
    defaults to ``now``), checked."""
    to = parse_time(end, "to") if end else now
    since = parse_time(start, "from") if start else to - DEFAULT_SPAN_S
    if since >= to:
        raise WindowError(f"from ({iso(since)}) must be before to ({iso(to)})", "from")
    if bucket == "auto":
        bucket = auto_bucket(since, to)
    if bucket not in BUCKETS:
        raise WindowError(f"bucket: one of auto, {', '.join(BUCKETS)}; not {bucket!r}", "bucket")
    if (to - since) / BUCKETS[bucket] > MAX_BUCKETS:
        raise WindowError(f"more than {MAX_BUCKETS} {bucket}s: choose a larger bucket", "bucket")
    return Window(tenant, since, to, bucket, min_group, queues)


def iso(stamp: float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC time."""
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()


# The queue of each conversation of the tenant: the queue of its first live escalation.
_CONVERSATION_QUEUE = """
conversation_queue AS (
    SELECT conversation_id, queue, decided_at FROM (
        SELECT conversation_id, queue, decided_at, ROW_NUMBER() OVER (
            PARTITION BY conversation_id ORDER BY decided_at, decision_id) AS n
        FROM decisions
        WHERE tenant_id = :tenant AND shadow = 0 AND action = 'escalate' AND decided_at < :end
    ) AS ranked
    WHERE n = 1)
"""


def _share(condition: str) -> str:
    """The share of rows meeting ``condition`` (a boolean is no number in PostgreSQL)."""
    return f"AVG(CASE WHEN {condition} THEN 1.0 ELSE 0.0 END)"


_CLIMATE = """
SELECT t.conversation_id AS conversation, COALESCE(q.queue, :none) AS queue,
       FLOOR(t.occurred_at / :bucket_s) * :bucket_s AS bucket,
       t.negativity AS negativity, t.distress AS distress
FROM turns t LEFT JOIN conversation_queue q ON q.conversation_id = t.conversation_id
WHERE t.tenant_id = :tenant AND t.occurred_at >= :start AND t.occurred_at < :end
  AND t.role = 'customer' AND t.kind = 'message' AND t.negativity IS NOT NULL
"""
_CLIMATE_FIGURES = {
    "turns": "COUNT(*)",
    "negative_share": _share("negativity >= :negative"),
    "mean_negativity": "AVG(negativity)",
    "mean_distress": "AVG(distress)",
}

_ESCALATIONS = """
SELECT d.conversation_id AS conversation, d.queue AS queue, r.code AS reason,
       FLOOR(d.decided_at / :bucket_s) * :bucket_s AS bucket,
       d.decision_id AS decision
FROM decisions d JOIN decision_reasons r
  ON r.tenant_id = d.tenant_id AND r.decision_id = d.decision_id
WHERE d.tenant_id = :tenant AND d.shadow = 0 AND d.action = 'escalate'
  AND d.decided_at >= :start AND d.decided_at < :end
"""
_ESCALATION_FIGURES = {"escalations": "COUNT(DISTINCT decision)"}

# Verdicts on what agents were offered: escalations and their updates.
_VERDICTS = """
SELECT d.conversation_id AS conversation, d.queue AS queue, r.code AS reason,
       v.verdict AS verdict
FROM decisions d
JOIN decision_reasons r ON r.tenant_id = d.tenant_id AND r.decision_id = d.decision_id
JOIN verdicts v ON v.tenant_id = d.tenant_id AND v.decision_id = d.decision_id
WHERE d.tenant_id = :tenant AND d.shadow = 0 AND d.action IN ('escalate', 'update')
  AND d.decided_at >= :start AND d.decided_at < :end
"""
_VERDICT_FIGURES = {
    "verdicts": "COUNT(*)",
    "false_alarm_rate": _share("verdict = 'false_alarm'"),
    "wrong_queue_rate": _share("verdict = 'wrong_queue'"),
}

# CSAT given after the conversation's first escalation, or in one never escalated.
_CSAT = """
SELECT t.conversation_id AS conversation, COALESCE(q.queue, :none) AS queue,
       q.queue IS NOT NULL AS escalated, t.csat_score AS csat
FROM turns t LEFT JOIN conversation_queue q ON q.conversation_id = t.conversation_id
WHERE t.tenant_id = :tenant AND t.occurred_at >= :start AND t.occurred_at < :end
  AND t.kind = 'csat' AND t.csat_score IS NOT NULL
  AND (q.queue IS NULL OR t.occurred_at >= q.decided_at)
"""
_CSAT_FIGURES = {
    "responses": "COUNT(*)",
    "mean_csat": "AVG(CAST(csat AS DOUBLE PRECISION))",
    "satisfied_share": _share(f"csat >= {SATISFIED_CSAT}"),
}

# Per live escalation: seconds to its first claim (of it or of a later update of
# it), to the conversation's next de-escalation, and to its next resolution.
_TIMINGS = """
SELECT d.conversation_id AS conversation, d.queue AS queue,
       FLOOR(d.decided_at / :bucket_s) * :bucket_s AS bucket,
       (SELECT MIN(c.claimed_at) FROM claims c WHERE c.tenant_id = d.tenant_id
          AND (c.decision_id = d.decision_id OR c.escalation_id = d.decision_id))
         - d.decided_at AS claim_s,
       (SELECT MIN(x.decided_at) FROM decisions x WHERE x.tenant_id = d.tenant_id
          AND x.conversation_id = d.conversation_id AND x.shadow = 0
          AND x.action = 'deescalate' AND x.decided_at >= d.decided_at)
         - d.decided_at AS deescalate_s,
       (SELECT MIN(x.decided_at) FROM decisions x WHERE x.tenant_id = d.tenant_id
          AND x.conversation_id = d.conversation_id AND x.shadow = 0
          AND x.action = 'resolved' AND x.decided_at >= d.decided_at)
         - d.decided_at AS resolve_s
FROM decisions d
WHERE d.tenant_id = :tenant AND d.shadow = 0 AND d.action = 'escalate'
  AND d.decided_at >= :start AND d.decided_at < :end
"""
_TIMING_STEPS = ("claim", "deescalate", "resolve")

# Overload alerts raised to supervisors; a group's size is its number of alerts.
_OVERLOAD = f"""
SELECT alert_id AS conversation,
       CASE WHEN scope = 'team' THEN '{TEAMS}' ELSE queue END AS queue, scope,
       FLOOR(raised_at / :bucket_s) * :bucket_s AS bucket
FROM overload_alerts
WHERE tenant_id = :tenant AND raised_at >= :start AND raised_at < :end
"""
_OVERLOAD_FIGURES = {
    "queue_alerts": "SUM(CASE WHEN scope = 'queue' THEN 1 ELSE 0 END)",
    "agent_alerts": "SUM(CASE WHEN scope = 'agent' THEN 1 ELSE 0 END)",
    "team_alerts": "SUM(CASE WHEN scope = 'team' THEN 1 ELSE 0 END)",
}


def _subsets(dimensions: Sequence[str]) -> list[tuple[str, ...]]:
    """Every subset of ``dimensions``, the largest first: each group and its totals."""
    return [c for n in range(len(dimensions), -1, -1) for c in combinations(dimensions, n)]


class _Reader:
    """Runs the aggregates of one window on one connection."""

    def __init__(self, conn: Connection, window: Window) -> None:
        self.conn = conn
        self.window = window
        self.params: dict[str, Any] = {
            "tenant": window.tenant, "start": window.start, "end": window.end,
            "bucket_s": window.bucket_s, "none": NOT_ESCALATED, "negative": NEGATIVE_TURN,
        }  # fmt: skip

    def _base(self, select: str) -> str:
        """``select`` as a subquery, kept to the window's queues."""
        where = ""
        if self.window.queues is not None:
            names = sorted(self.window.queues)
            self.params |= {f"q{n}": q for n, q in enumerate(names)}
            where = f" WHERE queue IN ({', '.join(f':q{n}' for n in range(len(names)))})"
        return f"WITH {_CONVERSATION_QUEUE} SELECT * FROM ({select}) AS base{where}"

    def grouped(
        self,
        select: str,
        dimensions: Sequence[str],
        figures: dict[str, str],
        *,
        totals: Sequence[str] = ("bucket", "queue"),
    ) -> list[dict[str, Any]]:
        """``figures`` of every group of ``dimensions`` and their totals, suppressed
        below the window's minimum and complemented along ``totals``."""
        rows: list[dict[str, Any]] = []
        base = self._base(select)
        for kept in _subsets(dimensions):
            columns = [*kept, f"COUNT(DISTINCT conversation) AS {SIZE}"]
            columns += [f"{expr} AS {name}" for name, expr in figures.items()]
            group = f" GROUP BY {', '.join(kept)}" if kept else ""
            query = f"SELECT {', '.join(columns)} FROM ({base}) AS grouped{group}"
            cursor = self.conn.execute(query, self.params)
            names = [c[0] for c in cursor.description]
            for values in cursor:
                row = dict.fromkeys(dimensions) | dict(zip(names, values, strict=True))
                if row[SIZE]:  # an empty window's totals are no group
                    rows.append(row)
        return self._finish(rows, dimensions, figures, totals)

    def _finish(
        self,
        rows: list[dict[str, Any]],
        dimensions: Sequence[str],
        figures: Iterable[str],
        totals: Sequence[str],
    ) -> list[dict[str, Any]]:
        suppress_small(rows, self.window.min_group, [d for d in totals if d in dimensions])
        for row in rows:
            if "bucket" in dimensions:
                row["bucket"] = iso(row["bucket"])
            if "escalated" in dimensions and row["escalated"] is not None:
                row["escalated"] = bool(row["escalated"])
            for name in figures:
                if isinstance(row.get(name), float):
                    row[name] = round(row[name], 4)
        return sorted(published(rows, figures), key=_order)

    def timings(self) -> list[dict[str, Any]]:
        """Medians and 90th percentiles of the seconds to claim, de-escalate and resolve."""
        cursor = self.conn.execute(self._base(_TIMINGS), self.params)
        names = [c[0] for c in cursor.description]
        escalations = [dict(zip(names, values, strict=True)) for values in cursor]
        rows = []
        for (bucket, queue), members in _group(escalations, ("bucket", "queue")).items():
            row: dict[str, Any] = {
                "bucket": bucket, "queue": queue, "escalations": len(members),
                SIZE: len({m["conversation"] for m in members}),
            }  # fmt: skip
            for step in _TIMING_STEPS:
                seconds = sorted(m[f"{step}_s"] for m in members if m[f"{step}_s"] is not None)
                row[_DONE[step]] = len(seconds)
                row[f"{step}_s_median"] = _rounded(statistics.median(seconds) if seconds else None)
                row[f"{step}_s_p90"] = _rounded(_p90(seconds))
            rows.append(row)
        names_out = ["escalations"]
        for step in _TIMING_STEPS:
            names_out += [_DONE[step], f"{step}_s_median", f"{step}_s_p90"]
        return self._finish(rows, ("bucket", "queue"), names_out, ("bucket", "queue"))

    def overload(self) -> list[dict[str, Any]]:
        """Overload alerts per time bucket and queue (teams' under :data:`TEAMS`), by
        scope; a group of fewer than the minimum alerts is suppressed, so no one
        agent's alert stands out."""
        rows = self.grouped(_OVERLOAD, ("bucket", "queue"), _OVERLOAD_FIGURES)
        for row in rows:
            row["alerts"] = row.pop("conversations")
        return rows


_DONE = {"claim": "claimed", "deescalate": "deescalated", "resolve": "resolved"}


def _group(
    members: list[dict[str, Any]], dimensions: Sequence[str]
) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Members by each group of ``dimensions`` and by each of their totals (None)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for member in members:
        for kept in _subsets(dimensions):
            groups[tuple(member[d] if d in kept else None for d in dimensions)].append(member)
    return groups


def _p90(ordered: list[float]) -> float | None:
    """The 90th percentile by nearest rank."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    """Totals (null keys) first, then by key."""
    return tuple(
        (row[d] is not None, str(row[d]) if row[d] is not None else "")
        for d in ("escalated", "bucket", "queue", "reason")
        if d in row
    )


# Each tenant of the record, one index step apiece (no scan of every turn).
_TENANTS = """
WITH RECURSIVE t(tenant) AS (
    SELECT MIN(tenant_id) FROM turns
    UNION ALL SELECT (SELECT MIN(tenant_id) FROM turns WHERE tenant_id > t.tenant)
    FROM t WHERE t.tenant IS NOT NULL)
SELECT tenant FROM t WHERE tenant IS NOT NULL
"""


def negative_shares(
    conn: Connection, start: float, end: float, min_group: int
) -> dict[tuple[str, str | None], float]:
    """The share of negative customer turns in ``[start, end)`` per (tenant, queue), the
    queue None for all of a tenant's; groups the insights would suppress are left out."""
    shares: dict[tuple[str, str | None], float] = {}
    for (tenant,) in conn.execute(_TENANTS).fetchall():
        reader = _Reader(conn, Window(tenant, start, end, "hour", min_group))
        for row in reader.grouped(_CLIMATE, ("queue",), _CLIMATE_FIGURES, totals=("queue",)):
            if not row["suppressed"]:
                shares[(tenant, row["queue"])] = row["negative_share"]
    return shares


def insights(conn: Connection, window: Window) -> dict[str, Any]:
    """Every aggregate of the window, as ``warmline insights --format json`` prints it."""
    reader = _Reader(conn, window)
    climate = reader.grouped(_CLIMATE, ("bucket", "queue"), _CLIMATE_FIGURES)
    escalations = reader.grouped(_ESCALATIONS, ("bucket", "queue", "reason"), _ESCALATION_FIGURES)
    false_alarms = reader.grouped(_VERDICTS, ("queue", "reason"), _VERDICT_FIGURES)
    csat = reader.grouped(_CSAT, ("escalated", "queue"), _CSAT_FIGURES, totals=("queue",))
    timings = reader.timings()
    overload = reader.overload()
    sections = (climate, escalations, timings, false_alarms, csat, overload)
    return {
        "tenant": window.tenant,
        "from": iso(window.start),
        "to": iso(window.end),
        "bucket": window.bucket,
        "min_group": window.min_group,
        "queues": sorted(window.queues) if window.queues is not None else None,
        "negative_turn_threshold": NEGATIVE_TURN,
        "satisfied_csat": SATISFIED_CSAT,
        "climate": climate,
        "escalations": escalations,
        "timings": timings,
        "false_alarms": false_alarms,
        "csat": csat,
        "overload_alerts": overload,
        "suppressed_groups": sum(row["suppressed"] for rows in sections for row in rows),
    }
