"""Record keys: every topic is keyed by ``tenant_id/conversation_id``.

One conversation therefore lives on one partition through the whole pipeline,
which is what keeps its events in order.
"""

from __future__ import annotations

import hashlib


def conversation_key(tenant_id: str, conversation_id: str) -> bytes:
    """The Kafka key of a conversation's records."""
    return f"{tenant_id}/{conversation_id}".encode()


def derived_id(*parts: str) -> str:
    """A stable id derived from its causes, so a replay reproduces it exactly."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:32]
