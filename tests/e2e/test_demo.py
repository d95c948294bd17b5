"""`make demo` end to end: a real broker, the four services, the sample conversations."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from warmline.demo.runner import run_demo, sample_conversations

pytestmark = pytest.mark.e2e


async def test_the_demo_replays_every_conversation_and_redacts_personal_data(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    report = tmp_path / "insights.html"
    summary = await run_demo(
        console, os.environ.get("WARMLINE_KAFKA_VERSION"), turn_gap_s=0, insights_out=report
    )
    shown = out.getvalue()

    expected = sum(len(turns) for turns in sample_conversations().values())
    assert summary["events"] == expected
    assert summary["outcomes"] == {"accepted": expected}
    for conversation in (
        "calm-order",
        "billing-dispute",
        "confused-loop",
        "bereavement",
        "abusive",
        "grateful",
    ):
        assert f"demo/{conversation}" in shown
    # The sample conversations carry a card number and an email; neither is shown.
    assert "4111 1111 1111 1111" not in shown
    assert "eli.example@example.com" not in shown
    assert summary["redactions"] == {"[CARD]": 1, "[EMAIL]": 1}
    # Every customer message came out of the scoring service with its emotion;
    # the angry and abusive customers read far more negative than the calm ones.
    peak = summary["peak_negativity"]
    assert isinstance(peak, dict)
    assert set(peak) == set(sample_conversations())
    for upset in ("billing-dispute", "abusive"):
        for calm in ("calm-order", "grateful"):
            assert peak[upset] > 2 * peak[calm], (upset, calm, peak)
    assert " neg " in shown
    # The decisioning service hands over exactly the conversations that need a person.
    escalated = summary["escalated"]
    assert isinstance(escalated, dict)
    assert set(escalated) == {"billing-dispute", "confused-loop", "bereavement", "abusive"}
    assert "sensitive_topic" in escalated["bereavement"]
    # The looping customer is handed over for the loop (before asking for a person:
    # the backtest of the demo's conversations escalates it at its third message).
    assert "confusion_loop" in escalated["confused-loop"]
    assert "abuse" in escalated["abusive"]
    assert "opening line:" in shown
    assert "abusive -> queue supervisor" in shown
    # Each escalation reached the demo agent's console through the notification
    # service, abusive words masked, and the summary says how long that took.
    delivered = summary["delivered"]
    assert isinstance(delivered, dict)
    assert set(delivered) == set(escalated)
    assert all(count >= 1 for count in delivered.values())
    assert "(abusive, masked)" in shown
    by_reason = summary["escalations_by_reason"]
    assert isinstance(by_reason, dict)
    assert by_reason["abuse"] == 1 and by_reason["sensitive_topic"] >= 1
    p50, p99 = summary["ingest_to_console_ms_p50"], summary["ingest_to_console_ms_p99"]
    assert isinstance(p50, float) and isinstance(p99, float)
    assert 0 < p50 <= p99
    # A user can open the browser console while the demo runs.
    assert "Agent console in a browser: http://127.0.0.1:" in shown
    assert "with the agent token wla_demo_" in shown
    # It ends with the insights report of its own traffic, read from the record,
    # with real charts and no agent named.
    assert summary["insights_report"] == str(report.resolve())
    assert f"Insights report of the demo's traffic: {report.resolve()}" in shown
    page = report.read_text()
    assert "Warmline insights: demo" in page
    assert page.count("<svg") >= 6
    assert "demo-agent" not in page
    for section in ("Emotional climate per queue", "Escalations by reason and queue",
                    "False-alarm rate", "CSAT after an escalation"):  # fmt: skip
        assert section in page


async def test_the_whole_pipeline_runs_over_sasl_ssl(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    summary = await run_demo(
        console,
        os.environ.get("WARMLINE_KAFKA_VERSION"),
        turn_gap_s=0,
        sasl_ssl=True,
        insights_out=tmp_path / "insights.html",
    )
    expected = sum(len(turns) for turns in sample_conversations().values())
    assert summary["outcomes"] == {"accepted": expected}
    escalated = summary["escalated"]
    assert isinstance(escalated, dict)
    assert set(escalated) == {"billing-dispute", "confused-loop", "bereavement", "abusive"}
