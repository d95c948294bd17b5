"""An ingestion service on the session broker, hosted in a thread, with two tenants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import LoopThread, settings_for, wait_until
from warmline.common.credentials import hash_key
from warmline.common.settings import IngestionSettings, WarmlineSettings
from warmline.common.tenants import TenantDirectory
from warmline.ingestion.service import IngestionService
from warmline.localkafka import LocalKafka
from warmline.v1 import events_pb2

ACME_KEY = "acme-key-7f3a"
GLOBEX_KEY = "globex-key-91bc"
CHATWOOT_SECRET = "cw-secret-for-acme"
ZENDESK_SECRET = "zd-secret-for-acme"


def write_tenants(path: Path) -> Path:
    """A credentials file for tenants acme and globex."""
    path.write_text(
        yaml.safe_dump(
            {
                "tenants": {
                    "acme": {
                        "api_key_sha256": [hash_key(ACME_KEY)],
                        "webhook_secrets": {"chatwoot": CHATWOOT_SECRET, "zendesk": ZENDESK_SECRET},
                    },
                    "globex": {"api_key_sha256": [hash_key(GLOBEX_KEY)]},
                }
            }
        )
    )
    return path


@dataclass
class RunningIngestion:
    """A started service and what a test needs to reach it."""

    service: IngestionService
    settings: WarmlineSettings
    host: LoopThread

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.service.grpc_port}"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.service.http_port}"

    @property
    def topic(self) -> str:
        return self.settings.topics.name("interactions")


def start_ingestion(bootstrap: str, tmp_path: Path, **limits: Any) -> Iterator[RunningIngestion]:
    """Start a service on free ports with the given ingestion limits; stop it afterwards."""
    ingestion = IngestionSettings(
        host="127.0.0.1", grpc_port=0, http_port=0, metrics_port=0, shutdown_grace_s=1, **limits
    )
    settings = settings_for(bootstrap, ingestion=ingestion)
    tenants = TenantDirectory.from_file(write_tenants(tmp_path / "tenants.yaml"))
    host = LoopThread()
    service = host.run(_build(settings, tenants))
    host.run(service.start())
    wait_until(lambda: service.readiness.ready, what="ingestion ready")
    try:
        yield RunningIngestion(service, settings, host)
    finally:
        host.run(service.stop())
        host.close()


async def _build(settings: WarmlineSettings, tenants: TenantDirectory) -> IngestionService:
    # Built on the hosting loop: the Kafka producer binds to the loop it is made on.
    return IngestionService(settings, tenants)


@pytest.fixture
def ingestion(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[RunningIngestion]:
    """A service with default limits."""
    yield from start_ingestion(kafka_broker.bootstrap_servers, tmp_path)


def message(
    event_id: str, conversation: str = "conv-1", text: str = "Where is my order?", **fields: Any
) -> events_pb2.InteractionEvent:
    """A valid customer chat message."""
    event = events_pb2.InteractionEvent(
        event_id=event_id,
        conversation_id=conversation,
        customer_id="cust-1",
        channel=events_pb2.CHANNEL_CHAT,
        role=events_pb2.ROLE_CUSTOMER,
        kind=events_pb2.EVENT_KIND_MESSAGE,
        text=text,
        language="en",
        **fields,
    )
    event.occurred_at.FromDatetime(datetime.now(UTC))
    return event
