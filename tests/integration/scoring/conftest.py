"""A scoring service on the session broker with the real emotion model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.support import LoopThread, settings_for, wait_until
from warmline.common.credentials import hash_key
from warmline.common.kafka import create_producer
from warmline.common.keys import conversation_key
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import ScoringSettings, WarmlineSettings
from warmline.common.topics import ensure_topics
from warmline.localkafka import LocalKafka
from warmline.model.engine import EmotionEngine
from warmline.scoring.service import ScoringService
from warmline.v1 import events_pb2


@cache
def shared_engine() -> EmotionEngine:
    """One loaded model for the whole session (loading takes seconds)."""
    return EmotionEngine(threads=1, batch_size=32)


#: The API key of tenant acme, for ``Score``.
ACME_KEY = "acme-score-key"


def write_tenants(path: Path) -> Path:
    """A credentials file (ingestion's format) with tenant acme's key."""
    path.write_text(yaml.safe_dump({"tenants": {"acme": {"api_key_sha256": [hash_key(ACME_KEY)]}}}))
    return path


def scoring_settings(
    bootstrap: str, group: str = "scoring", api_keys_file: Path | None = None
) -> WarmlineSettings:
    """Settings with free ports and unique topics."""
    return settings_for(
        bootstrap,
        scoring=ScoringSettings(
            host="127.0.0.1",
            grpc_port=0,
            metrics_port=0,
            shutdown_grace_s=5,
            consumer_group=group,
            max_wait_ms=10,
            api_keys_file=api_keys_file,
        ),
    )


class Hosted:
    """A scoring service running on its own loop thread."""

    def __init__(self, settings: WarmlineSettings) -> None:
        self.settings = settings
        self.host = LoopThread()
        self.service = self.host.run(self._build())
        self.host.run(self.service.start(), timeout=120)
        wait_until(lambda: self.service.readiness.ready, what="scoring ready")

    async def _build(self) -> ScoringService:
        return ScoringService(self.settings, engine=shared_engine)

    def assignment(self) -> set[int]:
        return {tp.partition for tp in self.service.consumer.assignment()}

    def stop(self) -> None:
        self.host.run(self.service.stop(), timeout=60)
        self.host.close()


@pytest.fixture
def scoring(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[Hosted]:
    keys = write_tenants(tmp_path / "tenants.yaml")
    hosted = Hosted(scoring_settings(kafka_broker.bootstrap_servers, api_keys_file=keys))
    try:
        yield hosted
    finally:
        hosted.stop()


def event(
    event_id: str,
    conversation: str,
    text: str = "",
    role: int = events_pb2.ROLE_CUSTOMER,
    kind: int = events_pb2.EVENT_KIND_MESSAGE,
    language: str = "en",
) -> events_pb2.InteractionEvent:
    """An event as the ingestion service writes it (tenant set, redacted)."""
    e = events_pb2.InteractionEvent(
        event_id=event_id,
        tenant_id="acme",
        conversation_id=conversation,
        channel=events_pb2.CHANNEL_CHAT,
        role=role,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        text=text,
        language=language,
    )
    e.occurred_at.FromDatetime(datetime.now(UTC))
    e.ingested_at.FromDatetime(datetime.now(UTC))
    return e


async def publish(
    settings: WarmlineSettings,
    events: list[events_pb2.InteractionEvent],
    raw: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Write interaction records the way ingestion does."""
    await ensure_topics(settings)
    producer = create_producer(settings, "test-ingestion")
    await producer.start()
    topic = settings.topics.name("interactions")
    try:
        outputs = [
            Output(topic, conversation_key(e.tenant_id, e.conversation_id), e.SerializeToString())
            for e in events
        ]
        outputs += [Output(topic, key, value) for key, value in raw]
        await produce_all(producer, outputs)
    finally:
        await producer.stop()
