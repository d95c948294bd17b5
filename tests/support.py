"""Helpers shared by tests: unique names and settings aimed at the test broker."""

from __future__ import annotations

import uuid

from warmline.common.settings import KafkaSettings, TopicSettings, WarmlineSettings


def unique(prefix: str) -> str:
    """A name no other test uses (topics, groups, tenants)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def settings_for(bootstrap: str, **sections: object) -> WarmlineSettings:
    """Settings pointing at ``bootstrap`` with topic names unique to the caller."""
    return WarmlineSettings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap, delivery_timeout_ms=10_000),
        topics=TopicSettings(prefix=unique("t") + ".", partitions=3),
        **sections,  # type: ignore[arg-type]
    )
