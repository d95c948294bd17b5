"""``warmline policy tune``: verdicts in the record, a grid of thresholds through the
real policy, and a tenant override a person can load, never applied by itself."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.tuning_support import WINDOW, WITH_VERDICTS, verdict_floor
from tests.unit.decisioning.support import escalates, policy_with
from warmline.cli import app
from warmline.decisioning.policy import DEFAULT_POLICY_PATH
from warmline.decisioning.tune import GRID, TooFewVerdicts, grid_values, tune
from warmline.record.store import connect, database_path
from warmline.record.tuning_set import read_tuning_set


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    verdict_floor(database_path(tmp_path / "record"))
    return tmp_path / "record"


def run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        ["policy", "tune", "--tenant", "acme", *WINDOW, "--data-dir", str(data_dir), *args],
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_proposal_drops_the_false_alarms_and_keeps_every_useful_escalation(
    data_dir: Path,
) -> None:
    code, out, _ = run(data_dir, "--format", "json")
    assert code == 0, out
    found = json.loads(out)
    assert found["changes"] == {"negative_turn_threshold": {"current": 0.5, "proposed": 0.6}}
    assert found["with_verdicts"] == WITH_VERDICTS and found["conversations"] == 35
    assert found["pinned"] == 1 and found["assumed_calm"] == 0 and found["applied"] is False
    # 12 useful streaks and the pinned request, 12 false-alarm streaks, of 35 conversations.
    current, proposed = found["current"], found["proposed"]
    assert (current["precision"], current["recall"]) == (0.52, 1.0)
    assert current["alerts_per_100_conversations"] == pytest.approx(100 * 25 / 35, abs=0.01)
    assert (proposed["precision"], proposed["recall"], proposed["f1"]) == (1.0, 1.0, 1.0)
    assert proposed["alerts_per_100_conversations"] == pytest.approx(100 * 13 / 35, abs=0.01)
    assert proposed["median_turns_late"] == current["median_turns_late"] == 0
    assert "recall is at least the current policy's (1.0)" in found["why"]
    assert found["candidates"] == 108


def test_the_written_override_loads_as_a_tenant_override_and_changes_its_decisions(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "proposals" / "acme.yaml"
    code, text, _ = run(data_dir, "--out", str(out))
    assert code == 0, text
    written = out.read_text()
    assert written.startswith("# Proposed by `warmline policy tune` for tenant acme")
    assert "2026-12-01T00:00:00+00:00 to 2026-12-02T00:00:00+00:00" in written
    assert "35 conversations, 25 with verdicts" in written and "NOT APPLIED" in written
    assert yaml.safe_load(written) == {
        "tenants": {"acme": {"thresholds": {"negative_turn_threshold": 0.6}}}
    }
    # Copied under `tenants:` of the policy file, as a person would.
    policy = policy_with(written)
    assert policy.for_tenant("acme").thresholds.negative_turn_threshold == 0.6
    assert policy.for_tenant("globex") == policy.defaults
    grumble = (0.55, 0.55, 0.1)
    assert escalates(policy, "globex", grumble) and not escalates(policy, "acme", grumble)
    assert escalates(policy, "acme", (0.7, 0.7))


def test_the_text_output_shows_before_and_after_and_says_nothing_was_applied(
    data_dir: Path,
) -> None:
    code, out, _ = run(data_dir)
    assert code == 0, out
    assert "25 with verdicts, 0 assumed calm, 0 disputed" in out
    assert "proposed: negative_turn_threshold 0.5 -> 0.6" in out
    precision = next(line for line in out.splitlines() if line.startswith("precision"))
    assert precision.split() == ["precision", "0.52", "1.0"]
    assert "not applied" in out and "why: highest F1" in out


def test_unescalated_conversations_count_as_calm_only_when_asked(data_dir: Path) -> None:
    code, out, _ = run(data_dir, "--format", "json", "--count-unescalated-as-calm")
    assert code == 0, out
    found = json.loads(out)
    assert found["assumed_calm"] == 10 and found["with_verdicts"] == WITH_VERDICTS
    assert found["proposed"]["precision"] == 1.0


def test_too_few_conversations_with_verdicts_is_refused(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "acme.yaml"
    code, _, err = run(data_dir, "--min-conversations", "26", "--out", str(out))
    assert code == 2
    assert "tenant acme has 25 conversation(s) with verdicts" in err
    assert "at least 26" in err and not out.exists()
    with closing(connect(database_path(data_dir), read_only=True)) as conn:
        few = read_tuning_set(conn, "globex", 0, 2e9)
    with pytest.raises(TooFewVerdicts, match="globex has 5"):
        tune(DEFAULT_POLICY_PATH.read_text(), "default", few)


def test_it_never_writes_into_the_live_policy_folder(data_dir: Path, tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    (live / "policy.yaml").write_text(DEFAULT_POLICY_PATH.read_text())
    out = live / "proposal.yaml"
    code, _, err = run(data_dir, "--policy", str(live / "policy.yaml"), "--out", str(out))
    assert code == 2 and "folder of a live policy file" in err and not out.exists()


def test_the_grid_is_small_and_always_holds_the_thresholds_in_force() -> None:
    thresholds = policy_with().defaults.thresholds
    axes = grid_values(thresholds)
    assert axes == {
        "negative_turn_threshold": [0.4, 0.5, 0.6, 0.7],
        "streak_length": [1, 2, 3],
        "negativity_threshold": [0.45, 0.55, 0.65],
        "peak_anger": [0.3, 0.4, 0.5],
    }
    low = thresholds.model_copy(update={"negative_turn_threshold": 0.01, "peak_anger": 1.0})
    assert 0.01 in grid_values(low)["negative_turn_threshold"]
    assert grid_values(low)["peak_anger"] == [0.9, 1.0]
    assert set(axes) == set(GRID)
