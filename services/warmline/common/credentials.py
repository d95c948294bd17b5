"""Secrets as every service stores and receives them.

Keys and tokens are stored as SHA-256 digests, never in the clear, and arrive
as ``authorization: Bearer <token>`` (gRPC metadata or an HTTP header).
"""

from __future__ import annotations

import hashlib


def hash_key(secret: str) -> str:
    """The stored form of an API key or agent token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_token(value: str | None) -> str | None:
    """The token of an ``authorization: Bearer <token>`` header value."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
