"""Wiring of the notification service: feed, hub, gRPC, browser bridge, timers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka.errors import KafkaError

from warmline.common.grpc_server import GrpcServer
from warmline.common.health import Readiness
from warmline.common.kafka import create_producer, start_when_reachable, watch_kafka
from warmline.common.metrics import KAFKA_RECORDS_PRODUCED
from warmline.common.ops_http import HttpListener, OpsServer
from warmline.common.runtime import ServiceMain, cancel_all, serve_until_stopped
from warmline.common.settings import WarmlineSettings
from warmline.common.tls import http_ssl_context, server_credentials
from warmline.common.topics import ensure_topics
from warmline.notification.board import Board
from warmline.notification.core import NotificationCore
from warmline.notification.feed import Feed
from warmline.notification.grpc_api import NotificationServicer
from warmline.notification.http_api import ConsoleHttpApi
from warmline.notification.hub import Hub, HubSettings
from warmline.notification.overload import OverloadPolicy, OverloadWatch
from warmline.notification.tokens import AgentDirectory, AgentTokensError
from warmline.v1 import notification_pb2, notification_pb2_grpc

log = logging.getLogger(__name__)

_SERVER_OPTIONS = (
    # Server-side keepalive: a console that vanished without closing its stream
    # (laptop lid, dropped Wi-Fi) is noticed within about a minute.
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    # gRPC core cancels new calls beyond 1,000 not yet picked up by the server;
    # every console reconnecting at once after a replica restart is such a burst.
    ("grpc.server.max_pending_requests", 20_000),
    ("grpc.server.max_pending_requests_hard_limit", 30_000),
)


def load_agents(settings: WarmlineSettings) -> AgentDirectory:
    """The agent tokens; refusing to start without them."""
    path = settings.notification.agent_tokens_file
    if path is None:
        raise AgentTokensError(
            "set WARMLINE_NOTIFICATION__AGENT_TOKENS_FILE to the agents' token file"
        )
    return AgentDirectory.from_file(path)


class NotificationService:
    """The running service; ports are known after :meth:`start` (0 picks free ones)."""

    def __init__(self, settings: WarmlineSettings, agents: AgentDirectory) -> None:
        self.settings = settings
        n = settings.notification
        self.readiness = Readiness("kafka", "caught_up")
        self.ops = OpsServer(self.readiness, n.host, n.metrics_port)
        self.producer = create_producer(settings, "warmline-notification")
        self.board = Board(
            max_records=n.max_retained_decisions, exposure_window_s=n.exposure_window_s
        )
        self.hub = Hub(
            self.board,
            HubSettings(
                supervisor_queue=n.supervisor_queue,
                exposure_limit=n.exposure_limit,
                protected_hold_s=n.protected_hold_s,
                max_pending=n.max_pending_per_console,
            ),
        )
        self.overload = OverloadWatch(
            OverloadPolicy.from_settings(n), n.tenant_overload_names, agents.supervisor_of
        )
        self.hub.active_alerts = self.overload.active
        self.feed = Feed(settings, self.board, self.hub, self.producer)
        self.core = NotificationCore(settings, agents, self.hub, self.feed, self.producer)
        name = notification_pb2.DESCRIPTOR.services_by_name["NotificationService"].full_name
        self.grpc = GrpcServer(
            [
                (
                    notification_pb2_grpc.add_NotificationServiceServicer_to_server,
                    NotificationServicer(self.core, n.heartbeat_s),
                    name,
                )
            ],
            self.readiness,
            address=f"{n.host}:{n.grpc_port}",
            credentials=server_credentials(n, "notification"),
            options=_SERVER_OPTIONS,
        )
        self.http = HttpListener(
            ConsoleHttpApi(self.core, n.heartbeat_s, n.record_url).app(),
            n.host,
            n.http_port,
            ssl_context=http_ssl_context(n, "notification"),
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._feed_task: asyncio.Task[None] | None = None

    @property
    def grpc_port(self) -> int:
        """The bound gRPC port."""
        return self.grpc.port

    @property
    def http_port(self) -> int:
        """The bound HTTP port (the browser console)."""
        return self.http.port

    async def start(self) -> None:
        """Serve; ready once Kafka answers and the escalation log is read up to now."""
        await self.ops.start()
        await self.grpc.start()
        await self.http.start()
        if not await start_when_reachable(self._connect, "notification", self._stop):
            return
        self._feed_task = asyncio.create_task(self.feed.run(self._stop))
        self._tasks += [
            asyncio.create_task(watch_kafka(self.settings, self.readiness, self._stop)),
            asyncio.create_task(self._track_caught_up()),
            asyncio.create_task(self._reoffer_loop()),
            asyncio.create_task(self._overload_loop()),
        ]
        log.info(
            "notification serving",
            extra={
                "grpc_port": self.grpc_port,
                "http_port": self.http_port,
                "metrics_port": self.ops.port,
            },
        )

    async def _connect(self) -> None:
        await ensure_topics(self.settings)
        await self.producer.start()
        await self.feed.start()

    async def _track_caught_up(self) -> None:
        await self.feed.caught_up.wait()
        self.readiness.set("caught_up", True)

    async def _reoffer_loop(self) -> None:
        n = self.settings.notification
        tick = min(1.0, n.reoffer_after_s / 4)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), tick)
            if not self.feed.caught_up.is_set():
                continue
            for escalation, to_supervisor in self.board.due(
                time.time(), n.reoffer_after_s, n.supervisor_after_s
            ):
                self.hub.reoffer(escalation, to_supervisor)

    async def _overload_loop(self) -> None:
        n = self.settings.notification
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), n.overload_check_s)
            if not self.feed.caught_up.is_set():
                continue
            now = time.time()
            exposures = self.board.exposures(now, n.overload_window_s)
            for alert in self.overload.check(exposures, now):
                self.hub.overload(alert)
                await self._publish_overload(alert.unnamed)

    async def _publish_overload(self, alert: notification_pb2.OverloadAlert) -> None:
        """Write an alert for the record; consoles have it already, so a failure is logged."""
        topic = self.settings.topics.name("overload_alerts")
        key = f"{alert.tenant_id}/{alert.queue}".encode()
        try:
            await asyncio.wait_for(
                self.producer.send_and_wait(topic, alert.SerializeToString(), key=key),
                self.settings.notification.overload_check_s,
            )
        except (KafkaError, TimeoutError) as exc:
            log.warning(
                "overload alert not written for the record",
                extra={"topic": topic, "tenant_id": alert.tenant_id, "error": repr(exc)},
            )
            return
        KAFKA_RECORDS_PRODUCED.labels(topic).inc()

    def crashed(self) -> asyncio.Task[None] | None:
        """The feed: without it consoles would silently stop hearing anything."""
        return self._feed_task

    async def stop(self) -> None:
        """Drain: end the streams, stop listening, flush the producer."""
        self._stop.set()
        self.readiness.set("kafka", False)
        self.hub.close_all()
        await self.grpc.stop(self.settings.notification.shutdown_grace_s)
        await self.http.stop()
        if self._feed_task is not None:
            await cancel_all([self._feed_task])
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.feed.stop(), self.settings.notification.shutdown_grace_s)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.producer.stop(), self.settings.notification.shutdown_grace_s
            )
        await cancel_all(self._tasks)
        await self.ops.stop()


def serve(settings: WarmlineSettings) -> ServiceMain:
    """Entry point for ``warmline serve notification``."""
    agents = load_agents(settings)  # fail fast on a bad tokens file

    async def main(stop: asyncio.Event) -> None:
        await serve_until_stopped(NotificationService(settings, agents), stop)

    return main
