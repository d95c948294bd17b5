"""Shadow policies: a proposed override decided beside the live policy, for its
tenants only, under a version of its own; written there by `policy tune --shadow`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.tuning_support import WINDOW, verdict_floor
from tests.unit.decisioning.support import escalates
from warmline.cli import app
from warmline.common.settings import DecisioningSettings, WarmlineSettings
from warmline.decisioning.app import database_path as local_database_path
from warmline.decisioning.app import faust_topics
from warmline.decisioning.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy
from warmline.decisioning.policy_store import ReloadStatus
from warmline.decisioning.shadow import VERSION_MARK, ShadowPolicyStore, write_override
from warmline.record.store import database_path

#: acme's proposal: a customer turn counts as negative only from 0.9.
STRICTER = "tenants:\n  acme:\n    thresholds:\n      negative_turn_threshold: 0.9\n"
GRUMBLE = (0.7, 0.7)


@pytest.fixture
def shadow_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "shadow"
    write_override(folder, "acme", STRICTER)
    return folder


def test_the_shadow_decides_only_the_proposed_tenants_with_their_override(
    shadow_dir: Path,
) -> None:
    live = load_policy()
    shadow = ShadowPolicyStore(DEFAULT_POLICY_PATH, shadow_dir).current
    assert shadow.only_tenants == {"acme"}
    assert shadow.decides_for("acme") and not shadow.decides_for("globex")
    assert live.decides_for("globex")
    acme = shadow.for_tenant("acme")
    assert acme.shadow and acme.thresholds.negative_turn_threshold == 0.9
    assert shadow.version.startswith(live.version + VERSION_MARK) and shadow.version != live.version
    assert escalates(live, "acme", GRUMBLE) and not escalates(shadow, "acme", GRUMBLE)


def test_a_changed_proposal_is_taken_at_reload_and_a_broken_one_keeps_the_last_good(
    shadow_dir: Path,
) -> None:
    store = ShadowPolicyStore(DEFAULT_POLICY_PATH, shadow_dir)
    first = store.current.version
    assert store.reload_if_changed().status is ReloadStatus.UNCHANGED
    write_override(shadow_dir, "acme", STRICTER.replace("0.9", "0.8"))
    reloaded = store.reload_if_changed()
    assert reloaded.status is ReloadStatus.RELOADED and reloaded.version != first
    assert store.current.for_tenant("acme").thresholds.negative_turn_threshold == 0.8
    write_override(shadow_dir, "acme", STRICTER.replace("0.9", "7"))
    rejected = store.reload_if_changed()
    assert rejected.status is ReloadStatus.REJECTED
    assert "tenants.acme.thresholds.negative_turn_threshold" in (rejected.error or "")
    assert store.current.version == reloaded.version


def test_without_a_proposal_the_shadow_decides_for_nobody(tmp_path: Path) -> None:
    store = ShadowPolicyStore(DEFAULT_POLICY_PATH, tmp_path / "never-made")
    assert store.current.only_tenants == frozenset()
    assert not store.current.decides_for("acme")


def test_two_proposals_for_one_tenant_are_refused_naming_both(shadow_dir: Path) -> None:
    (shadow_dir / "acme-too.yaml").write_text(STRICTER)
    refusal = re.escape("acme.yaml: tenant acme is already shadowed by acme-too.yaml")
    with pytest.raises(PolicyError, match=refusal):
        ShadowPolicyStore(DEFAULT_POLICY_PATH, shadow_dir)


def test_the_shadow_worker_keeps_its_own_app_id_changelogs_and_local_database() -> None:
    live = WarmlineSettings()
    shadow = WarmlineSettings(decisioning=DecisioningSettings(shadow=True))
    assert shadow.decisioning.worker_app_id == "warmline-decisioning-shadow"
    assert not set(faust_topics(live)) & set(faust_topics(shadow))
    assert "warmline-decisioning-shadow-conversations-changelog" in faust_topics(shadow)
    assert local_database_path(shadow).name == "warmline-decisioning-shadow.sqlite3"
    assert local_database_path(live).name == "warmline-decisioning.sqlite3"


def run_tune(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["policy", "tune", "--tenant", "acme", *WINDOW, "--data-dir", str(data_dir), *args]
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    verdict_floor(database_path(tmp_path / "record"))
    return tmp_path / "record"


def test_tune_shadow_writes_the_proposal_where_the_shadow_worker_reads_it(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "shadow-policies"
    code, out, err = run_tune(data_dir, "--shadow", "--shadow-dir", str(folder))
    assert code == 0, err
    written = (folder / "acme.yaml").read_text()
    assert written.startswith("# Proposed by `warmline policy tune` for tenant acme")
    proposed = yaml.safe_load(written)["tenants"]["acme"]["thresholds"]
    assert "shadow" not in yaml.safe_load(written)["tenants"]["acme"]  # copyable as it is
    shadow = ShadowPolicyStore(DEFAULT_POLICY_PATH, folder).current
    for name, value in proposed.items():
        assert getattr(shadow.for_tenant("acme").thresholds, name) == value
    assert f"WARMLINE_DECISIONING__SHADOW_POLICY_DIR={folder.resolve()}" in out
    assert "warmline serve decisioning --shadow" in out
    assert "warmline policy compare --tenant acme" in out
    code, out, _ = run_tune(data_dir, "--shadow", "--shadow-dir", str(folder), "--format", "json")
    assert code == 0 and json.loads(out)["shadow_file"] == str((folder / "acme.yaml").resolve())


def test_tune_shadow_never_writes_into_the_live_policy_folder(
    data_dir: Path, tmp_path: Path
) -> None:
    live = tmp_path / "live"
    live.mkdir()
    (live / "policy.yaml").write_text(DEFAULT_POLICY_PATH.read_text())
    code, _, err = run_tune(
        data_dir, "--policy", str(live / "policy.yaml"), "--shadow", "--shadow-dir",
        str(live / "shadow"),
    )  # fmt: skip
    assert code == 2 and "folder of a live policy file" in err
    assert not (live / "shadow").exists()


def test_serve_shadow_is_for_the_decisioning_worker_only() -> None:
    result = CliRunner().invoke(app, ["serve", "ingestion", "--shadow"])
    assert result.exit_code == 2
    assert "--shadow is for `warmline serve decisioning` only" in result.stderr
