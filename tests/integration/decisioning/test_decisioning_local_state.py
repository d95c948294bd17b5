"""The local SQLite store (``DECISIONING__STORE=sqlite``) on the real session broker:
a restart reads only the changelog's tail, and a recreated changelog wipes it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from tests.integration.decisioning.test_decisioning_stream import (
    Hosted,
    decisioning_settings,
    decisions,
    publish,
    scored,
)
from tests.support import read_topic, wait_until
from warmline.common.kafka import admin_client, create_producer
from warmline.common.keys import conversation_key, key_partition
from warmline.common.settings import WarmlineSettings
from warmline.common.topics import TopicSpec, declared_topics, ensure_topics
from warmline.decisioning.app import DecisioningApp, faust_topics
from warmline.decisioning.conversations import encode_entry
from warmline.decisioning.faust_runtime.sqlite_store import local_rows
from warmline.decisioning.state import ConversationState
from warmline.decisioning.state_database import TableRows
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration

T = TypeVar("T")
FILLER = 400
MILD = 0.5  # one such turn decides nothing; two in a row are a negative streak
MILD_ANGER = 0.2  # below peak_anger: only the streak can decide


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Changelog records stored by the workers of this test, per table."""
    counted: Counter[str] = Counter()
    read = TableRows.read

    def counting(rows: TableRows, partition: int, records: list, offset: int) -> None:  # type: ignore[type-arg]
        counted[rows.name] += len(records)
        read(rows, partition, records, offset)

    monkeypatch.setattr(TableRows, "read", counting)
    return counted


def on_worker(hosted: Hosted, look: Callable[[DecisioningApp], T]) -> T:
    """``look`` at the worker's app on its own thread (the database's connection is there)."""

    async def looking() -> T:
        assert hosted.service.stream is not None
        return look(hosted.service.stream)

    return hosted.host.run(looking())


def local_settings(broker: LocalKafka, data_dir: Path) -> WarmlineSettings:
    settings = decisioning_settings(broker.bootstrap_servers, data_dir)
    return settings.model_copy(
        update={"decisioning": settings.decisioning.model_copy(update={"store": "sqlite"})}
    )


def changelog_spec(settings: WarmlineSettings) -> TopicSpec:
    """The conversations' changelog as faust creates it."""
    return TopicSpec(
        faust_topics(settings)[0], settings.topics.partitions, 1, {"cleanup.policy": "compact"}
    )


async def write_states(settings: WarmlineSettings, conversations: list[str]) -> None:
    """Conversation states written to the changelog as another worker would."""
    spec = changelog_spec(settings)
    producer = create_producer(settings, "test-other-worker")
    await producer.start()
    try:
        sent = []
        for conversation in conversations:
            key = conversation_key("acme", conversation)
            state = ConversationState(
                tenant_id="acme",
                conversation_id=conversation,
                last_activity=datetime.now(UTC).timestamp(),
            )
            sent.append(
                await producer.send(
                    spec.name,
                    encode_entry(state),
                    key=key,
                    partition=key_partition(key, spec.partitions),
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def decide_a_first_mild_turn(settings: WarmlineSettings) -> None:
    """Run a worker until the "streak" conversation's first turn is acknowledged, then stop it."""
    hosted = Hosted(settings)
    try:
        # A decision on another conversation after it: the states of both follow it.
        await publish(
            settings, [scored("streak-0", "streak", "This is not great.", MILD, MILD_ANGER)]
        )
        await publish(settings, [scored("ask-0", "ask", "Let me talk to a human please", 0.2)])
        escalations = settings.topics.name("escalations")
        await read_topic(settings.kafka.bootstrap_servers, escalations, 1, within_s=60)
        key = conversation_key("acme", "streak")
        wait_until(
            lambda: on_worker(hosted, lambda app: key in app.table), what="the first turn applied"
        )
    finally:
        hosted.stop()  # commits: every state acknowledged, and so in the database


async def test_a_restart_on_the_local_database_reads_only_the_changelogs_tail(
    kafka_broker: LocalKafka, tmp_path: Path, reads: Counter[str]
) -> None:
    settings = local_settings(kafka_broker, tmp_path / "data")
    await ensure_topics(settings, [*declared_topics(settings), changelog_spec(settings)])
    await write_states(settings, [f"before-{n}" for n in range(FILLER)])

    await decide_a_first_mild_turn(settings)
    assert reads["conversations"] >= FILLER  # a new database: the whole changelog
    reads.clear()
    # While the worker is away, another one writes two states.
    await write_states(settings, ["elsewhere-1", "elsewhere-2"])

    restarted = Hosted(settings)
    try:
        assert reads["conversations"] == 2  # the tail, nothing before it
        for conversation in ("elsewhere-1", "before-0"):
            key = conversation_key("acme", conversation)
            assert on_worker(restarted, lambda app, key=key: key in app.table)  # type: ignore[misc]
        await publish(
            settings, [scored("streak-1", "streak", "Still not great.", MILD, MILD_ANGER)]
        )
        escalations = settings.topics.name("escalations")
        records = await read_topic(settings.kafka.bootstrap_servers, escalations, 2, within_s=60)
    finally:
        restarted.stop()
    [streak] = [d for d in decisions(records) if d.conversation_id == "streak"]
    # The first turn came back from the database: the second one completes the streak.
    assert "negative_streak" in {reason.code for reason in streak.reasons}


async def test_a_recreated_changelog_topic_wipes_the_local_state_it_no_longer_holds(
    kafka_broker: LocalKafka, tmp_path: Path, reads: Counter[str]
) -> None:
    settings = local_settings(kafka_broker, tmp_path / "data")
    spec = changelog_spec(settings)
    await ensure_topics(settings, [*declared_topics(settings), spec])
    await decide_a_first_mild_turn(settings)
    await recreate(settings, spec)

    reads.clear()
    restarted = Hosted(settings)
    try:
        key = conversation_key("acme", "streak")
        partition = key_partition(key, spec.partitions)

        def stored(app: DecisioningApp) -> tuple[bool, int | None]:
            rows = local_rows(app.table)
            assert rows is not None
            return key in rows, rows.offset(partition)

        assert on_worker(restarted, stored) == (False, None)
        assert reads["conversations"] == 0  # the new topic is empty
    finally:
        restarted.stop()


async def recreate(settings: WarmlineSettings, spec: TopicSpec) -> None:
    """Delete the topic and create it again, empty."""
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.delete_topics([spec.name])
        for _ in range(240):  # deletion completes in the background
            if spec.name not in await admin.list_topics():
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError(f"{spec.name} was not deleted")
    finally:
        await admin.close()
    await ensure_topics(settings, [spec])
