"""Topics as production clusters want them (#18 item 8), on the real broker: replication
and min.insync.replicas on every created topic, creation switched off (checked instead,
waited out NOT_SERVING), refusals that name the setting, compressed producers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.support import read_topic, settings_for
from warmline.common.kafka import admin_client, create_producer, start_when_reachable
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import WarmlineSettings
from warmline.common.topics import (
    MissingTopicsError,
    TopicCreationError,
    declared_topics,
    ensure_topics,
)
from warmline.decisioning.app import faust_topics
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration

# Kafka's DescribeConfigs config_source for a value set on the topic itself.
_TOPIC_CONFIG = 1


def with_topics(settings: WarmlineSettings, **changes: Any) -> WarmlineSettings:
    return settings.model_copy(update={"topics": settings.topics.model_copy(update=changes)})


async def topic_config(settings: WarmlineSettings, topic: str) -> dict[str, tuple[str, int]]:
    """The topic's config: name -> (value, source)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [resource] = response.to_object()["resources"]
    return {
        e["config_names"]: (e["config_value"], e["config_source"])
        for e in resource["config_entries"]
    }


async def test_created_topics_carry_min_insync_replicas_as_their_own_config(
    settings: WarmlineSettings,
) -> None:
    await ensure_topics(settings)
    for spec in declared_topics(settings):
        config = await topic_config(settings, spec.name)
        # Set on the topic, not inherited from the broker (whose default is also 1 here).
        assert config["min.insync.replicas"] == ("1", _TOPIC_CONFIG), spec.name


async def test_with_creation_off_a_missing_topic_is_named_with_the_setting(
    settings: WarmlineSettings,
) -> None:
    off = with_topics(settings, create=False)
    with pytest.raises(MissingTopicsError) as missing:
        await ensure_topics(off)
    message = str(missing.value)
    assert "WARMLINE_TOPICS__CREATE=false" in message
    assert all(spec.name in message for spec in declared_topics(settings))
    admin = admin_client(settings)
    await admin.start()
    try:
        assert not set(await admin.list_topics()) & {s.name for s in declared_topics(settings)}
    finally:
        await admin.close()

    await ensure_topics(settings)  # created by whoever owns them
    assert await ensure_topics(off) == []
    # The decisioning worker also needs the topics faust would have declared.
    with pytest.raises(MissingTopicsError) as faust_missing:
        await ensure_topics(off, created_elsewhere=faust_topics(settings))
    assert "-conversations-changelog" in str(faust_missing.value)
    assert settings.topics.name("scored") not in str(faust_missing.value)


async def test_a_service_waits_not_serving_for_a_missing_topic_and_starts_once_it_exists(
    settings: WarmlineSettings, caplog: pytest.LogCaptureFixture
) -> None:
    off = with_topics(settings, create=False)
    caplog.set_level(logging.ERROR, logger="warmline.common.kafka")
    stop = asyncio.Event()
    starting = asyncio.create_task(start_when_reachable(lambda: ensure_topics(off), "test", stop))
    await asyncio.sleep(2.0)
    assert not starting.done()  # retrying, not crashed
    await ensure_topics(settings)
    assert await asyncio.wait_for(starting, 15) is True
    lines = [r.getMessage() for r in caplog.records if r.name == "warmline.common.kafka"]
    assert len(lines) == 1, lines  # one line, not one per retry
    assert (
        "WARMLINE_TOPICS__CREATE" in lines[0] and settings.topics.name("interactions") in lines[0]
    )


async def test_more_replicas_than_brokers_is_refused_naming_the_setting(
    kafka_broker: LocalKafka,
) -> None:
    settings = settings_for(kafka_broker.bootstrap_servers)
    three = with_topics(settings, replication_factor=3, min_insync_replicas=2)
    with pytest.raises(TopicCreationError, match="WARMLINE_TOPICS__REPLICATION_FACTOR"):
        await ensure_topics(three)


async def test_a_gzip_producer_writes_records_consumers_read_back(
    kafka_broker: LocalKafka,
) -> None:
    settings = settings_for(kafka_broker.bootstrap_servers)
    gzip = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"compression_type": "gzip"})}
    )
    await ensure_topics(gzip)
    topic = gzip.topics.name("interactions")
    producer = create_producer(gzip, "test-gzip")
    await producer.start()
    try:
        await produce_all(producer, [Output(topic, b"t/c", b"x" * 2000) for _ in range(20)])
    finally:
        await producer.stop()
    records = await read_topic(gzip.kafka.bootstrap_servers, topic, 20)
    assert [r.value for r in records] == [b"x" * 2000] * 20
