"""Record keys: every topic is keyed by ``tenant_id/conversation_id``.

One conversation therefore lives on one partition through the whole pipeline,
which is what keeps its events in order.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from aiokafka.partitioner import murmur2

#: Keys whose partition is remembered (one per live conversation is plenty).
_PARTITION_CACHE_SIZE = 200_000


def conversation_key(tenant_id: str, conversation_id: str) -> bytes:
    """The Kafka key of a conversation's records."""
    return f"{tenant_id}/{conversation_id}".encode()


@lru_cache(maxsize=_PARTITION_CACHE_SIZE)
def key_partition(key: bytes, partitions: int) -> int:
    """The partition of ``key`` among ``partitions``, as Kafka's default partitioner
    places it (murmur2, like the Java client and aiokafka's ``send``).

    Cached: murmur2 in pure Python costs more than the rest of a send, and the
    keys repeat, one per conversation.
    """
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def derived_id(*parts: str) -> str:
    """A stable id derived from its causes, so a replay reproduces it exactly."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:32]
