"""Zendesk messaging webhooks: Sunshine Conversations and Zendesk webhook events.

Two ways to send Zendesk messaging to ``/v1/webhooks/zendesk/{tenant_id}``, both
accepted here:

1. A conversations integration (Admin Center > Apps and integrations >
   Conversations integrations, formerly Sunshine Conversations webhooks)
   subscribed to the ``conversation:message`` trigger. Zendesk names the
   trigger that, not "message_added". Mapped by :mod:`._sunshine`.
2. A Zendesk webhook subscribed to the event
   ``zen:event-type:messaging_ticket.message_added``. Mapped by
   :mod:`._zendesk_events`.

Verification, by the headers present:

* ``X-Zendesk-Webhook-Signature`` (Zendesk webhooks): base64 of the HMAC-SHA256
  of ``X-Zendesk-Webhook-Signature-Timestamp`` + raw body, keyed with the
  webhook's signing secret; the timestamp is ISO 8601 ("2021-03-25T05:09:27Z")
  and must be within five minutes, which Zendesk gives as the signatures'
  replay protection. Sources:
  https://developer.zendesk.com/documentation/webhooks/verifying/ and
  https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request
* ``X-API-Key`` (conversations integrations): Sunshine Conversations signs
  nothing; it sends the webhook's ``secret`` verbatim in this header, so it is
  compared in constant time. Source: the webhook ``secret`` field, "used to
  verify the origin of incoming requests", in the Conversations API reference
  (https://developer.zendesk.com/api-reference/conversations/#tag/Webhooks) and
  the Sunshine Conversations webhook guide (https://docs.smooch.io/guide/webhooks/).

When both are present the signature is checked, being the stronger proof. The
tenant's ``webhook_secrets.zendesk`` is the one secret for whichever kind the
tenant configured.

Roles: an end user is the customer; a business message is a bot when its
author ``subtypes`` include "AI" (Zendesk's documented marker for AI-generated
replies) or it comes from Zendesk's bot integration, system activity when
``subtypes`` include "activity", and an agent otherwise. Only text content is
mapped; images, files, carousels and forms are ignored.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from typing import Any

from warmline.ingestion.adapters import _payload as p
from warmline.ingestion.adapters import _sunshine, _zendesk_events
from warmline.ingestion.adapters.base import WebhookRejected
from warmline.v1 import events_pb2

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
SIGNATURE_TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
API_KEY_HEADER = "X-API-Key"
_EVENT_TYPE_PREFIX = "zen:event-type:"


class ZendeskAdapter:
    """Verifies and maps Zendesk messaging webhooks of either kind."""

    def __init__(
        self,
        name: str = "zendesk",
        tolerance_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._tolerance_s = tolerance_s
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Check the Zendesk signature when present, else the Sunshine ``X-API-Key``."""
        if not secret:
            p.unauthenticated("no Zendesk webhook secret is configured for this tenant")
        signature = p.header(headers, SIGNATURE_HEADER)
        if signature is not None:
            self._verify_signature(headers, body, secret, signature)
            return
        api_key = p.header(headers, API_KEY_HEADER)
        if api_key is None:
            p.unauthenticated(f"{SIGNATURE_HEADER} or {API_KEY_HEADER} is required")
        if not p.same_secret(api_key, secret):
            p.unauthenticated(f"{API_KEY_HEADER} is not this tenant's webhook secret")

    def _verify_signature(
        self, headers: Mapping[str, str], body: bytes, secret: str, signature: str
    ) -> None:
        stamp = p.header(headers, SIGNATURE_TIMESTAMP_HEADER)
        if stamp is None:
            p.unauthenticated(f"{SIGNATURE_TIMESTAMP_HEADER} is required with {SIGNATURE_HEADER}")
        try:
            signed_at = p.parse_datetime(stamp, SIGNATURE_TIMESTAMP_HEADER).timestamp()
        except WebhookRejected:
            p.unauthenticated(f"{SIGNATURE_TIMESTAMP_HEADER} is not a timestamp")
        if abs(self._clock() - signed_at) > self._tolerance_s:
            p.unauthenticated(
                f"{SIGNATURE_TIMESTAMP_HEADER} is outside the {self._tolerance_s:.0f}s window"
            )
        # The header value is signed exactly as sent, so it is not normalised first.
        digest = p.hmac_sha256(secret, stamp.encode("utf-8", "replace") + body)
        if not p.same_secret(signature.strip(), base64.b64encode(digest).decode("ascii")):
            p.unauthenticated(f"{SIGNATURE_HEADER} does not match the body")

    def to_events(self, payload: Mapping[str, Any]) -> list[events_pb2.InteractionEvent]:
        """Message events of either webhook kind; [] for triggers and event types not mapped."""
        if not isinstance(payload, Mapping):
            p.reject("body: expected a JSON object")
        if "events" in payload:
            return _sunshine.events(payload)
        kind = payload.get("type")
        if isinstance(kind, str) and kind.startswith(_EVENT_TYPE_PREFIX):
            return _zendesk_events.events(payload)
        p.reject(
            "body: neither a conversations integration webhook (events[]) "
            f"nor a Zendesk webhook event (type {_EVENT_TYPE_PREFIX}*)"
        )
