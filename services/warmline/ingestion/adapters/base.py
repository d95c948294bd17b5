"""What a platform adapter is: a webhook payload in, interaction events out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from warmline.v1 import events_pb2


class WebhookRejected(Exception):
    """The webhook cannot be accepted; ``reason`` is a stable code for the caller."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class PlatformAdapter(Protocol):
    """Maps one platform's webhooks onto :class:`InteractionEvent`.

    The ingestion service routes ``POST /v1/webhooks/{name}/{tenant_id}`` here:
    it first calls :meth:`verify` with the tenant's webhook secret for this
    platform (from the API-key file), then :meth:`to_events`. The events then go
    through the same validation, redaction and de-duplication as any other.
    """

    #: URL segment and config key, e.g. "chatwoot".
    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Check the platform's signature or token; raise WebhookRejected("unauthenticated", ...)."""
        ...

    def to_events(self, payload: Mapping[str, Any]) -> list[events_pb2.InteractionEvent]:
        """Events described by a webhook payload; [] for webhook kinds Warmline ignores.

        Raises WebhookRejected("invalid_payload", ...) when required fields are missing.
        ``tenant_id`` and ``ingested_at`` are left empty: the service sets them.
        """
        ...
