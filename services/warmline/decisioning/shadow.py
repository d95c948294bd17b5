"""Shadow policies: proposed tenant overrides decided next to the live policy.

A shadow worker (``warmline serve decisioning --shadow``) reads the same scored
topic as the live one, with the live policy file and, over it, every proposed
override in ``DECISIONING__SHADOW_POLICY_DIR`` (``<tenant>.yaml``, the shape
``warmline policy tune`` writes: ``tenants: {T: ...}``). It decides only for the
tenants those files name; their decisions are flagged ``shadow`` and go to the
shadow-escalations topic, which the record keeps and no console reads.

The shadow policy's version is the live one's with ``+shadow.<digest>`` of the
overrides, so a shadow decision never shares an id with a live one, and
``warmline policy compare`` can tell one proposal's decisions from another's.
The override files stay exactly what a person would copy into the live policy
(no ``shadow`` key in them): the worker marks its decisions itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import yaml

from warmline.decisioning.policy import Policy, PolicyError, deep_merge, parse_policy
from warmline.decisioning.policy_store import PolicyStore, ReloadResult, ReloadStatus

#: What marks a shadow policy's version.
VERSION_MARK = "+shadow."


def override_path(shadow_dir: Path, tenant: str) -> Path:
    """Where the proposed override of ``tenant`` waits for the shadow worker."""
    if not tenant or "/" in tenant or tenant.startswith("."):
        raise PolicyError(f"tenant {tenant!r} cannot name a shadow policy file")
    return shadow_dir / f"{tenant}.yaml"


def write_override(shadow_dir: Path, tenant: str, text: str) -> Path:
    """Put ``tenant``'s proposed override where the shadow worker loads it, whole
    (written aside, then renamed: a worker never reads half a file); its path."""
    path = override_path(shadow_dir, tenant)
    shadow_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path


def read_overrides(shadow_dir: Path) -> dict[str, str]:
    """The override files of ``shadow_dir`` by name (none when it does not exist)."""
    if not shadow_dir.is_dir():
        return {}
    return {
        path.name: path.read_text(encoding="utf-8") for path in sorted(shadow_dir.glob("*.yaml"))
    }


def shadow_policy(live_text: str, live_source: str, overrides: Mapping[str, str]) -> Policy:
    """The live policy with each override's tenants replaced by the proposed entry,
    marked ``shadow``, deciding for those tenants only; raises :class:`PolicyError`
    naming the file at fault."""
    raw = yaml.safe_load(live_text) or {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{live_source}: the top level must be a mapping")
    tenants = dict(raw.get("tenants") or {})
    named_by: dict[str, str] = {}
    digest = hashlib.sha256(live_text.encode())
    for name, text in overrides.items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        for tenant, entry in _override_tenants(name, text).items():
            if tenant in named_by:
                raise PolicyError(
                    f"{name}: tenant {tenant} is already shadowed by {named_by[tenant]}"
                )
            named_by[tenant] = name
            tenants[tenant] = deep_merge(entry, {"shadow": True})
    version = str(raw.get("version", ""))
    raw["version"] = f"{version}{VERSION_MARK}{digest.hexdigest()[:8]}"
    raw["tenants"] = tenants
    source = f"{live_source} + shadow overrides {sorted(overrides)}"
    policy = parse_policy(yaml.safe_dump(raw, sort_keys=False), source)
    policy.only_tenants = frozenset(named_by)
    return policy


def _override_tenants(name: str, text: str) -> dict[str, dict[str, object]]:
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{name}: not valid YAML: {exc}") from exc
    tenants = raw.get("tenants") if isinstance(raw, dict) else None
    if not isinstance(tenants, dict) or not tenants:
        raise PolicyError(f"{name}: expected `tenants:` with one tenant's override")
    return {str(t): dict(entry or {}) for t, entry in tenants.items()}


class ShadowPolicyStore(PolicyStore):
    """The shadow policy in force; re-read when the live file or an override changes."""

    def __init__(self, live_path: Path, shadow_dir: Path) -> None:
        self._live_path = live_path
        self._shadow_dir = shadow_dir
        self._inputs = self._read()
        super().__init__(shadow_policy(*self._inputs))

    def _read(self) -> tuple[str, str, dict[str, str]]:
        live = self._live_path.read_text(encoding="utf-8")
        return live, str(self._live_path), read_overrides(self._shadow_dir)

    def reload_if_changed(self, path: Path | None = None) -> ReloadResult:
        """Swap in the shadow policy when an input changed; a bad one is rejected."""
        try:
            inputs = self._read()
        except (OSError, UnicodeDecodeError) as exc:
            return self._reject(f"{self._shadow_dir}: cannot read: {exc}")
        if inputs == self._inputs:
            return ReloadResult(ReloadStatus.UNCHANGED, self.current.version)
        self._inputs = inputs
        try:
            policy = shadow_policy(*inputs)
        except PolicyError as exc:
            return self._reject(str(exc))
        self.current = policy
        self.last_error = None
        return ReloadResult(ReloadStatus.RELOADED, policy.version)
