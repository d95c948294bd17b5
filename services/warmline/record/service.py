"""Wiring of the record service: consumer, database writer, retention job, audit door."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaConsumer

from warmline.common.health import Readiness
from warmline.common.kafka import (
    create_consumer,
    create_producer,
    start_when_reachable,
    watch_kafka,
)
from warmline.common.metrics import (
    RECORD_CONSUMER_LAG,
    RECORD_NEGATIVE_SHARE,
    RECORD_RETENTION_DELETED,
)
from warmline.common.ops_http import HttpListener, OpsServer
from warmline.common.pipeline import run_pipeline
from warmline.common.runtime import ServiceMain, cancel_all, serve_until_stopped
from warmline.common.settings import WarmlineSettings
from warmline.common.topics import ensure_topics
from warmline.insights.aggregates import negative_shares
from warmline.notification.tokens import AgentDirectory
from warmline.practice.model_reading import ReplyReader
from warmline.record.database import RecordDatabase, RecordUnavailable, database_errors
from warmline.record.handler import RecordHandler, recorded_topics
from warmline.record.http_api import AuditHttpApi
from warmline.record.practice import PracticeRules
from warmline.record.rows import Rows
from warmline.record.store import RecordStore

log = logging.getLogger(__name__)
T = TypeVar("T")
#: The leaders' climate gauge covers the last hour and is refreshed every minute.
CLIMATE_SPAN_S = 3_600.0
CLIMATE_EVERY_S = 60.0


def load_audit_tokens(settings: WarmlineSettings) -> AgentDirectory | None:
    """The tokens the audit endpoint accepts; None (every call refused) without a file."""
    path = settings.record.agent_tokens_file
    if path is None:
        log.warning(
            "the audit endpoint refuses every call: set WARMLINE_RECORD__AGENT_TOKENS_FILE "
            "to the console's agent-token file to serve it"
        )
        return None
    return AgentDirectory.from_file(path)


class RecordService:
    """The running service; ports are known after :meth:`start` (0 picks free ones)."""

    def __init__(self, settings: WarmlineSettings, agents: AgentDirectory | None) -> None:
        self.settings = settings
        r = settings.record
        self.database = RecordDatabase.from_settings(r)
        self.readiness = Readiness("kafka", "database", "assignment")
        self.ops = OpsServer(self.readiness, r.host, r.metrics_port)
        self.reader = ReplyReader.from_settings(r)
        self.http = HttpListener(
            AuditHttpApi(
                self.database,
                agents,
                self.reader,
                insights_min_group=r.insights_min_group,
                supervisor_queue=settings.notification.supervisor_queue,
                console_url=r.console_url,
            ).app(),
            r.host,
            r.http_port,
        )
        self.producer = create_producer(settings, "warmline-record")
        self.consumer = create_consumer(
            settings,
            r.consumer_group,
            *recorded_topics(settings),
            client_id="warmline-record",
            readiness=self.readiness,
        )
        # Every use of the writer's connection runs on this one thread.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="record-writer")
        self.store: RecordStore | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.pipeline: asyncio.Task[None] | None = None

    async def _on_writer(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, call)

    async def write(self, rows: Rows) -> dict[str, int]:
        """Write one batch of rows; returns the rows added by table."""
        assert self.store is not None
        return await self._on_writer(partial(self.store.write, rows))

    async def start(self) -> None:
        """Serve health; open and migrate the database; then join the consumer group."""
        r = self.settings.record
        await self.ops.start()
        self.store = await self._open_store(PracticeRules.from_settings(r))
        if self.store is None:
            return
        self.readiness.set("database", True)
        await self.http.start()
        if not await start_when_reachable(self._connect, "record", self._stop):
            return
        self._tasks += [
            asyncio.create_task(watch_kafka(self.settings, self.readiness, self._stop)),
            asyncio.create_task(self._report_lag()),
            asyncio.create_task(self._retention_loop()),
            asyncio.create_task(self._climate_loop()),
        ]
        self.pipeline = asyncio.create_task(
            run_pipeline(
                self.consumer,
                self.producer,
                RecordHandler(self.settings, self.write),
                self._stop,
                max_records=r.poll_max_records,
                delivery_timeout_s=self.settings.kafka.delivery_timeout_ms / 1000,
                name="record",
            )
        )
        log.info(
            "record serving",
            extra={"database": str(self.database), "http_port": self.http.port},
        )

    async def _open_store(self, practice: PracticeRules) -> RecordStore | None:
        """Open and migrate the database, retrying (backing off to 5 s) while it cannot be
        reached: the service stays up and NOT_SERVING, and each cause is logged once as
        one line naming the setting. None if stopped first."""
        delay, reported = 0.2, None
        while not self._stop.is_set():
            try:
                return await self._on_writer(partial(RecordStore, self.database, practice))
            except RecordUnavailable as exc:
                if str(exc) != reported:
                    log.error(str(exc), extra={"database": str(self.database)})
                    reported = str(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(delay * 2, 5.0)
        return None

    async def _connect(self) -> None:
        await ensure_topics(self.settings)
        await self.producer.start()
        await self.consumer.start()

    async def enforce_retention(self, now: float | None = None) -> dict[str, int]:
        """Run the retention job once; returns the rows deleted by table."""
        assert self.store is not None
        r = self.settings.record
        deleted = await self._on_writer(
            partial(
                self.store.enforce_retention,
                time.time() if now is None else now,
                r.retention_days,
                r.tenant_retention_days,
            )
        )
        for table, n in deleted.items():
            if n:
                RECORD_RETENTION_DELETED.labels(table).inc(n)
        if any(deleted.values()):
            log.info("retention deleted rows", extra={"deleted": deleted})
        return deleted

    async def _retention_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.enforce_retention()
            except database_errors():
                # Writes go on; the next run deletes what this one could not.
                log.exception("retention job failed", extra={"database": str(self.database)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.record.retention_interval_s)

    async def _climate_loop(self) -> None:
        min_group = self.settings.record.insights_min_group
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(export_climate, self.database, time.time(), min_group)
            except database_errors():
                log.exception("climate gauge not refreshed", extra={"database": str(self.database)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), CLIMATE_EVERY_S)

    async def _report_lag(self) -> None:
        reported: set[tuple[str, str]] = set()
        while not self._stop.is_set():
            reported = await report_lag(self.consumer, reported)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 5)

    def crashed(self) -> asyncio.Task[None] | None:
        """The pipeline: if it fails (the database or Kafka refused a write), the service stops."""
        return self.pipeline

    async def stop(self) -> None:
        """Drain: finish and commit the batch in progress, then close everything."""
        grace = self.settings.record.shutdown_grace_s
        self._stop.set()
        if self.pipeline is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.pipeline), grace)
        await self.http.stop()
        if self.reader is not None:
            await self.reader.close()
        for closing in (self.consumer.stop(), self.producer.stop()):
            # aiokafka may hang while brokers are gone (aio-libs/aiokafka#1101).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closing, grace)
        await cancel_all(self._tasks)
        if self.store is not None:
            await self._on_writer(self.store.close)
        self._writer.shutdown(wait=True)
        await self.ops.stop()


async def report_lag(
    consumer: AIOKafkaConsumer, reported: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Set the lag of each assigned partition; drop the series of partitions given away."""
    assigned = consumer.assignment()
    kept = reported & {(tp.topic, str(tp.partition)) for tp in assigned}
    for topic, partition in reported - kept:
        RECORD_CONSUMER_LAG.remove(topic, partition)
    for tp in assigned:
        highwater = consumer.highwater(tp)
        if highwater is not None:
            with contextlib.suppress(Exception):
                lag = highwater - await consumer.position(tp)
                RECORD_CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, lag))
                kept.add((tp.topic, str(tp.partition)))
    return kept


def export_climate(database: RecordDatabase | Path, now: float, min_group: int) -> None:
    """Set the negative-share gauge of the last hour from the record, leaving out
    what the insights suppress (a group that shrank below the minimum disappears)."""
    with contextlib.closing(RecordDatabase.of(database).connect(read_only=True)) as conn:
        shares = negative_shares(conn, now - CLIMATE_SPAN_S, now, min_group)
    RECORD_NEGATIVE_SHARE.clear()
    for (tenant, queue), share in shares.items():
        RECORD_NEGATIVE_SHARE.labels(tenant, queue or "").set(share)


def serve(settings: WarmlineSettings) -> ServiceMain:
    """Entry point for ``warmline serve record``."""
    agents = load_audit_tokens(settings)  # fail fast on a bad tokens file

    async def main(stop: asyncio.Event) -> None:
        await serve_until_stopped(RecordService(settings, agents), stop)

    return main
