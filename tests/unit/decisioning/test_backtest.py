"""The backtest: labelled conversations through the real policy, metrics a user can check by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warmline.cli import app
from warmline.decisioning.backtest import BacktestInputError, read_conversations, run_backtest
from warmline.decisioning.policy import load_policy

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "backtest" / "labelled.jsonl"


def test_gold_emotions_through_the_default_policy() -> None:
    metrics, outcomes = run_backtest(read_conversations(FIXTURE), load_policy(), scorer=None)
    fired = {o.conversation_id: o.fired_turn for o in outcomes}
    # angry: peak anger on customer turn 1, as the gold says; late: the streak of two
    # disappointed turns fires on turn 2, two turns after the gold; calm: quiet;
    # false-alarm: two mildly negative turns fire although no person was needed.
    assert fired == {"angry": 1, "calm": None, "late": 2, "false-alarm": 1}
    assert metrics["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["recall"] == 1.0
    assert metrics["f1"] == pytest.approx(0.8, abs=1e-4)
    assert metrics["median_turns_late"] == 1.0
    assert metrics["alerts_per_100_conversations"] == 75.0
    assert metrics["labels"] == "emotion"


def test_the_command_prints_json_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "backtest.html"
    result = CliRunner().invoke(
        app, ["backtest", "--input", str(FIXTURE), "--labels", "emotion", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    # stdout only: a client left running by another test may log to stderr meanwhile.
    assert json.loads(result.stdout.splitlines()[0])["recall"] == 1.0
    page = report.read_text()
    assert page.count("<svg") == 4 and 'stroke="red"' in page


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"event_id": "x", "conversation_id": "c", "role": "ROLE_PIRATE"}', "ROLE_PIRATE"),
        (
            '{"event_id": "x", "conversation_id": "c", "gold_escalation_turn": "soon"}',
            "integer or null",
        ),
        (
            '{"event_id": "x", "conversation_id": "c", "gold_labels": ["hangry"]}',
            "GoEmotions label",
        ),
        ("not json", ":1:"),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line + "\n")
    with pytest.raises(BacktestInputError, match=message):
        read_conversations(bad)
    result = CliRunner().invoke(app, ["backtest", "--input", str(bad), "--labels", "emotion"])
    assert result.exit_code == 2


def test_the_packaged_contact_center_conversations_report_per_reason() -> None:
    result = CliRunner().invoke(app, ["backtest", "--contact-center", "dev"])
    assert result.exit_code == 0, result.output
    # The report is the first line; a leftover task of an earlier test may log after it.
    metrics = json.loads(result.stdout.splitlines()[0])  # stdout: see the test above
    assert metrics["labelled_conversations"] == metrics["conversations"] > 50
    for reason in ("churn_threat", "vulnerability", "confusion_loop", "sensitive_topic"):
        entry = metrics["by_gold_reason"][reason]
        assert entry["conversations"] > 0 and 0.0 <= entry["recall"] <= 1.0
    assert all(0.0 <= v["precision"] <= 1.0 for v in metrics["by_fired_reason"].values())


def test_the_backtest_wants_exactly_one_input(tmp_path: Path) -> None:
    neither = CliRunner().invoke(app, ["backtest"])
    both = CliRunner().invoke(app, ["backtest", "--contact-center", "dev", "--input", str(FIXTURE)])
    for result in (neither, both):
        assert result.exit_code == 2
        assert "exactly one of --input and --contact-center" in result.output
