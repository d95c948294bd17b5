"""Topic declarations: partitions, retention and cleanup policy, in code.

Every service calls :func:`ensure_topics` at start-up, so a fresh cluster needs
no manual set-up; existing topics are left as they are.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from warmline.common.kafka import admin_client
from warmline.common.settings import WarmlineSettings

log = logging.getLogger(__name__)

_HOUR_MS = 3_600_000
_TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


class TopicCreationError(RuntimeError):
    """The cluster refused to create a declared topic."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How one topic is created when it is missing."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


def declared_topics(settings: WarmlineSettings) -> list[TopicSpec]:
    """The topics of the pipeline, named and shaped by the settings."""
    t = settings.topics
    events = {"cleanup.policy": "delete", "retention.ms": str(t.retention_hours * _HOUR_MS)}
    return [
        TopicSpec(t.name("interactions"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("scored"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("escalations"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("feedback"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("agent_actions"), t.partitions, t.replication_factor, events),
        TopicSpec(
            t.name("deadletter"),
            t.partitions,
            t.replication_factor,
            {
                "cleanup.policy": "delete",
                "retention.ms": str(t.deadletter_retention_hours * _HOUR_MS),
            },
        ),
    ]


async def ensure_topics(
    settings: WarmlineSettings, specs: list[TopicSpec] | None = None
) -> list[str]:
    """Create the declared topics that do not exist yet; return the names created."""
    specs = declared_topics(settings) if specs is None else specs
    admin: AIOKafkaAdminClient = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.config)
                for s in missing
            ]
        )
        created: list[str] = []
        for name, code, *message in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:  # another replica may have won the race
                raise TopicCreationError(f"could not create topic {name!r}: error {code} {message}")
        await _wait_until_visible(admin, [s for s in missing if s.name in created])
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def _wait_until_visible(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], timeout_s: float = 15.0
) -> None:
    """Return once every new topic shows all its partitions in the metadata.

    The controller acknowledges a creation before every broker serves it; a
    producer or consumer started in that gap would see an unknown topic.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    pending = {s.name: s.partitions for s in specs}
    while pending:
        described = await admin.describe_topics(list(pending))
        for topic in described:
            if topic["error_code"] == 0 and len(topic["partitions"]) == pending.get(topic["topic"]):
                pending.pop(topic["topic"], None)
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TopicCreationError(f"topics not visible after {timeout_s}s: {sorted(pending)}")
        await asyncio.sleep(0.1)


async def partition_counts(settings: WarmlineSettings, names: list[str]) -> dict[str, int]:
    """How many partitions each named topic has (as the cluster reports it now)."""
    admin: AIOKafkaAdminClient = admin_client(settings)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    counts = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    if missing := sorted(set(names) - set(counts)):
        raise TopicCreationError(f"topics not found: {missing}")
    return counts
