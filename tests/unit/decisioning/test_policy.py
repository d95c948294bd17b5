"""Policy loading: validation errors name the field, tenant overrides, hot reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from warmline.decisioning.policy import DEFAULT_POLICY_PATH, PolicyError, deep_merge, parse_policy
from warmline.decisioning.policy_store import PolicyStore, ReloadStatus

from .support import DEFAULT, policy_with

BASE = DEFAULT_POLICY_PATH.read_text()
#: The shipped policy's version line, which these tests rewrite.
VERSION_LINE = f'version: "{DEFAULT.version}"'


def test_default_policy_loads() -> None:
    assert DEFAULT.version
    assert DEFAULT.defaults.routing.default_queue == "general"
    assert DEFAULT.for_tenant("nobody") is DEFAULT.defaults


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("ewma_alpha: 0.4", "ewma_alpha: lots", "thresholds.ewma_alpha"),
        ("streak_length: 2", "streak_length: -1", "thresholds.streak_length"),
        ("deescalate_below: 0.3", "deescalate_below: -0.2", "hysteresis.deescalate_below"),
        ("  bot_turns: 6", "  bot_turns: 6\n  bot_turn: 7", "thresholds.bot_turn"),
        ("shadow: false", "shadow: maybe", "shadow"),
        ("    safety: urgent", "    safety: panic", "priority.topics.safety"),
    ],
)
def test_invalid_values_name_the_field(old: str, new: str, field: str) -> None:
    assert old in BASE
    with pytest.raises(PolicyError) as caught:
        parse_policy(BASE.replace(old, new, 1), "p.yaml")
    assert f"p.yaml: {field}" in str(caught.value)


def test_unknown_reason_code_in_routing_is_rejected() -> None:
    bad = BASE.replace("    abuse: supervisor", "    abuse: supervisor\n    angry: supervisor")
    with pytest.raises(PolicyError, match=r"routing\.reasons: .*unknown reason code"):
        parse_policy(bad)


def test_opening_lines_must_not_state_facts() -> None:
    override = "\ntenants:\n  acme:\n    opening_lines:\n      default: Your refund of 20 pounds is on its way.\n"
    with pytest.raises(PolicyError, match=r"tenants\.acme\.opening_lines\.default: .*no digits"):
        policy_with(override)


def test_missing_version_and_bad_yaml_are_reported() -> None:
    with pytest.raises(PolicyError, match=r"^<policy>: version: Field required"):
        parse_policy(BASE.replace(VERSION_LINE, ""))
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse_policy("version: [unclosed")


def test_tenant_overrides_are_deep_merged() -> None:
    policy = policy_with(
        """
tenants:
  acme:
    shadow: true
    thresholds: {negativity_threshold: 0.7}
    routing: {reasons: {abuse: trust_and_safety}}
"""
    )
    acme = policy.for_tenant("acme")
    assert acme.shadow is True
    assert acme.thresholds.negativity_threshold == 0.7
    # Untouched siblings keep their defaults.
    assert acme.thresholds.streak_length == DEFAULT.defaults.thresholds.streak_length
    assert acme.routing.reasons == {
        **DEFAULT.defaults.routing.reasons,
        "abuse": "trust_and_safety",
    }
    assert acme.routing.topics == DEFAULT.defaults.routing.topics
    assert policy.for_tenant("globex").shadow is False


def test_bad_tenant_override_names_the_tenant_and_field() -> None:
    with pytest.raises(PolicyError, match=r"tenants\.acme\.thresholds\.peak_anger"):
        policy_with("\ntenants:\n  acme:\n    thresholds: {peak_anger: 2}\n")


def test_deep_merge_replaces_non_mappings() -> None:
    merged = deep_merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}})
    assert merged == {"a": {"b": 1, "c": [2]}, "d": 1}


def _write(path: Path, text: str, mtime_ns: int) -> None:
    path.write_text(text)
    # Explicit mtimes: two writes within one filesystem tick must still differ.
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_hot_reload_replaces_on_good_file_and_keeps_old_on_bad(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    _write(path, BASE, 1_000_000_000)
    store = PolicyStore.from_path(path)
    assert store.reload_if_changed().status is ReloadStatus.UNCHANGED

    _write(path, BASE.replace(VERSION_LINE, 'version: "v2"'), 2_000_000_000)
    result = store.reload_if_changed()
    assert result.status is ReloadStatus.RELOADED
    assert store.current.version == "v2"

    _write(
        path,
        BASE.replace(VERSION_LINE, 'version: "v3"').replace("ewma_alpha: 0.4", "ewma_alpha: 3"),
        3_000_000_000,
    )
    result = store.reload_if_changed()
    assert result.status is ReloadStatus.REJECTED
    assert result.error is not None and "thresholds.ewma_alpha" in result.error
    assert store.current.version == "v2"
    assert store.last_error == result.error
    # The bad file is not re-parsed until it changes again.
    assert store.reload_if_changed().status is ReloadStatus.UNCHANGED

    _write(path, BASE.replace(VERSION_LINE, 'version: "v4"'), 4_000_000_000)
    assert store.reload_if_changed().status is ReloadStatus.RELOADED
    assert store.current.version == "v4"
    assert store.last_error is None


def test_touch_without_change_is_not_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    _write(path, BASE, 1_000_000_000)
    store = PolicyStore.from_path(path)
    before = store.current
    os.utime(path, ns=(5_000_000_000, 5_000_000_000))
    assert store.reload_if_changed().status is ReloadStatus.UNCHANGED
    assert store.current is before


def test_missing_file_keeps_the_policy(tmp_path: Path) -> None:
    store = PolicyStore(DEFAULT)
    result = store.reload_if_changed(tmp_path / "gone.yaml")
    assert result.status is ReloadStatus.REJECTED
    assert store.current is DEFAULT
