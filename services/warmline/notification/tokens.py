"""Agent tokens: each is scoped to one tenant, one agent and a set of queues.

Stored as SHA-256 digests in a YAML file (a mounted Secret in Kubernetes)::

    agents:
      - token_sha256: "<hex digest of the token>"
        tenant: acme
        agent_id: alice
        queues: [billing, general]     # or ["*"]: every queue of the tenant

``warmline keys new-agent`` prints a new token and its entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from warmline.common.credentials import hash_key

ALL_QUEUES = "*"


class AgentTokensError(ValueError):
    """The agent tokens file is missing or malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class AgentScope:
    """What one token lets its holder see and do."""

    tenant_id: str
    agent_id: str
    queues: frozenset[str]

    def allows(self, queue: str) -> bool:
        """True when the agent may see escalations routed to ``queue``."""
        return ALL_QUEUES in self.queues or queue in self.queues

    def refused(self, queues: Iterable[str]) -> list[str]:
        """The queues of ``queues`` this scope does not cover."""
        return sorted(q for q in queues if not self.allows(q))


class AgentDirectory:
    """Looks up the scope of an agent token."""

    def __init__(self, scopes: dict[str, AgentScope]) -> None:
        self._by_digest = scopes

    @classmethod
    def from_file(cls, path: Path) -> AgentDirectory:
        """Load and validate a tokens file."""
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise AgentTokensError(f"cannot read agent tokens file {path}: {exc}") from exc
        return cls.from_mapping(raw, source=str(path))

    @classmethod
    def from_mapping(cls, raw: object, source: str = "<mapping>") -> AgentDirectory:
        """Build from the parsed YAML, with errors that name the bad entry."""
        if not isinstance(raw, dict) or not isinstance(raw.get("agents"), list):
            raise AgentTokensError(f"{source}: expected a top-level 'agents' list")
        scopes: dict[str, AgentScope] = {}
        for number, entry in enumerate(raw["agents"]):
            where = f"{source}: agents[{number}]"
            if not isinstance(entry, dict):
                raise AgentTokensError(f"{where}: expected a mapping")
            digest = entry.get("token_sha256")
            if not isinstance(digest, str) or len(digest) != 64:
                raise AgentTokensError(f"{where}.token_sha256: expected a hex SHA-256 digest")
            for field in ("tenant", "agent_id"):
                if not isinstance(entry.get(field), str) or not entry[field]:
                    raise AgentTokensError(f"{where}.{field}: expected a non-empty string")
            queues = entry.get("queues")
            if (
                not isinstance(queues, list)
                or not queues
                or not all(isinstance(q, str) and q for q in queues)
            ):
                raise AgentTokensError(f"{where}.queues: expected a non-empty list of queue names")
            if digest.lower() in scopes:
                raise AgentTokensError(f"{where}: the same token is listed twice")
            scopes[digest.lower()] = AgentScope(
                entry["tenant"], entry["agent_id"], frozenset(queues)
            )
        return cls(scopes)

    def scope_for(self, token: str | None) -> AgentScope | None:
        """The scope of ``token``, or None for a missing or unknown token.

        The lookup is by the token's digest, so timing reveals nothing about
        stored tokens.
        """
        return None if not token else self._by_digest.get(hash_key(token))
