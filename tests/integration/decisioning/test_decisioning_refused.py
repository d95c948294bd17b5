"""A decision the brokers refuse is never committed past: the worker stops instead."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.decisioning.test_decisioning_failure import (
    committed,
    crash_of,
    watch_for_crash,
)
from tests.integration.decisioning.test_decisioning_stream import (
    Hosted,
    decisioning_settings,
    publish,
    scored,
)
from warmline.common.topics import TopicSpec, declared_topics, ensure_topics
from warmline.decisioning.deliveries import DeliveryError
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration


async def test_a_decision_the_brokers_refuse_stops_the_worker_before_its_offset_is_committed(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    settings = decisioning_settings(kafka_broker.bootstrap_servers, tmp_path / "data")
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
