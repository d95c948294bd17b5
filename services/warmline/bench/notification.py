"""``warmline bench notification``: thousands of console streams on one process.

Starts a local broker and ``warmline serve notification`` as its own process,
opens ``streams`` consoles from this process (agents of 20 tenants, 10 per
queue, so each decision fans out to 10 consoles, as in a real contact center),
then writes decisions to the escalations topic at a steady rate and measures:

- ``deliveries_per_s``: deliveries the consoles received, per second;
- ``fanout_p50_ms``/``fanout_p99_ms``: the service's own time from reading a
  decision from Kafka to writing it to a console stream (its
  ``warmline_notification_delivery_seconds`` histogram, interpolated);
- ``publish_to_console_p99_ms``: from the decision's write to Kafka to its
  arrival at a console, Kafka's round trip included (measured by the consoles).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import yaml
from prometheus_client.parser import text_string_to_metric_families

from warmline.bench.common import percentile, write_result
from warmline.client.console import ConsoleClient
from warmline.common.credentials import hash_key
from warmline.common.kafka import create_producer
from warmline.common.keys import conversation_key, derived_id
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import (
    KafkaSettings,
    NotificationSettings,
    WarmlineSettings,
    settings_env,
)
from warmline.common.topics import ensure_topics
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import free_port
from warmline.v1 import escalation_pb2

_TENANTS = 20
_PER_QUEUE = 10
# Consoles share connections as browsers behind one bridge would; 100 streams each.
_STREAMS_PER_CHANNEL = 100


def _agents(streams: int) -> list[tuple[str, str, str]]:
    """(tenant, queue, agent) for every console."""
    queues = max(1, streams // (_TENANTS * _PER_QUEUE))
    return [
        (f"t{n % _TENANTS}", f"q{(n // _TENANTS) % queues}", f"agent-{n}") for n in range(streams)
    ]


def _tokens_file(path: Path, agents: list[tuple[str, str, str]]) -> Path:
    entries = [
        {"token_sha256": hash_key(agent), "tenant": tenant, "agent_id": agent, "queues": [queue]}
        for tenant, queue, agent in agents
    ]
    path.write_text(yaml.safe_dump({"agents": entries}))
    return path


def _decision(n: int, tenant: str, queue: str) -> escalation_pb2.EscalationDecision:
    conversation = f"conv-{n}"
    d = escalation_pb2.EscalationDecision(
        decision_id=derived_id(tenant, conversation, "bench"),
        tenant_id=tenant,
        conversation_id=conversation,
        action=escalation_pb2.DECISION_ACTION_ESCALATE,
        queue=queue,
        priority=escalation_pb2.PRIORITY_NORMAL,
        reasons=[escalation_pb2.Reason(code="sustained_negativity", explanation="Upset.")],
        opening_line="I can see this has been frustrating; let me sort it out.",
        last_customer_text="This is the third time I am asking.",
    )
    now = datetime.now(UTC)
    d.timings.ingested_at.FromDatetime(now)
    d.timings.decided_at.FromDatetime(now)
    return d


class _Consoles:
    """``streams`` subscriptions; records when each delivery arrived."""

    def __init__(self, target: str, agents: list[tuple[str, str, str]]) -> None:
        self.clients: list[ConsoleClient] = []
        self.calls: list[Any] = []
        self.latencies_ms: list[float] = []
        self.received = 0
        self.errors: list[str] = []
        self._agents = agents
        self._target = target
        self._tasks: list[asyncio.Task[None]] = []
        self._arrived = asyncio.Event()

    async def reach(self, count: int, within_s: float) -> bool:
        """Wait until ``count`` deliveries arrived in all; False if they did not in time."""
        try:
            async with asyncio.timeout(within_s):
                while self.received < count:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            return False
        return True

    async def open(self) -> None:
        channels = [
            ConsoleClient(self._target, "")
            for _ in range(0, len(self._agents), _STREAMS_PER_CHANNEL)
        ]
        for n, (_, queue, agent) in enumerate(self._agents):
            channel = channels[n // _STREAMS_PER_CHANNEL]
            client = channel.as_agent(agent, agent)
            call = client.subscribe([queue])
            self.calls.append(call)
            self._tasks.append(asyncio.create_task(self._read(call)))
        self.clients = channels
        await asyncio.gather(*(call.initial_metadata() for call in self.calls))

    async def _read(self, call: Any) -> None:
        try:
            async for response in call:
                if response.WhichOneof("payload") != "delivery":
                    continue
                self.received += 1
                self._arrived.set()
                decided = response.delivery.decision.timings.decided_at
                age = datetime.now(UTC) - decided.ToDatetime(tzinfo=UTC)
                self.latencies_ms.append(age.total_seconds() * 1000)
        except grpc.aio.AioRpcError as exc:
            self.errors.append(f"{exc.code().name}: {exc.details()}")

    async def close(self) -> None:
        for call in self.calls:
            call.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in self.clients:
            await client.close()


async def _publish(
    settings: WarmlineSettings, agents: list[tuple[str, str, str]], rate: float, seconds: float
) -> int:
    """Write decisions for random (tenant, queue) pairs at ``rate`` per second."""
    pairs = sorted({(tenant, queue) for tenant, queue, _ in agents})
    producer = create_producer(settings, "bench-decisioning")
    await producer.start()
    topic = settings.topics.name("escalations")
    sent = 0
    tick = 0.02
    per_tick = max(1, round(rate * tick))
    try:
        deadline = time.perf_counter() + seconds
        next_at = time.perf_counter()
        while time.perf_counter() < deadline:
            outputs = []
            for _ in range(per_tick):
                tenant, queue = pairs[sent % len(pairs)]
                d = _decision(sent, tenant, queue)
                key = conversation_key(tenant, d.conversation_id)
                outputs.append(Output(topic, key, d.SerializeToString()))
                sent += 1
            await produce_all(producer, outputs)
            next_at += tick
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    finally:
        await producer.stop()
    return sent


def _histogram(metrics_url: str, name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a histogram on a /metrics page."""
    with urllib.request.urlopen(metrics_url, timeout=5) as page:
        text = page.read().decode()
    buckets = []
    for family in text_string_to_metric_families(text):
        if family.name == name:
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    buckets.append((float(sample.labels["le"]), sample.value))
    return sorted(buckets)


def _quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The q-quantile (0-1) of a cumulative histogram, interpolated within its bucket."""
    total = buckets[-1][1] if buckets else 0.0
    if total == 0:
        return 0.0
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            share = (rank - lower_count) / max(count - lower_count, 1e-9)
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def _wait_ready(metrics_port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/readyz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the notification service did not become ready")


async def measure(streams: int, rate: float, seconds: float, kafka_version: str) -> dict[str, Any]:
    """Open the consoles, publish, and return the result dict."""
    agents = _agents(streams)
    with LocalKafka(version=kafka_version) as broker, tempfile.TemporaryDirectory() as tmp:
        settings = WarmlineSettings(
            kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers),
            notification=NotificationSettings(
                host="127.0.0.1",
                grpc_port=free_port(),
                http_port=free_port(),
                metrics_port=free_port(),
                agent_tokens_file=_tokens_file(Path(tmp) / "agents.yaml", agents),
                max_pending_per_console=100_000,
            ),
            log_level="WARNING",
        )
        await ensure_topics(settings)
        n = settings.notification
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "warmline", "serve", "notification",
            env={**os.environ, **settings_env(settings)},
        )  # fmt: skip
        consoles = _Consoles(f"127.0.0.1:{n.grpc_port}", agents)
        try:
            await asyncio.to_thread(_wait_ready, n.metrics_port)
            await consoles.open()
            await _publish(settings, agents, rate, 2.0)  # warm-up
            await asyncio.sleep(1.0)
            warm_received, consoles.latencies_ms = consoles.received, []
            started = time.perf_counter()
            sent = await _publish(settings, agents, rate, seconds)
            expected = warm_received + sent * _PER_QUEUE
            if not await consoles.reach(expected, within_s=30):
                raise RuntimeError(
                    f"consoles received {consoles.received - warm_received} of "
                    f"{sent * _PER_QUEUE} deliveries within 30 s; "
                    f"{len(consoles.errors)} streams failed: {sorted(set(consoles.errors))[:3]}"
                )
            elapsed = time.perf_counter() - started
            buckets = await asyncio.to_thread(
                _histogram,
                f"http://127.0.0.1:{n.metrics_port}/metrics",
                "warmline_notification_delivery_seconds",
            )
        finally:
            await consoles.close()
            service.send_signal(signal.SIGTERM)
            await asyncio.wait_for(service.wait(), 30)
    delivered = consoles.received - warm_received
    return {
        "concurrent_streams": streams,
        "deliveries_per_s": round(delivered / elapsed),
        "decisions_per_s": rate,
        "consoles_per_decision": _PER_QUEUE,
        "fanout_p50_ms": round(_quantile(buckets, 0.50) * 1000, 2),
        "fanout_p99_ms": round(_quantile(buckets, 0.99) * 1000, 2),
        "publish_to_console_p50_ms": round(percentile(consoles.latencies_ms, 50), 2),
        "publish_to_console_p99_ms": round(percentile(consoles.latencies_ms, 99), 2),
        "seconds": seconds,
        "kafka_version": kafka_version,
        "targets": {"concurrent_streams": 2_000, "fanout_p99_ms": 20},
    }


def run(
    out: Path,
    streams: int = 2_000,
    rate: float = 200.0,
    seconds: float = 10.0,
    kafka_version: str | None = None,
) -> dict[str, Any]:
    """Measure and write the JSON result to ``out``."""
    version = kafka_version or os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    return write_result(out, asyncio.run(measure(streams, rate, seconds, version)))
