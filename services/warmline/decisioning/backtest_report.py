"""The backtest's HTML report: each conversation's negativity, where the policy
fired and where it should have (inline SVG, no plotting library)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from warmline.decisioning.backtest import Outcome

_W, _H, _PAD = 360, 90, 8


def _x(turn: int, turns: int) -> float:
    return _PAD + (_W - 2 * _PAD) * (turn / max(1, turns - 1))


def _chart(outcome: Outcome) -> str:
    turns = len(outcome.negativity)
    points = " ".join(
        f"{_x(i, turns):.1f},{_H - _PAD - (_H - 2 * _PAD) * v:.1f}"
        for i, v in enumerate(outcome.negativity)
    )
    marks = []
    if outcome.gold_turn is not None and turns:
        x = _x(min(outcome.gold_turn, turns - 1), turns)
        marks.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{_H}" stroke="green" stroke-dasharray="4"/>'
        )
    if outcome.fired_turn is not None and turns:
        x = _x(min(outcome.fired_turn, turns - 1), turns)
        marks.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{_H}" stroke="red"/>')
    return (
        f'<svg width="{_W}" height="{_H}" role="img" aria-label="negativity of {html.escape(outcome.conversation_id)}">'
        f'<rect width="{_W}" height="{_H}" fill="#f7f7f7"/>{"".join(marks)}'
        f'<polyline points="{points}" fill="none" stroke="#333" stroke-width="2"/></svg>'
    )


def render_report(metrics: dict[str, Any], outcomes: Sequence[Outcome], limit: int = 12) -> str:
    """A self-contained HTML page: the metrics and up to ``limit`` trajectories."""
    rows = "".join(
        f"<tr><td>{html.escape(o.conversation_id)}</td><td>{_chart(o)}</td>"
        f"<td>gold: {o.gold_turn if o.gold_turn is not None else 'none'}<br>"
        f"fired: {o.fired_turn if o.fired_turn is not None else 'no'}<br>"
        f"{html.escape(', '.join(o.reasons))}</td></tr>"
        for o in list(outcomes)[:limit]
    )
    return (
        "<!doctype html><meta charset='utf-8'><title>Warmline backtest</title>"
        "<h1>Warmline backtest</h1>"
        f"<pre>{html.escape(json.dumps(metrics, indent=2))}</pre>"
        "<p>Black: customer negativity per customer turn. Red: where the policy escalated. "
        "Dashed green: where a person should have stepped in.</p>"
        f"<table>{rows}</table>"
    )
