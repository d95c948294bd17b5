"""Train and eval end to end on a tiny synthetic GoEmotions-shaped data set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warmline.model.bundle import (
    ENCODER_TOP_FILE,
    GROUP_HEAD_FILE,
    GROUP_RULES,
    HEAD_FILE,
    ModelCard,
)
from warmline.model.cli import app
from warmline.model.taxonomy import LABELS

ANGRY = ["This is outrageous, I am furious!", "Stop wasting my time, you idiots."]
THANKS = ["Thank you so much for your help!", "Thanks, really appreciate it."]
NEUTRAL = ["The meeting is at noon.", "My order number is 12345."]


def _write_data(root: Path) -> Path:
    ids = {name: LABELS.index(name) for name in ("anger", "gratitude", "neutral")}
    rows = [(t, ids["anger"]) for t in ANGRY] + [(t, ids["gratitude"]) for t in THANKS]
    rows += [(t, ids["neutral"]) for t in NEUTRAL]
    lines = [f"{text}\t{label}\tid{i}" for i, (text, label) in enumerate(rows * 3)]
    (root / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "dev.tsv").write_text("\n".join(lines[: len(rows)]) + "\n", encoding="utf-8")
    (root / "labels.txt").write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    (root / "ekman_mapping.json").write_text(
        json.dumps({"anger": ["anger", "annoyance"], "joy": ["joy", "gratitude"]}), "utf-8"
    )
    (root / "sentiment_mapping.json").write_text(
        json.dumps({"negative": ["anger"], "positive": ["gratitude", "joy"]}), "utf-8"
    )
    return root


def _write_conversations(path: Path) -> Path:
    turns = [("The app is broken again, third time this week.", ["frustration", "negativity"])]
    turns += [("How do I change my address?", ["neutral"]), ("Thanks, sorted!", ["gratitude"])]
    lines = [
        json.dumps(
            {
                "id": f"cc-{i}",
                "channel": "chat",
                "intent": "billing",
                "turns": [{"role": "customer", "text": text, "signals": signals}],
                "gold_escalation_turn": None,
                "gold_reason": None,
            }
        )
        for i, (text, signals) in enumerate(turns * 3)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_train_then_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMLINE_CACHE_DIR", str(tmp_path / "cache"))
    data = _write_data(tmp_path)
    out = tmp_path / "bundle"
    runner = CliRunner()
    args = ["train", "--data", str(data), "--out", str(out), "--seed", "3"]
    args += ["--finetune-layers", "1", "--finetune-epochs", "1"]
    args += ["--contact-center", str(_write_conversations(tmp_path / "cc.jsonl"))]
    trained = runner.invoke(app, args)
    assert trained.exit_code == 0, trained.output
    card = ModelCard.load(out)
    assert card.finetuned_layers == [5]
    assert (out / HEAD_FILE).is_file()
    assert (out / ENCODER_TOP_FILE).is_file()
    # The contact-center turns were fine-tuned on (the dev part is the project's own).
    assert card.model_version.startswith("minilm-l6-ft1cc-")
    assert card.training["finetune_contact_center"]["train_turns"] == 9
    assert card.training["finetune_contact_center"]["dev_turns"] > 100
    assert set(card.group_thresholds) == {"ekman", "sentiment"}
    assert (out / GROUP_HEAD_FILE).is_file()
    assert card.group_head_kinds == ["ekman", "sentiment"]
    assert card.group_head_outputs[:3] == ["ekman:anger", "ekman:joy", "ekman:neutral"]
    held_out = card.metrics["dev_crossfit_2fold"]
    for kind in ("ekman", "sentiment"):
        by_rule = held_out[f"{kind}_macro_f1_by_rule"]
        assert set(by_rule) == set(GROUP_RULES)
        # The recorded rule is the one that did best when measured on held-out halves.
        assert by_rule[card.group_rule(kind)] == max(by_rule.values())

    report = tmp_path / "report.html"
    args = ["eval", "--data", str(data), "--model", str(out), "--report", str(report)]
    evaluated = runner.invoke(app, args)
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.stdout)
    assert set(result) == {
        "macro_f1",
        "micro_f1",
        "ekman_macro_f1",
        "sentiment_macro_f1",
        "per_label_f1",
        "ece",
        "model_version",
    }
    assert set(result["per_label_f1"]) == set(LABELS)
    assert result["model_version"] == card.model_version
    page = report.read_text(encoding="utf-8")
    assert page.count("<svg") >= 2
    assert "reliability" in page


def test_train_without_contact_center_keeps_the_goemotions_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARMLINE_CACHE_DIR", str(tmp_path / "cache"))
    data = _write_data(tmp_path)
    out = tmp_path / "bundle"
    args = ["train", "--data", str(data), "--out", str(out), "--no-group-head"]
    args += ["--finetune-layers", "1", "--finetune-epochs", "1", "--contact-center-weight", "0"]
    trained = CliRunner().invoke(app, args)
    assert trained.exit_code == 0, trained.output
    card = ModelCard.load(out)
    assert card.model_version.startswith("minilm-l6-ft1-")
    assert card.training["finetune_contact_center"] == {}


def test_train_rejects_a_broken_contact_center_file(tmp_path: Path) -> None:
    data = _write_data(tmp_path)
    broken = tmp_path / "cc.jsonl"
    broken.write_text('{"id": "x", "channel": "fax"}\n', encoding="utf-8")
    args = ["train", "--data", str(data), "--out", str(tmp_path / "b"), "--contact-center"]
    result = CliRunner().invoke(app, [*args, str(broken), "--finetune-layers", "1"])
    assert result.exit_code == 2
    assert "cc.jsonl:1" in result.output
    assert not (tmp_path / "b").exists()
