"""Hot reload: hold the current policy and swap it when its file changes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from warmline.decisioning.policy import Policy, PolicyError, parse_policy


class ReloadStatus(StrEnum):
    """What a reload attempt did."""

    UNCHANGED = "unchanged"
    RELOADED = "reloaded"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ReloadResult:
    """The outcome of :meth:`PolicyStore.reload_if_changed`."""

    status: ReloadStatus
    version: str
    error: str | None = None


class PolicyStore:
    """The policy in force; a bad new file is reported and the old policy kept."""

    def __init__(self, policy: Policy, path: Path | None = None) -> None:
        self.current = policy
        self.last_error: str | None = None
        self._path = path
        self._mtime_ns = -1
        self._digest = ""
        if path is not None:
            self._mtime_ns, self._digest = _fingerprint(path)

    @classmethod
    def from_path(cls, path: Path) -> PolicyStore:
        """Load ``path`` now; raises :class:`PolicyError` when it is invalid."""
        return cls(parse_policy(path.read_text(encoding="utf-8"), str(path)), path)

    def reload_if_changed(self, path: Path | None = None) -> ReloadResult:
        """Re-read the policy file when its modification time or content changed."""
        path = path or self._path
        if path is None:
            raise ValueError("no policy path to reload from")
        try:
            mtime_ns = path.stat().st_mtime_ns
            if path == self._path and mtime_ns == self._mtime_ns:
                return ReloadResult(ReloadStatus.UNCHANGED, self.current.version)
            data = path.read_bytes()
        except OSError as exc:
            return self._reject(f"{path}: cannot read: {exc}")
        digest = hashlib.sha256(data).hexdigest()
        # A touch without a content change, or a rewrite with the same bytes, is no reload.
        changed = path != self._path or digest != self._digest
        self._path, self._mtime_ns, self._digest = path, mtime_ns, digest
        if not changed:
            return ReloadResult(ReloadStatus.UNCHANGED, self.current.version)
        try:
            policy = parse_policy(data.decode("utf-8"), str(path))
        except (PolicyError, UnicodeDecodeError) as exc:
            return self._reject(str(exc))
        self.current = policy
        self.last_error = None
        return ReloadResult(ReloadStatus.RELOADED, policy.version)

    def _reject(self, error: str) -> ReloadResult:
        self.last_error = error
        return ReloadResult(ReloadStatus.REJECTED, self.current.version, error)


def _fingerprint(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()
