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
    """The token of an ``authorization: Bearer <token>`` header value.

    Tokens are printable ASCII; anything else (bytes that were not UTF-8 reach
    Python as lone surrogates) is no token, so the caller is refused as
    unauthenticated rather than failing while hashing it.
    """
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token if token.isascii() and token.isprintable() else None
