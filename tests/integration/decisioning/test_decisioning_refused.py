"""A decision the brokers refuse is never committed past: the worker stops, and its restart decides again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.integration.decisioning.test_decisioning_failure import (
    committed,
    crash_of,
    watch_for_crash,
)
from tests.integration.decisioning.test_decisioning_stream import (
    Hosted,
    decisioning_settings,
    decisions,
    publish,
    scored,
)
from tests.support import read_topic
from warmline.common.kafka import admin_client
from warmline.common.settings import WarmlineSettings
from warmline.common.topics import TopicSpec, declared_topics, ensure_topics
from warmline.decisioning.faust_runtime.deliveries import DeliveryError
from warmline.localkafka import LocalKafka
from warmline.v1 import escalation_pb2

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_a_refused_decision_stops_the_worker_uncommitted_and_its_restart_decides_again(
    kafka_broker: LocalKafka, tmp_path: Path, store: str
) -> None:
    settings = decisioning_settings(kafka_broker.bootstrap_servers, tmp_path / "data")
    # With the local database the restart below reads its states from there.
    d = settings.decisioning.model_copy(update={"store": store})
    settings = settings.model_copy(update={"decisioning": d})
    # Escalations larger than 200 bytes are refused (MessageSizeTooLargeError);
    # every decision is, and nothing else the worker writes goes there.
    escalations = settings.topics.name("escalations")
    specs = [
        TopicSpec(s.name, s.partitions, s.replication_factor, {**s.config, "max.message.bytes": "200"})
        if s.name == escalations
        else s
        for s in declared_topics(settings)
    ]  # fmt: skip
    await ensure_topics(settings, specs)
    hosted = Hosted(settings)
    try:
        crashed = watch_for_crash(hosted)
        await publish(settings, [scored("calm-1", "refused", "where is my parcel?", 0.1)])
        before: dict[int, int] = {}
        for _ in range(120):  # up to a minute; faust commits every few seconds
            if before := await committed(settings):
                break
            await asyncio.sleep(0.5)
        assert sum(before.values()) == 1, "the calm event's offset is committed"

        await publish(settings, [scored("ask-2", "refused", "let me talk to a human", 0.2)])
        outcome = await crash_of(hosted, crashed)
        assert isinstance(outcome, DeliveryError)
        assert "MessageSizeTooLarge" in str(outcome)
    finally:
        hosted.stop()
    # Stopping commits what was acknowledged: still nothing past the refused decision,
    # so a restarted worker decides on that event again.
    assert await committed(settings) == before

    # Once the topic takes decisions again, the restarted worker (same group, its
    # state restored from the changelog or the local database) escalates the request that was lost: the
    # state that remembered the event as handled never reached the changelog.
    await allow_large_decisions(settings, escalations)
    restarted = Hosted(settings)
    try:
        records = await read_topic(settings.kafka.bootstrap_servers, escalations, 1, within_s=60)
    finally:
        restarted.stop()
    [decision] = decisions(records)
    assert decision.trigger_event_id == "ask-2"
    assert decision.action == escalation_pb2.DECISION_ACTION_ESCALATE


async def allow_large_decisions(settings: WarmlineSettings, escalations: str) -> None:
    """Give the escalations topic its declared configuration back."""
    [spec] = [s for s in declared_topics(settings) if s.name == escalations]
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, escalations, configs=dict(spec.config))]
        )
    finally:
        await admin.close()
