"""Record services on the session broker, a tokens file, and the known set to publish."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.record_support import KnownSet
from tests.support import LoopThread, settings_for, unique, wait_until
from warmline.common.credentials import hash_key
from warmline.common.kafka import create_producer
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import RecordSettings, WarmlineSettings
from warmline.common.topics import ensure_topics
from warmline.localkafka import LocalKafka
from warmline.notification.tokens import AgentDirectory
from warmline.record.handler import recorded_topics
from warmline.record.service import RecordService
from warmline.record.store import connect, database_path

# token -> (tenant, agent, queues)
TOKENS = {
    "acme-supervisor": ("acme", "sam", ["*"]),
    "acme-general": ("acme", "gil", ["general"]),
    "acme-billing": ("acme", "bea", ["billing"]),
    "globex-supervisor": ("globex", "gina", ["*"]),
}


@dataclass
class Running:
    """A started record service hosted on its own loop thread."""

    service: RecordService
    host: LoopThread

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.service.http.port}"

    def stop(self) -> None:
        self.host.run(self.service.stop())
        self.host.close()


def record_settings(bootstrap: str, data_dir: Path, **overrides: Any) -> WarmlineSettings:
    """Settings on free ports with the database under ``data_dir``."""
    tokens = data_dir.parent / "agents.yaml"
    entries = [
        {"token_sha256": hash_key(t), "tenant": tenant, "agent_id": agent, "queues": queues}
        for t, (tenant, agent, queues) in TOKENS.items()
    ]
    tokens.write_text(yaml.safe_dump({"agents": entries}))
    section = RecordSettings(
        host="127.0.0.1", grpc_port=0, http_port=0, metrics_port=0, shutdown_grace_s=2,
        data_dir=data_dir, agent_tokens_file=tokens, **overrides,
    )  # fmt: skip
    return settings_for(bootstrap, record=section)


def start(settings: WarmlineSettings) -> Running:
    """Start a record service and wait until it is ready."""
    agents = AgentDirectory.from_file(settings.record.agent_tokens_file)  # type: ignore[arg-type]
    host = LoopThread()
    service = host.run(_build(settings, agents))
    host.run(service.start())
    wait_until(lambda: service.readiness.ready, what="record ready")
    return Running(service, host)


async def _build(settings: WarmlineSettings, agents: AgentDirectory) -> RecordService:
    # Built on the hosting loop: Kafka clients bind to the loop they are made on.
    return RecordService(settings, agents)


@pytest.fixture
def make_record(kafka_broker: LocalKafka) -> Iterator[Any]:
    """A factory of record services, all stopped afterwards."""
    started: list[Running] = []

    def make(settings: WarmlineSettings) -> Running:
        running = start(settings)
        started.append(running)
        return running

    yield make
    for running in started:
        if running.host.loop.is_running():
            running.stop()


async def publish(settings: WarmlineSettings, outputs: list[Output]) -> None:
    """Write records, acknowledged, creating the topics first."""
    await ensure_topics(settings)
    producer = create_producer(settings, "test-record")
    await producer.start()
    try:
        await produce_all(producer, outputs)
    finally:
        await producer.stop()


async def consumed_everything(settings: WarmlineSettings, group: str) -> bool:
    """True once ``group`` has committed the end offset of every recorded partition."""
    bootstrap = settings.kafka.bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [
            TopicPartition(topic, p)
            for topic in recorded_topics(settings)
            for p in range(settings.topics.partitions)
        ]
        ends = await consumer.end_offsets(partitions)
        return all(
            end == 0 or (tp in committed and committed[tp].offset >= end)
            for tp, end in ends.items()
        )
    finally:
        await consumer.stop()
        await admin.close()


def counts(data_dir: Path) -> dict[str, int]:
    """Rows per table of the record under ``data_dir`` (read-only)."""
    conn = connect(database_path(data_dir), read_only=True)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}
    finally:
        conn.close()


def reader(data_dir: Path) -> sqlite3.Connection:
    """A read-only connection to the record under ``data_dir``."""
    return connect(database_path(data_dir), read_only=True)


def wait_consumed(settings: WarmlineSettings, group: str, timeout: float = 60.0) -> None:
    """Wait until ``group`` has committed everything on the recorded topics."""
    deadline = time.monotonic() + timeout
    while not asyncio.run(consumed_everything(settings, group)):
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group} did not commit every record within {timeout}s")
        time.sleep(0.3)


def assert_restarts_and_replays_add_no_row(
    make_record: Callable[[WarmlineSettings], Running],
    running: Running,
    settings: WarmlineSettings,
    known: KnownSet,
    counts: Callable[[], dict[str, int]],
    first: dict[str, int],
) -> None:
    """With ``known`` consumed by ``running`` into ``first`` rows per table: a restart
    followed by every record of every topic again, then a new consumer group reading
    every topic from the start, leave ``counts`` at ``first``."""
    running.stop()
    make_record(settings)
    asyncio.run(publish(settings, known.outputs(settings)))
    wait_consumed(settings, settings.record.consumer_group)
    assert counts() == first
    replay_group = unique("record-replay")
    fresh = settings.model_copy(
        update={"record": settings.record.model_copy(update={"consumer_group": replay_group})}
    )
    make_record(fresh)
    wait_consumed(fresh, replay_group)
    assert counts() == first
