"""Helpers for the adapter tests: fixture loading and request signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"


def fixture_path(platform: str, name: str) -> Path:
    """Where a stored webhook body lives."""
    return FIXTURES / platform / f"{name}.json"


def raw(platform: str, name: str) -> bytes:
    """A stored webhook body exactly as it would arrive on the wire."""
    return fixture_path(platform, name).read_bytes()


def load(platform: str, name: str) -> dict[str, Any]:
    """A fresh, mutable copy of a stored webhook body."""
    loaded: dict[str, Any] = json.loads(raw(platform, name))
    return loaded


def utc(text: str) -> Timestamp:
    """The protobuf Timestamp of an ISO 8601 UTC time, for comparisons."""
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None))
    return stamp


def chatwoot_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers Chatwoot sends with a signed delivery."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {
        "X-Chatwoot-Timestamp": str(timestamp),
        "X-Chatwoot-Signature": f"sha256={digest}",
        "X-Chatwoot-Delivery": "5d0f7a64-2b1e-4c57-9a3e-8f6c1d2b9e70",
    }


def zendesk_signature_headers(secret: str, body: bytes, timestamp: str) -> dict[str, str]:
    """Headers a Zendesk webhook sends with a signed request."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Id": "01HRZ3V5G7K9M2N4P6Q8S0T1UW",
    }
