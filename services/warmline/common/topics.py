"""Topic declarations: partitions, retention and cleanup policy, in code.

Every service calls :func:`ensure_topics` at start-up, so a fresh cluster needs
no manual set-up; existing topics are left as they are.
"""

from __future__ import annotations

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
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()
