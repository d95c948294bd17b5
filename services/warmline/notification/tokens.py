"""Agent tokens: each is scoped to one tenant, one agent and a set of queues.

Stored as SHA-256 digests in a YAML file (a mounted Secret in Kubernetes)::

    agents:
      - token_sha256: "<hex digest of the token>"
        tenant: acme
        agent_id: alice
        queues: [billing, general]     # or ["*"]: every queue of the tenant
        supervisor: sam                # optional: the agent_id of their own supervisor

``warmline keys new-agent`` prints a new token and its entry. An agent's
``supervisor`` must be an agent of the same tenant in the file (not the agent),
the same on each of the agent's entries; it decides who an overload alert names
the agent to and who a practice share goes to. An agent without one is named to
no one, and shares with the supervisors of the queues practised.
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
    #: The agent_id of the agent's own supervisor; None when the file names none.
    supervisor: str | None = None

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
        self._supervisors = {
            (s.tenant_id, s.agent_id): s.supervisor for s in scopes.values() if s.supervisor
        }
        self._supervising = {(tenant, s) for (tenant, _), s in self._supervisors.items()}

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
            supervisor = entry.get("supervisor")
            if supervisor is not None and (not isinstance(supervisor, str) or not supervisor):
                raise AgentTokensError(
                    f"{where}.supervisor: expected the agent_id of the agent's own supervisor"
                )
            if digest.lower() in scopes:
                raise AgentTokensError(f"{where}: the same token is listed twice")
            scopes[digest.lower()] = AgentScope(
                entry["tenant"], entry["agent_id"], frozenset(queues), supervisor
            )
        _check_supervisors(list(scopes.values()), source)
        return cls(scopes)

    def supervisor_of(self, tenant_id: str, agent_id: str) -> str | None:
        """The agent_id of the agent's own supervisor, or None when the file names none."""
        return self._supervisors.get((tenant_id, agent_id))

    def supervises(self, tenant_id: str, agent_id: str) -> bool:
        """True when some agent of the tenant names ``agent_id`` as their supervisor."""
        return (tenant_id, agent_id) in self._supervising

    def scope_for(self, token: str | None) -> AgentScope | None:
        """The scope of ``token``, or None for a missing or unknown token.

        The lookup is by the token's digest, so timing reveals nothing about
        stored tokens.
        """
        return None if not token else self._by_digest.get(hash_key(token))


def _check_supervisors(scopes: list[AgentScope], source: str) -> None:
    """Each named supervisor is another agent of the same tenant in the file, and an
    agent with several tokens names the same one on each (entries in file order)."""
    agents = {(s.tenant_id, s.agent_id) for s in scopes}
    named: dict[tuple[str, str], str | None] = {}
    for number, scope in enumerate(scopes):
        where = f"{source}: agents[{number}].supervisor"
        agent = (scope.tenant_id, scope.agent_id)
        if scope.supervisor == scope.agent_id:
            raise AgentTokensError(f"{where}: {scope.agent_id!r} cannot supervise themselves")
        if scope.supervisor and (scope.tenant_id, scope.supervisor) not in agents:
            raise AgentTokensError(
                f"{where}: {scope.supervisor!r} is not an agent of tenant "
                f"{scope.tenant_id!r} in this file"
            )
        if agent in named and named[agent] != scope.supervisor:
            raise AgentTokensError(
                f"{where}: {scope.agent_id!r} has another entry naming supervisor "
                f"{named[agent]!r}; give each of an agent's entries the same supervisor"
            )
        named[agent] = scope.supervisor
