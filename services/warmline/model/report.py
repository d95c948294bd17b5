"""A self-contained HTML evaluation report with hand-written inline SVG charts."""

from __future__ import annotations

import html
import json
from typing import Any

from warmline.model.metrics import Reliability

_BAR_COLOR = "#3b6ea5"
_GAP_COLOR = "#c0504d"


def f1_bars_svg(per_label: dict[str, float], width: int = 640, row: int = 18) -> str:
    """Horizontal bars, one per label, sorted by F1 (highest first)."""
    items = sorted(per_label.items(), key=lambda item: -item[1])
    label_w, pad = 120, 40
    plot_w = width - label_w - pad
    height = row * len(items) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="per-label F1">',
        f'<line x1="{label_w}" y1="0" x2="{label_w}" y2="{height - 20}" stroke="#444"/>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 20}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
            f"{tick:.2f}</text>"
        )
    for i, (name, value) in enumerate(items):
        y = i * row + 2
        parts.append(
            f'<text x="{label_w - 6}" y="{y + row - 6}" font-size="11" text-anchor="end">'
            f"{html.escape(name)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{value * plot_w:.1f}" height="{row - 4}" '
            f'fill="{_BAR_COLOR}"><title>{html.escape(name)}: {value:.3f}</title></rect>'
            f'<text x="{label_w + value * plot_w + 4:.1f}" y="{y + row - 6}" font-size="10">'
            f"{value:.2f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def reliability_svg(rel: Reliability, size: int = 360) -> str:
    """Reliability diagram: positive rate vs. mean confidence per bin, diagonal = ideal.

    Bars show the observed positive rate per bin; the red segment marks the gap to
    the bin's mean confidence. Empty bins are left out.
    """
    margin = 40
    plot = size - 2 * margin

    def sx(v: float) -> float:
        return margin + v * plot

    def sy(v: float) -> float:
        return size - margin - v * plot

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'role="img" aria-label="reliability diagram">',
        f'<rect x="{margin}" y="{margin}" width="{plot}" height="{plot}" fill="none" '
        'stroke="#444"/>',
        f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}" stroke="#999" '
        'stroke-dasharray="4 3"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(
            f'<text x="{sx(tick):.1f}" y="{size - margin + 14}" font-size="10" '
            f'text-anchor="middle">{tick:.1f}</text>'
            f'<text x="{margin - 6}" y="{sy(tick) + 3:.1f}" font-size="10" '
            f'text-anchor="end">{tick:.1f}</text>'
        )
    parts.append(
        f'<text x="{size / 2}" y="{size - 8}" font-size="11" text-anchor="middle">'
        "mean predicted probability</text>"
        f'<text x="12" y="{size / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {size / 2})">fraction positive</text>'
    )
    bins = len(rel.counts)
    width = plot / bins
    for i, count in enumerate(rel.counts):
        if count == 0:
            continue
        x = sx(rel.edges[i])
        freq, conf = rel.frequency[i], rel.confidence[i]
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{sy(freq):.1f}" width="{width - 2:.1f}" '
            f'height="{sy(0) - sy(freq):.1f}" fill="{_BAR_COLOR}" fill-opacity="0.8">'
            f"<title>bin {rel.edges[i]:.2f}-{rel.edges[i + 1]:.2f}: n={count}, "
            f"confidence {conf:.3f}, positive rate {freq:.3f}</title></rect>"
            f'<line x1="{x + width / 2:.1f}" y1="{sy(freq):.1f}" x2="{x + width / 2:.1f}" '
            f'y2="{sy(conf):.1f}" stroke="{_GAP_COLOR}" stroke-width="2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_report(metrics: dict[str, Any], rel: Reliability) -> str:
    """The full HTML page: headline table, per-label F1 bars, reliability diagram."""
    headline = (
        "macro_f1",
        "micro_f1",
        "ekman_macro_f1",
        "sentiment_macro_f1",
        "ece",
        "examples",
        "split",
        "quantized",
    )
    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(_fmt(metrics[key]))}</td></tr>"
        for key in headline
        if key in metrics
    )
    groups = {
        key: value
        for key, value in metrics.items()
        if key.endswith("_per_group_f1") and isinstance(value, dict)
    }
    title = html.escape(f"Warmline emotion model {metrics.get('model_version', '')}")
    raw = html.escape(json.dumps(metrics, indent=2, sort_keys=True))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}
table{{border-collapse:collapse}}th,td{{padding:2px 10px;text-align:left}}
th{{font-weight:600}}</style></head><body>
<h1>{title}</h1>
<table>{rows}</table>
<h2>Per-label F1</h2>
{f1_bars_svg(metrics.get("per_label_f1", {}))}
{"".join(f"<h2>{html.escape(k)}</h2>{f1_bars_svg(v)}" for k, v in groups.items())}
<h2>Reliability (ECE {rel.ece:.4f})</h2>
<p>15 equal-width bins over all (text, label) probabilities; bars are the observed
positive rate, red segments the gap to the bin's mean probability.</p>
{reliability_svg(rel)}
<h2>All metrics</h2><pre>{raw}</pre>
</body></html>
"""


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
