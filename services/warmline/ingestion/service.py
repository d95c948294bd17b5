"""Wiring of the ingestion service: Kafka producer, gRPC, HTTP, operations page."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from warmline.common.grpc_server import GrpcServer
from warmline.common.health import Readiness
from warmline.common.kafka import create_producer, start_when_reachable, watch_kafka
from warmline.common.ops_http import HttpListener, OpsServer
from warmline.common.runtime import ServiceMain, cancel_all, serve_until_stopped
from warmline.common.settings import IngestionSettings, WarmlineSettings
from warmline.common.tenants import CredentialsError, TenantDirectory
from warmline.common.tls import http_ssl_context, server_credentials
from warmline.common.topics import ensure_topics
from warmline.ingestion.core import IngestCore
from warmline.ingestion.dedupe import IdempotencyWindow
from warmline.ingestion.grpc_api import IngestServicer
from warmline.ingestion.http_api import IngestHttpApi
from warmline.ingestion.publisher import EventPublisher
from warmline.ingestion.ratelimit import TenantRateLimiter
from warmline.v1 import ingest_pb2, ingest_pb2_grpc

log = logging.getLogger(__name__)


def load_tenants(s: IngestionSettings) -> TenantDirectory:
    """The tenant directory; refusing to start without one."""
    if s.api_keys_file is None:
        raise CredentialsError("set WARMLINE_INGESTION__API_KEYS_FILE to the tenants' API-key file")
    return TenantDirectory.from_file(s.api_keys_file)


class IngestionService:
    """The running service; ports are known after :meth:`start` (0 picks free ones)."""

    def __init__(self, settings: WarmlineSettings, tenants: TenantDirectory) -> None:
        self.settings = settings
        s = settings.ingestion
        self.readiness = Readiness("kafka")
        self.ops = OpsServer(self.readiness, s.host, s.metrics_port)
        self.producer = create_producer(settings, "warmline-ingestion")
        self.publisher = EventPublisher(
            self.producer,
            settings.topics.name("interactions"),
            buffer_max_events=s.buffer_max_events,
            delivery_timeout_s=settings.kafka.delivery_timeout_ms / 1000,
        )
        self.core = IngestCore(
            s,
            self.publisher,
            IdempotencyWindow(s.idempotency_window_s, s.idempotency_max_entries),
            TenantRateLimiter(s.rate_limit_per_s, s.rate_limit_burst),
        )
        name = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name
        self.grpc = GrpcServer(
            [
                (
                    ingest_pb2_grpc.add_IngestServiceServicer_to_server,
                    IngestServicer(self.core, tenants),
                    name,
                )
            ],
            self.readiness,
            address=f"{s.host}:{s.grpc_port}",
            credentials=server_credentials(s, "ingestion"),
        )
        self.http = HttpListener(
            IngestHttpApi(self.core, tenants).app(),
            s.host,
            s.http_port,
            ssl_context=http_ssl_context(s, "ingestion"),
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def grpc_port(self) -> int:
        """The bound gRPC port."""
        return self.grpc.port

    @property
    def http_port(self) -> int:
        """The bound HTTP port."""
        return self.http.port

    async def start(self) -> None:
        """Serve; become ready once Kafka is reachable and the topics exist."""
        await self.ops.start()
        await self.grpc.start()
        await self.http.start()
        if not await start_when_reachable(self._connect, "ingestion", self._stop):
            return
        self._tasks.append(
            asyncio.create_task(watch_kafka(self.settings, self.readiness, self._stop))
        )
        log.info(
            "ingestion serving",
            extra={
                "grpc_port": self.grpc_port,
                "http_port": self.http_port,
                "metrics_port": self.ops.port,
            },
        )

    async def _connect(self) -> None:
        await ensure_topics(self.settings)
        await self.producer.start()

    def crashed(self) -> asyncio.Task[None] | None:
        """None: requests fail one by one, never the service as a whole."""
        return None

    async def stop(self) -> None:
        """Drain: refuse new work, finish in-flight requests, flush the producer."""
        self._stop.set()
        self.readiness.set("kafka", False)
        await self.grpc.stop(self.settings.ingestion.shutdown_grace_s)
        await self.http.stop()
        # aiokafka's stop() may hang while brokers are gone (aio-libs/aiokafka#1101).
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.producer.stop(), self.settings.ingestion.shutdown_grace_s)
        await cancel_all(self._tasks)
        await self.ops.stop()


def serve(settings: WarmlineSettings) -> ServiceMain:
    """Entry point for ``warmline serve ingestion``."""
    tenants = load_tenants(settings.ingestion)  # fail fast on a bad credentials file

    async def main(stop: asyncio.Event) -> None:
        await serve_until_stopped(IngestionService(settings, tenants), stop)

    return main
