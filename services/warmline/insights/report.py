"""The leaders' report: one self-contained HTML file with matplotlib charts.

The charts are SVG drawn by matplotlib and written into the page, so the file
opens anywhere with no network and no script. Every chart and table shows only
what :func:`warmline.insights.aggregates.insights` published: a suppressed
group is left out of the charts and written as "suppressed" in the tables.
"""

from __future__ import annotations

import contextlib
import html
import io
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from warmline.insights.aggregates import BUCKETS, Window, insights
from warmline.record.database import RecordDatabase

_STYLE = """
body { font-family: system-ui, sans-serif; color: #1d2330; margin: 0; background: #f4f5f8; }
header { background: #263046; color: #fff; padding: .8rem 1.2rem; }
header h1 { margin: 0; font-size: 1.3rem; }
main { padding: 1rem 1.2rem; max-width: 70rem; }
section { background: #fff; border-radius: 8px; padding: .8rem 1rem; margin: 0 0 1rem;
  box-shadow: 0 1px 3px #0002; overflow-x: auto; }
h2 { font-size: 1.05rem; margin: .2rem 0 .6rem; }
.note { color: #556; font-size: .9rem; }
figure.chart { margin: .4rem 0; } figure.chart svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: .85rem; margin: .4rem 0; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid #e3e5ea; text-align: right; }
th:first-child, td:first-child, th.key, td.key { text-align: left; }
td.suppressed { color: #999; font-style: italic; text-align: left; }
"""
_SUPPRESSED = "suppressed"
_ALL = "all"


def _svg(figure: Figure) -> str:
    """The figure as inline SVG (text kept as text; stable ids)."""
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "warmline"}):
        figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]


def _figure(height: float = 3.0) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(8.5, height), layout="constrained")
    axes = figure.add_subplot()
    axes.grid(axis="y", color="#e3e5ea")
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return figure, axes


def _chart(title: str, draw: Callable[[Axes], bool], height: float = 3.0) -> str:
    """A figure drawn by ``draw``, or a note when it had nothing visible to draw."""
    figure, axes = _figure(height)
    if not draw(axes):
        return f'<p class="note">{html.escape(title)}: no group large enough to show.</p>'
    axes.set_title(title, loc="left", fontsize=11)
    return f'<figure class="chart" aria-label="{html.escape(title)}">{_svg(figure)}</figure>'


def _visible(rows: Iterable[dict[str, Any]], **keys: Any) -> list[dict[str, Any]]:
    """Rows matching ``keys`` (None: the total) that are not suppressed."""

    def matches(row: dict[str, Any], key: str, value: Any) -> bool:
        return row.get(key) is not None if value == "*" else row.get(key) == value

    return [
        r for r in rows if not r["suppressed"] and all(matches(r, k, v) for k, v in keys.items())
    ]


def _when(bucket: str) -> datetime:
    return datetime.fromisoformat(bucket)


def _dates(times: list[datetime]) -> list[float]:
    """Times as matplotlib's date numbers (what its date axis plots)."""
    return [float(d) for d in date2num(times)]  # type: ignore[no-untyped-call]


def _middle(report: dict[str, Any], rows: list[dict[str, Any]]) -> list[float]:
    """Where the rows' points go: the middle of the part of their bucket in the window."""
    span = timedelta(seconds=BUCKETS[report["bucket"]])
    start, end = _when(report["from"]), _when(report["to"])
    middles = []
    for row in rows:
        low, high = max(_when(row["bucket"]), start), min(_when(row["bucket"]) + span, end)
        middles.append(low + (high - low) / 2)
    return _dates(middles)


def _time_axis(axes: Axes, report: dict[str, Any]) -> None:
    """The window's whole span on the x axis, labelled briefly."""
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_xlim(*_dates([_when(report["from"]), _when(report["to"])]))


def _climate_chart(report: dict[str, Any]) -> Callable[[Axes], bool]:
    def draw(axes: Axes) -> bool:
        rows = _visible(report["climate"], bucket="*")
        series: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            series.setdefault(row["queue"] or _ALL, []).append(row)
        for queue, points in sorted(series.items(), key=lambda s: (s[0] != _ALL, s[0])):
            style: dict[str, Any] = {"color": "#263046", "linewidth": 2.5} if queue == _ALL else {}
            xs = _middle(report, points)
            axes.plot(xs, [p["negative_share"] for p in points], marker="o", label=queue, **style)
        axes.set_ylabel("share of negative turns")
        axes.set_ylim(0, 1)
        _time_axis(axes, report)
        if series:
            axes.legend(fontsize=8, loc="upper left", frameon=False)
        return bool(series)

    return draw


def _signals_chart(report: dict[str, Any]) -> Callable[[Axes], bool]:
    def draw(axes: Axes) -> bool:
        rows = _visible(report["climate"], bucket="*", queue=None)
        xs = _middle(report, rows)
        axes.plot(xs, [r["mean_negativity"] for r in rows], marker="o", label="mean negativity")
        axes.plot(xs, [r["mean_distress"] for r in rows], marker="s", label="mean distress")
        axes.set_ylim(0, 1)
        _time_axis(axes, report)
        if rows:
            axes.legend(fontsize=8, loc="upper left", frameon=False)
        return bool(rows)

    return draw


def _escalations_chart(report: dict[str, Any]) -> Callable[[Axes], bool]:
    def draw(axes: Axes) -> bool:
        rows = _visible(report["escalations"], bucket="*", queue=None, reason="*")
        buckets = sorted({r["bucket"] for r in rows})
        reasons = sorted({r["reason"] for r in rows})
        positions = list(range(len(buckets)))
        bottom = [0.0] * len(buckets)
        for reason in reasons:
            counts = {r["bucket"]: r["escalations"] for r in rows if r["reason"] == reason}
            heights = [float(counts.get(b, 0)) for b in buckets]
            axes.bar(positions, heights, bottom=bottom, label=reason)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        axes.set_xticks(positions, [_when(b).strftime("%d %b %H:%M") for b in buckets])
        axes.set_ylabel("escalations (a reason each)")
        if reasons:
            axes.legend(fontsize=8, loc="upper left", frameon=False)
        return bool(reasons)

    return draw


def _barh(rows: list[dict[str, Any]], label: Callable[[dict[str, Any]], str], value: str,
          xlabel: str) -> Callable[[Axes], bool]:  # fmt: skip
    def draw(axes: Axes) -> bool:
        names = [label(r) for r in rows]
        axes.barh(names, [r[value] for r in rows], color="#4c72b0")
        axes.invert_yaxis()
        axes.set_xlabel(xlabel)
        axes.grid(axis="x", color="#e3e5ea")
        return bool(rows)

    return draw


def _timings_chart(report: dict[str, Any]) -> Callable[[Axes], bool]:
    def draw(axes: Axes) -> bool:
        rows = _visible(report["timings"], bucket=None)
        names = [r["queue"] or _ALL for r in rows]
        width = 0.27
        for n, (step, label) in enumerate(
            (
                ("claim", "to claim"),
                ("deescalate", "to de-escalation"),
                ("resolve", "to resolution"),
            )
        ):
            values = [r[f"{step}_s_median"] or 0.0 for r in rows]
            axes.bar([i + (n - 1) * width for i in range(len(rows))], values, width, label=label)
        axes.set_xticks(list(range(len(rows))), names)
        axes.set_ylabel("median seconds")
        if rows:
            axes.legend(fontsize=8, loc="upper left", frameon=False)
        return bool(rows)

    return draw


def _csat_chart(report: dict[str, Any]) -> Callable[[Axes], bool]:
    def draw(axes: Axes) -> bool:
        rows = _visible(report["csat"], escalated="*", queue=None)
        names = ["after an escalation" if r["escalated"] else "without" for r in rows]
        axes.bar(names, [r["mean_csat"] for r in rows], color=["#dd8452", "#55a868"][: len(rows)])
        axes.set_ylim(0, 5)
        axes.set_ylabel("mean CSAT (1-5)")
        return bool(rows)

    return draw


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if value < 10 else f"{value:.0f}"
    return html.escape(str(value))


def _key(name: str, value: Any) -> str:
    if value is None:
        return _ALL
    if name == "bucket":
        return _when(value).strftime("%Y-%m-%d %H:%M")
    if name == "escalated":
        return "after an escalation" if value else "without"
    return html.escape(str(value))


def _table(
    rows: list[dict[str, Any]], keys: list[str], figures: list[str], size: str = "conversations"
) -> str:
    """Every row of a section: keys, its size, then figures; a suppressed row says so."""
    head = "".join(f'<th class="key">{html.escape(k)}</th>' for k in keys)
    head += "".join(f"<th>{html.escape(f)}</th>" for f in [size, *figures])
    body = []
    for row in rows:
        cells = "".join(f'<td class="key">{_key(k, row[k])}</td>' for k in keys)
        if row["suppressed"]:
            cells += f'<td class="suppressed" colspan="{len(figures) + 1}">{_SUPPRESSED}</td>'
        else:
            cells += "".join(f"<td>{_cell(row[f])}</td>" for f in [size, *figures])
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _climate(report: dict[str, Any]) -> list[str]:
    figures = ["turns", "negative_share", "mean_negativity", "mean_distress"]
    return [
        _chart("Share of negative customer turns", _climate_chart(report)),
        _chart("Negativity and distress, all queues", _signals_chart(report), 2.6),
        _table(report["climate"], ["bucket", "queue"], figures),
    ]


def _escalations(report: dict[str, Any]) -> list[str]:
    by_queue = _visible(report["escalations"], bucket=None, queue="*", reason="*")
    draw = _barh(by_queue, lambda r: f"{r['queue']} / {r['reason']}", "escalations", "escalations")
    return [
        _chart("Escalations over time, by reason", _escalations_chart(report)),
        _chart("Escalations by queue and reason", draw),
        _table(report["escalations"], ["bucket", "queue", "reason"], ["escalations"]),
    ]


def _timings(report: dict[str, Any]) -> list[str]:
    figures = ["escalations", "claimed", "claim_s_median", "claim_s_p90", "deescalated",
               "deescalate_s_median", "resolved", "resolve_s_median"]  # fmt: skip
    return [
        _chart("Median time per queue", _timings_chart(report)),
        _table(report["timings"], ["bucket", "queue"], figures),
    ]


def _false_alarms(report: dict[str, Any]) -> list[str]:
    by_reason = _visible(report["false_alarms"], queue=None, reason="*")
    draw = _barh(by_reason, lambda r: str(r["reason"]), "false_alarm_rate",
                 "share of verdicts saying false alarm")  # fmt: skip
    figures = ["verdicts", "false_alarm_rate", "wrong_queue_rate"]
    return [
        _chart("False-alarm rate by reason, all queues", draw),
        _table(report["false_alarms"], ["queue", "reason"], figures),
    ]


def _csat(report: dict[str, Any]) -> list[str]:
    figures = ["responses", "mean_csat", "satisfied_share"]
    return [
        _chart("Mean CSAT", _csat_chart(report), 2.6),
        _table(report["csat"], ["escalated", "queue"], figures),
    ]


def _overload(report: dict[str, Any]) -> list[str]:
    by_queue = _visible(report["overload_alerts"], bucket=None, queue="*")
    draw = _barh(by_queue, lambda r: str(r["queue"]), "alerts", "overload alerts")
    return [
        _chart("Overload alerts by queue", draw),
        _table(
            report["overload_alerts"],
            ["bucket", "queue"],
            ["queue_alerts", "agent_alerts", "team_alerts"],
            size="alerts",
        ),
    ]


_SECTIONS: list[tuple[str, str, Callable[[dict[str, Any]], list[str]]]] = [
    (
        "Emotional climate per queue",
        "Customer turns read by the emotion model. A turn counts as negative at "
        "negativity {negative_turn_threshold} or more.",
        _climate,
    ),
    (
        "Escalations by reason and queue",
        "Live escalations (shadow policies left out); one with two reasons counts under both.",
        _escalations,
    ),
    (
        "Time to claim, de-escalation and resolution",
        "Seconds from an escalation to its first claim, and to the conversation's next "
        "de-escalation and resolution. Claims are counted, never attributed.",
        _timings,
    ),
    (
        "False-alarm rate per reason and queue",
        "Agents' verdicts on the escalations and updates they were offered.",
        _false_alarms,
    ),
    (
        "CSAT after an escalation and without",
        "CSAT given after a conversation's first escalation, or in a conversation never "
        "escalated. Satisfied: {satisfied_csat} or more.",
        _csat,
    ),
    (
        "Overload alerts to supervisors",
        "Alerts suggesting rotation or a break, about a queue as a whole or about one agent "
        "in it (never named here). A group of fewer than {min_group} alerts is suppressed.",
        _overload,
    ),
]


def _privacy(min_group: int, suppressed: int) -> str:
    if min_group <= 1:
        return "Aggregates only; every group is shown (minimum group 1). No figure names or ranks agents."
    return (
        f"Aggregates only. A group of fewer than {min_group} conversations is suppressed (no "
        "figure, not even its size), and so are the smallest groups beside it where it could be "
        f"worked out from a total ({suppressed} suppressed here). No figure names or ranks agents."
    )


def write_report(
    database: RecordDatabase | Path, window: Window, out: Path, note: str = ""
) -> Path:
    """The report of ``window`` read from the record at ``database``, written to ``out``;
    its absolute path."""
    with contextlib.closing(RecordDatabase.of(database).connect(read_only=True)) as conn:
        numbers = insights(conn, window)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(numbers, note), encoding="utf-8")
    return out.resolve()


def render(report: dict[str, Any], note: str = "") -> str:
    """The HTML report of :func:`warmline.insights.aggregates.insights`' result, with
    ``note`` said under the privacy promise."""
    n = report["min_group"]
    queues = ", ".join(report["queues"]) if report["queues"] else "every queue"
    parts = [
        f"<section><h2>{html.escape(title)}</h2>"
        f"<p class='note'>{html.escape(note.format(**report))}</p>{''.join(content(report))}"
        "</section>"
        for title, note, content in _SECTIONS
    ]
    title = f"Warmline insights: {report['tenant']}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>"
        f"<div>{_key('bucket', report['from'])} to {_key('bucket', report['to'])} UTC, by "
        f"{html.escape(report['bucket'])}; {html.escape(queues)}</div></header><main>"
        f"<p class='note' id='privacy'>{_privacy(n, report['suppressed_groups'])}</p>"
        + (f"<p class='note' id='about'>{html.escape(note)}</p>" if note else "")
        + "".join(parts)
        + "</main></body></html>\n"
    )
