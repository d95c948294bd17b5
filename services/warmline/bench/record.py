"""``warmline bench record``: the record service's sustained write rate into SQLite
(a fresh file) or PostgreSQL (an empty database the caller names), and its lag
while the pipeline's output arrives live.

Two phases on one local broker, against one record service (``RecordService``:
its consumer, its one writer thread, ``synchronous=FULL``, a transaction and an
offset commit per poll), the records being those of ``warmline bench
decisioning`` (scored customer turns over many conversations) and one decision
per conversation (two reasons, a five-turn trajectory), as decisioning writes:

1. **backlog**: the topics are filled first; ``events_per_s`` is scored events
   written per second from the moment the record's consumer holds its
   partitions (start-up to then is ``startup_s``, apart) to the last row on
   disk, ``rows_per_s`` every row (turns, decisions, reasons, trajectories);
2. **live**: another process produces ``live_rate`` scored events/s (and their
   decisions) for ``live_seconds``; the record's lag (records on the brokers
   not yet written and committed: the partitions' high-water marks less the
   group's committed offsets) is sampled every 250 ms, and
   ``catch_up_s`` is how long after the producer's last acknowledged record the
   last row was on disk.

A record service that fails, or writes nothing for ``STALL_S``, ends the run with
:class:`BenchError` instead of a hang. On PostgreSQL the writes are the service's
own: one ``executemany`` per table and poll, which psycopg sends pipelined (one
round trip per batch, not per row). The events carry fixed ids, so a database that
already holds a run's rows would ignore them as replays: it is refused up front.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from warmline.bench.common import percentile, write_result
from warmline.bench.decisioning import TENANT, scored_events
from warmline.common.kafka import connection_options, create_producer
from warmline.common.keys import conversation_key
from warmline.common.metrics import RECORD_ROWS_WRITTEN
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import KafkaSettings, RecordSettings, WarmlineSettings
from warmline.common.topics import ensure_topics
from warmline.localkafka import LocalKafka
from warmline.record.database import RecordDatabase, database_errors, database_path
from warmline.record.service import RecordService
from warmline.record.store import RecordStore
from warmline.v1 import escalation_pb2, scoring_pb2

#: Seconds the record may start, or go without writing, before the run is abandoned.
STALL_S = 60.0
_FILL_CHUNK = 5_000
_TICK_S = 0.05
_TABLES = ("turns", "decisions", "decision_reasons", "decision_trajectory")


class BenchError(RuntimeError):
    """The record failed or stopped making progress; the run has no result."""


def decisions(conversations: int, prefix: str = "") -> list[tuple[bytes, bytes]]:
    """One escalation per conversation, shaped like decisioning's: two reasons, five turns."""
    at = datetime.now(UTC)
    records = []
    for n in range(conversations):
        conversation = f"{prefix}conv-{n}"
        d = escalation_pb2.EscalationDecision(
            decision_id=f"{prefix}decision-{n}", tenant_id=TENANT, conversation_id=conversation,
            customer_id=f"cust-{n}", action=escalation_pb2.DECISION_ACTION_ESCALATE,
            queue="billing", priority=escalation_pb2.PRIORITY_HIGH, dominant_emotion="annoyance",
            policy_version="bench", model_version="bench", trigger_event_id=f"{prefix}bench-{n}",
            opening_line="I'm sorry this has taken so long; let me sort it out now.",
            reasons=[
                escalation_pb2.Reason(code="sustained_negativity", explanation="Negativity stayed high."),
                escalation_pb2.Reason(code="negative_streak", explanation="Three negative turns in a row."),
            ],
        )  # fmt: skip
        for turn in range(5):
            point = d.trajectory.add(
                event_id=f"{prefix}bench-{n}-{turn}", dominant_emotion="annoyance"
            )
            point.signals.negativity = 0.2 * turn
            point.occurred_at.FromDatetime(at + timedelta(seconds=turn))
        d.timings.decided_at.FromDatetime(at + timedelta(seconds=5))
        records.append((conversation_key(TENANT, conversation), d.SerializeToString()))
    return records


def live_events(count: int, conversations: int) -> list[tuple[bytes, bytes]]:
    """:func:`scored_events` with ids and conversations of their own (``live-``), so
    the record writes them rather than ignoring them as replays of the backlog."""
    records = []
    for _, value in scored_events(count, conversations):
        scored = scoring_pb2.ScoredEvent.FromString(value)
        scored.event.event_id = "live-" + scored.event.event_id
        scored.event.conversation_id = "live-" + scored.event.conversation_id
        key = conversation_key(TENANT, scored.event.conversation_id)
        records.append((key, scored.SerializeToString()))
    return records


def _written() -> dict[str, float]:
    """Rows the record has written in this process, by table."""
    return {
        sample.labels["table"]: sample.value
        for metric in RECORD_ROWS_WRITTEN.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


async def _lag(admin: AIOKafkaAdminClient, service: RecordService) -> float:
    """Records on the brokers that the record has not yet written and committed."""
    committed = await admin.list_consumer_group_offsets(service.settings.record.consumer_group)
    lag = 0
    for tp in service.consumer.assignment():
        highwater = service.consumer.highwater(tp)
        if highwater is not None:
            done = committed[tp].offset if tp in committed else 0
            lag += max(0, highwater - done)
    return float(lag)


async def _fill(settings: WarmlineSettings, records: dict[str, list[tuple[bytes, bytes]]]) -> None:
    producer = create_producer(settings, "bench-record-fill")
    await producer.start()
    try:
        for topic, pairs in records.items():
            name = settings.topics.name(topic)
            for i in range(0, len(pairs), _FILL_CHUNK):
                chunk = pairs[i : i + _FILL_CHUNK]
                await produce_all(producer, [Output(name, k, v) for k, v in chunk], timeout_s=120)
    finally:
        await producer.stop()


class _Progress:
    """Watches the rows written, failing the run when the service fails or stalls."""

    def __init__(self, service: RecordService) -> None:
        self.service = service
        self.before = _written()
        self.moved_at = time.perf_counter()
        self._last = 0.0

    def rows(self, table: str) -> float:
        return _written().get(table, 0.0) - self.before.get(table, 0.0)

    def total(self) -> float:
        return sum(self.rows(t) for t in _TABLES)

    def check(self) -> None:
        now, total = time.perf_counter(), self.total()
        if total != self._last:
            self.moved_at, self._last = now, total
        failed = self.service.crashed()
        if failed is not None and failed.done():
            raise BenchError(f"the record service failed: {failed.exception()!r}")
        if now - self.moved_at > STALL_S:
            raise BenchError(f"the record wrote nothing for {STALL_S:.0f}s ({total:.0f} rows)")

    async def until(self, done: Callable[[], bool]) -> float:
        """Poll until ``done``; the time it became true."""
        while not done():
            self.check()
            await asyncio.sleep(0.01)
        return time.perf_counter()


async def _backlog(service: RecordService, events: int, conversations: int) -> dict[str, Any]:
    progress = _Progress(service)
    started = time.perf_counter()
    await asyncio.wait_for(service.start(), STALL_S)
    # From the moment the consumer holds its partitions: fetching is part of the work.
    ready = await progress.until(lambda: service.readiness.ready)
    last = await progress.until(
        lambda: progress.rows("turns") >= events and progress.rows("decisions") >= conversations
    )
    seconds = max(last - ready, 1e-6)
    return {
        "events_per_s": round(progress.rows("turns") / seconds, 1),
        "rows_per_s": round(progress.total() / seconds, 1),
        "startup_s": round(ready - started, 2),
        "rows": {t: int(progress.rows(t)) for t in _TABLES},
    }


def _produce_live(
    bootstrap: str, topics: dict[str, str], count: int, conversations: int, rate: float,
    out: Any,
) -> None:  # fmt: skip
    """In its own process: produce ``count`` live events at ``rate`` a second, a
    conversation's decision among them; put (first send, last ack) on ``out``."""
    scored = [Output(topics["scored"], k, v) for k, v in live_events(count, conversations)]
    escalations = decisions(conversations, prefix="live-")
    every = max(1, count // conversations)
    outputs: list[Output] = []
    for n, output in enumerate(scored):
        outputs.append(output)
        if n % every == every - 1 and n // every < len(escalations):
            outputs.append(Output(topics["escalations"], *escalations[n // every]))
    outputs += [Output(topics["escalations"], k, v) for k, v in escalations[count // every :]]

    async def produce() -> tuple[float, float]:
        settings = WarmlineSettings(kafka=KafkaSettings(bootstrap_servers=bootstrap))
        producer = create_producer(settings, "bench-record-live")
        await producer.start()
        per_tick = max(1, round(len(outputs) / count * rate * _TICK_S))
        try:
            started = time.time()
            for n, i in enumerate(range(0, len(outputs), per_tick)):
                await produce_all(producer, outputs[i : i + per_tick])
                await asyncio.sleep(max(0.0, started + (n + 1) * _TICK_S - time.time()))
            return started, time.time()
        finally:
            await producer.stop()

    out.put(asyncio.run(produce()))


async def _live(
    service: RecordService, settings: WarmlineSettings, rate: float, seconds: float,
    conversations: int,
) -> dict[str, Any]:  # fmt: skip
    count = int(rate * seconds)
    progress = _Progress(service)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    topics = {t: settings.topics.name(t) for t in ("scored", "escalations")}
    producer = context.Process(
        target=_produce_live,
        args=(settings.kafka.bootstrap_servers, topics, count, conversations, rate, out),
        daemon=True,
    )
    producer.start()
    lags: list[float] = []
    admin = AIOKafkaAdminClient(**connection_options(settings))
    await admin.start()
    try:
        while producer.is_alive() or out.empty():
            if progress.rows("turns"):
                lags.append(await _lag(admin, service))
            if not producer.is_alive() and out.empty():
                raise BenchError(f"the live producer exited with {producer.exitcode}")
            await asyncio.sleep(0.25)
        sent_from, acked_at = out.get()
        await progress.until(
            lambda: progress.rows("turns") >= count and progress.rows("decisions") >= conversations
        )
        caught_up_at = time.time()
    finally:
        producer.join(10)
        await admin.close()
    return {
        "offered_per_s": rate,
        "seconds": seconds,
        "events": count,
        "produced_per_s": round(count / max(acked_at - sent_from, 1e-6), 1),
        "lag_records_p50": percentile(lags, 50),
        "lag_records_p99": percentile(lags, 99),
        "lag_records_max": max(lags, default=0.0),
        "catch_up_s": round(max(0.0, caught_up_at - acked_at), 2),
    }


def _empty_database(database: RecordDatabase) -> dict[str, Any]:
    """Migrate ``database``; refuse one already holding turns (a run's replays would
    write nothing). Returns how durable its commits are, for the result."""
    try:
        store = RecordStore(database)
    except database_errors() as exc:
        raise BenchError(f"cannot open the record's database {database}: {exc}") from exc
    try:
        held = store.counts_of("turns")
        if held:
            raise BenchError(
                f"the record's database {database} already holds {held} turns: the bench's "
                "events would be ignored as replays; give it an empty database"
            )
        if database.engine == "sqlite":
            return {"synchronous": "FULL"}
        show = store.conn.execute
        return {
            "fsync": show("SHOW fsync").fetchone()[0],
            "synchronous_commit": show("SHOW synchronous_commit").fetchone()[0],
        }
    finally:
        store.close()


def _database_mib(database: RecordDatabase) -> float:
    if database.path is not None:
        return round(database.path.stat().st_size / 2**20, 1)
    conn = database.connect(read_only=True)
    try:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    finally:
        conn.close()
    return round(float(size) / 2**20, 1)


async def measure(
    settings: WarmlineSettings,
    data_dir: Path,
    events: int,
    conversations: int,
    live_rate: float,
    live_seconds: float,
    database: RecordDatabase | None = None,
) -> dict[str, Any]:
    """Fill the topics, time the record through the backlog, then while records arrive live.

    ``database``: an empty PostgreSQL database (or SQLite file); by default a new
    SQLite file under ``data_dir``."""
    database = database or RecordDatabase(path=database_path(data_dir))
    durability = _empty_database(database)
    settings = settings.model_copy(
        update={
            "record": RecordSettings(
                host="127.0.0.1", http_port=0, metrics_port=0, data_dir=data_dir,
                consumer_group=f"bench-record-{os.getpid()}-{time.monotonic_ns()}",
                database_url=database.url or f"sqlite:///{database.path}",
                database_password=database.password,
                database_password_file=database.password_file,
            )
        }
    )  # fmt: skip
    await ensure_topics(settings)
    await _fill(
        settings,
        {"scored": scored_events(events, conversations), "escalations": decisions(conversations)},
    )
    service = RecordService(settings, agents=None)
    try:
        backlog = await _backlog(service, events, conversations)
        live = await _live(service, settings, live_rate, live_seconds, conversations)
    finally:
        await service.stop()
    return {
        **backlog,
        "events": events,
        "conversations": conversations,
        "live": live,
        "engine": database.engine,
        "database_mib": _database_mib(database),
        "poll_max_records": settings.record.poll_max_records,
        "partitions": settings.topics.partitions,
        **durability,
        "targets": {"events_per_s": 5000},
    }


def run(
    out: Path,
    events: int = 50_000,
    conversations: int = 2_000,
    live_rate: float = 5_000.0,
    live_seconds: float = 10.0,
    kafka_version: str | None = None,
    database: RecordDatabase | None = None,
) -> dict[str, Any]:
    """Measure on a fresh local broker (into ``database``, by default a new SQLite
    file) and write the JSON result to ``out``."""
    version = kafka_version or os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    with LocalKafka(version=version) as broker, tempfile.TemporaryDirectory() as data:
        settings = WarmlineSettings(kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers))
        result = asyncio.run(
            measure(settings, Path(data), events, conversations, live_rate, live_seconds, database)
        )
    return write_result(out, {**result, "kafka_version": version})
