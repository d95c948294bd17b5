"""Topic declarations: partitions, replication, retention and cleanup policy, in code.

Every service calls :func:`ensure_topics` at start-up, so a fresh cluster needs
no manual set-up; existing topics are left as they are. With topic creation
switched off (``WARMLINE_TOPICS__CREATE=false``) the same call only checks that
the topics exist, and a missing one keeps the service waiting, NOT_SERVING,
with one error line naming it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from warmline.common.kafka import ClusterSetupError, admin_client
from warmline.common.settings import WarmlineSettings

log = logging.getLogger(__name__)

_HOUR_MS = 3_600_000
_TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code
#: What to check when the cluster refuses a creation, by Kafka protocol error code.
_REFUSALS = {
    29: "not authorised to create topics: grant the principal CREATE, or create the "
    "topics beforehand and set WARMLINE_TOPICS__CREATE=false",
    31: "not authorised to create topics: grant the principal CREATE, or create the "
    "topics beforehand and set WARMLINE_TOPICS__CREATE=false",
    38: "fewer brokers than WARMLINE_TOPICS__REPLICATION_FACTOR",
    40: "check WARMLINE_TOPICS__MIN_INSYNC_REPLICAS and the retention settings",
    44: "the cluster's topic policy refused it: check WARMLINE_TOPICS__PARTITIONS, "
    "__REPLICATION_FACTOR and __MIN_INSYNC_REPLICAS, or create the topics beforehand "
    "and set WARMLINE_TOPICS__CREATE=false",
}


class TopicCreationError(ClusterSetupError):
    """The cluster refused to create a declared topic."""


class MissingTopicsError(ClusterSetupError):
    """Topic creation is off and a topic the service needs does not exist."""


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
    insync = {"min.insync.replicas": str(t.min_insync_replicas)}
    events = {
        "cleanup.policy": "delete",
        "retention.ms": str(t.retention_hours * _HOUR_MS),
        **insync,
    }
    return [
        TopicSpec(t.name("interactions"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("scored"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("escalations"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("feedback"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("agent_actions"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("overload_alerts"), t.partitions, t.replication_factor, events),
        TopicSpec(t.name("shadow_escalations"), t.partitions, t.replication_factor, events),
        TopicSpec(
            t.name("deadletter"),
            t.partitions,
            t.replication_factor,
            {
                "cleanup.policy": "delete",
                "retention.ms": str(t.deadletter_retention_hours * _HOUR_MS),
                **insync,
            },
        ),
    ]


async def ensure_topics(
    settings: WarmlineSettings,
    specs: list[TopicSpec] | None = None,
    *,
    created_elsewhere: Sequence[str] = (),
) -> list[str]:
    """Create the declared topics that do not exist yet; return the names created.

    With ``settings.topics.create`` off nothing is created: the declared topics
    and ``created_elsewhere`` (topics faust declares for its tables) must exist,
    else :class:`MissingTopicsError` names them.
    """
    specs = declared_topics(settings) if specs is None else specs
    admin: AIOKafkaAdminClient = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if not settings.topics.create:
            needed = [*(s.name for s in specs), *created_elsewhere]
            if absent := [name for name in needed if name not in existing]:
                raise MissingTopicsError(
                    "topic creation is off (WARMLINE_TOPICS__CREATE=false) and these topics "
                    f"do not exist: {', '.join(absent)}; create them or turn creation on"
                )
            return []
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        await _warn_if_under_replicated(admin, settings)
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
                hint = _REFUSALS.get(code, "")
                raise TopicCreationError(
                    f"could not create topic {name!r}: error {code} {message}"
                    + (f": {hint}" if hint else "")
                )
        await _wait_until_visible(admin, [s for s in missing if s.name in created])
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def _warn_if_under_replicated(admin: AIOKafkaAdminClient, settings: WarmlineSettings) -> None:
    """A cluster of several brokers given topics with one replica is a forgotten
    setting (its default suits one local broker): say so before creating them."""
    replicas = settings.topics.replication_factor
    brokers = len((await admin.describe_cluster()).get("brokers", []))
    if replicas < min(brokers, 3):
        log.warning(
            "creating topics with fewer replicas than the cluster could keep: "
            "set WARMLINE_TOPICS__REPLICATION_FACTOR (3) and __MIN_INSYNC_REPLICAS (2)",
            extra={"replication_factor": replicas, "brokers": brokers},
        )


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
