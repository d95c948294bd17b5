"""Tenants and their credentials: hashed API keys, webhook secrets.

The tenant of every event comes from here, never from the payload. API keys are
stored as SHA-256 hashes and compared in constant time. Ingestion's doors and
the scoring service's ``Score`` read the same file, YAML::

    tenants:
      acme:
        api_key_sha256: ["<hex digest of the key>", ...]   # several: rotation
        webhook_secrets: {chatwoot: "<secret>", zendesk: "<secret>"}

``warmline keys new`` prints a new key and its digest.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import yaml
from prometheus_client import Counter

from warmline.common.credentials import bearer_token, hash_key

#: What a gRPC caller without a valid key is told.
MISSING_KEY_GRPC = "missing or unknown API key (metadata 'authorization: Bearer <key>')"


class CredentialsError(ValueError):
    """The credentials file is missing or malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """One tenant's credentials."""

    tenant_id: str
    key_hashes: tuple[str, ...]
    webhook_secrets: dict[str, str] = field(default_factory=dict)


class TenantDirectory:
    """Looks up the tenant an API key or webhook secret belongs to."""

    def __init__(self, tenants: list[Tenant]) -> None:
        self._tenants = {t.tenant_id: t for t in tenants}
        self._hashes = [(h.encode(), t.tenant_id) for t in tenants for h in t.key_hashes]

    @classmethod
    def from_file(cls, path: Path) -> TenantDirectory:
        """Load and validate a credentials file."""
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise CredentialsError(f"cannot read credentials file {path}: {exc}") from exc
        return cls.from_mapping(raw, source=str(path))

    @classmethod
    def from_mapping(cls, raw: object, source: str = "<mapping>") -> TenantDirectory:
        """Build from the parsed YAML structure, with errors that name the bad entry."""
        if not isinstance(raw, dict) or not isinstance(raw.get("tenants"), dict):
            raise CredentialsError(f"{source}: expected a top-level 'tenants' mapping")
        tenants = []
        for tenant_id, entry in raw["tenants"].items():
            where = f"{source}: tenants.{tenant_id}"
            if not isinstance(entry, dict):
                raise CredentialsError(f"{where}: expected a mapping")
            hashes = entry.get("api_key_sha256", [])
            if not isinstance(hashes, list) or not all(
                isinstance(h, str) and len(h) == 64 for h in hashes
            ):
                raise CredentialsError(f"{where}.api_key_sha256: expected hex SHA-256 digests")
            secrets = entry.get("webhook_secrets", {})
            if not isinstance(secrets, dict) or not all(
                isinstance(v, str) and v for v in secrets.values()
            ):
                raise CredentialsError(f"{where}.webhook_secrets: expected platform: secret")
            tenants.append(Tenant(str(tenant_id), tuple(h.lower() for h in hashes), secrets))
        return cls(tenants)

    def tenant_for_key(self, api_key: str) -> str | None:
        """The tenant owning ``api_key``, or None. Every stored hash is compared."""
        digest = hash_key(api_key).encode()
        found: str | None = None
        for stored, tenant_id in self._hashes:
            # No early exit: the time taken does not reveal which entry matched.
            if hmac.compare_digest(digest, stored):
                found = tenant_id
        return found

    def webhook_secret(self, tenant_id: str, platform: str) -> str | None:
        """The tenant's secret for a platform's webhooks, or None when not configured."""
        tenant = self._tenants.get(tenant_id)
        return None if tenant is None else tenant.webhook_secrets.get(platform)


async def require_tenant(
    context: grpc.aio.ServicerContext, tenants: TenantDirectory, failures: Counter
) -> str:
    """The tenant whose API key the gRPC call carries (``authorization: Bearer <key>``);
    otherwise ``failures`` is counted and the call ends UNAUTHENTICATED."""
    metadata = dict(context.invocation_metadata() or ())
    token = bearer_token(metadata.get("authorization"))
    tenant = tenants.tenant_for_key(token) if token else None
    if tenant is None:
        failures.inc()
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, MISSING_KEY_GRPC)
    assert tenant is not None
    return tenant
