"""`warmline model adapt` and `warmline model eval --suite contact-center`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from warmline.model import contact_center as cc
from warmline.model.bundle import ModelCard
from warmline.model.cli import app

runner = CliRunner()


def _json_at(output: str, start: str) -> dict[str, Any]:
    """The JSON document printed at ``start``; log lines before or after it are ignored
    (the runner mixes stderr in, where a leftover task of an earlier test may log)."""
    found, _ = json.JSONDecoder().raw_decode(output[output.index(start) :])
    assert isinstance(found, dict)
    return found


def _tenant_file(path: Path, conversations: int) -> Path:
    chosen = cc.read_conversations(cc.TRAIN_FILE)[:conversations]
    lines = [json.dumps(line) for c in chosen for line in cc.to_replay_events(c, "acme")]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_adapt_writes_a_bundle_that_records_its_data_but_no_text(tmp_path: Path) -> None:
    data = _tenant_file(tmp_path / "tenant.jsonl", 60)
    out = tmp_path / "adapted"
    result = runner.invoke(app, ["adapt", "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = _json_at(result.output, '{\n  "model_version"')
    for stage in ("before", "after"):
        assert set(report[stage]["turn"]["per_signal_f1"]) >= {"negativity", "frustration"}
        assert {"precision", "recall", "f1"} <= set(report[stage]["escalation"])
    card = ModelCard.load(out)
    assert card.adapted_from["conversations"] == 60
    assert len(card.adapted_from["data_sha256"]) == 64
    bundle_text = "".join(p.read_text(errors="ignore") for p in out.glob("*.json"))
    first_message = cc.read_conversations(cc.TRAIN_FILE)[0].customer_turns[0].text
    assert first_message not in bundle_text
    backtest = runner.invoke(app, ["eval", "--suite", "contact-center", "--model", str(out)])
    assert backtest.exit_code == 0, backtest.output
    assert card.model_version in backtest.output


def test_adapt_refuses_a_file_without_enough_labels(tmp_path: Path) -> None:
    data = _tenant_file(tmp_path / "tiny.jsonl", 3)
    result = runner.invoke(app, ["adapt", "--data", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "labelled customer turns" in result.output


def test_the_contact_center_suite_reports_turn_and_escalation_metrics() -> None:
    result = runner.invoke(app, ["eval", "--suite", "contact-center", "--split", "test"])
    assert result.exit_code == 0, result.output
    report = _json_at(result.output, "{")
    assert report["part"] == "test"
    turn = report["turn"]
    assert turn["turns"] >= 300
    assert 0.5 < turn["negativity_auc"] <= 1.0
    assert turn["policy_negative_turn_threshold"] == 0.5
    assert report["escalation"]["labelled_conversations"] == report["conversations"]
    assert "by_gold_reason" in report["escalation"]


def _own_set(path: Path, conversations: int) -> tuple[Path, int]:
    """A user's own labelled set: training conversations without the shipped parts."""
    chosen = cc.read_conversations(cc.TRAIN_FILE)[:conversations]
    lines = [line for line in cc.TRAIN_FILE.read_text().splitlines() if line.strip()]
    path.write_text("\n".join(lines[:conversations]) + "\n")
    labelled = sum(1 for c in chosen for t in c.customer_turns if t.signals is not None)
    return path, labelled


def test_the_contact_center_suite_scores_a_users_own_set_whole(tmp_path: Path) -> None:
    own, labelled = _own_set(tmp_path / "ours.jsonl", 12)
    result = runner.invoke(app, ["eval", "--suite", "contact-center", "--set", str(own)])
    assert result.exit_code == 0, result.output
    report = _json_at(result.output, "{")
    assert (report["part"], report["conversations"]) == ("all", 12)
    assert report["turn"]["turns"] == labelled
    assert report["set"] == str(own)


def test_a_malformed_own_set_is_refused_naming_the_line(tmp_path: Path) -> None:
    own, _ = _own_set(tmp_path / "ours.jsonl", 3)
    lines = own.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["channel"] = "fax"
    lines[1] = json.dumps(broken)
    own.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["eval", "--suite", "contact-center", "--set", str(own)])
    assert result.exit_code == 2
    words = " ".join(result.output.replace("│", " ").split())
    assert "ours.jsonl:2" in words and "'fax'" in words


def test_an_own_set_needs_the_contact_center_suite(tmp_path: Path) -> None:
    own, _ = _own_set(tmp_path / "ours.jsonl", 2)
    result = runner.invoke(app, ["eval", "--set", str(own)])
    assert result.exit_code == 2
    words = " ".join(result.output.replace("│", " ").split())
    assert "use it with --suite contact-center" in words


def test_an_own_set_without_labelled_turns_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    unlabelled = tmp_path / "unlabelled.jsonl"
    record = {
        "id": "u1",
        "channel": "chat",
        "intent": "how_to",
        "turns": [{"role": "customer", "text": "where is my parcel?"}],
        "gold_escalation_turn": None,
        "gold_reason": None,
    }
    unlabelled.write_text(json.dumps(record) + "\n")
    for own in (empty, unlabelled):
        result = runner.invoke(app, ["eval", "--suite", "contact-center", "--set", str(own)])
        assert result.exit_code == 2, result.output
        words = " ".join(result.output.replace("│", " ").split())
        assert "no customer turn with `signals`" in words
