"""``warmline bench ingest``: events/s over one gRPC stream vs. a bare producer.

Starts a local broker and the ingestion service as its own process (as in
production, so client and service do not share one interpreter), then:

1. ``raw_producer_events_per_s``: a bare aiokafka producer (acks=all,
   idempotent, same linger) writes the same serialized events to the same broker;
2. ``events_per_s``: one ``PublishStream`` as fast as the service acknowledges;
3. ``ack_p50_ms``/``ack_p99_ms``: batches paced at 5,000 events/s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from warmline.bench.common import percentile, sample_event, write_result
from warmline.common.credentials import hash_key
from warmline.common.kafka import create_producer
from warmline.common.keys import conversation_key
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import (
    IngestionSettings,
    KafkaSettings,
    WarmlineSettings,
    settings_env,
)
from warmline.common.topics import ensure_topics
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import free_port
from warmline.v1 import ingest_pb2, ingest_pb2_grpc

_API_KEY = "bench-key"
_BATCH = 500
# At a steady 5,000 events/s a platform flushes small batches often (every 10 ms).
_PACED_BATCH = 50


async def raw_producer_rate(settings: WarmlineSettings, seconds: float) -> float:
    """Events/s a bare idempotent producer writes, with as many batches in flight as the stream."""
    producer = create_producer(settings, "bench-raw")
    await producer.start()
    topic = settings.topics.name("interactions")
    window = asyncio.Semaphore(8)
    sent = 0

    async def one_batch(first: int) -> None:
        nonlocal sent
        outputs = []
        for i in range(first, first + _BATCH):
            event = sample_event(i)
            event.tenant_id = "bench"
            key = conversation_key("bench", event.conversation_id)
            outputs.append(Output(topic, key, event.SerializeToString()))
        try:
            await produce_all(producer, outputs)
            sent += len(outputs)
        finally:
            window.release()

    try:
        tasks = []
        started = time.perf_counter()
        deadline = started + seconds
        first = 0
        while time.perf_counter() < deadline:
            await window.acquire()
            tasks.append(asyncio.create_task(one_batch(first)))
            first += _BATCH
        await asyncio.gather(*tasks)
        return sent / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def _stream(
    stub: ingest_pb2_grpc.IngestServiceStub, seconds: float, rate: float | None, first_id: int
) -> tuple[int, float, list[float]]:
    """Stream batches for ``seconds`` (paced to ``rate`` events/s if given).

    Returns (accepted events, elapsed seconds, per-batch ack latencies in ms).
    """
    sent_at: list[float] = []
    latencies: list[float] = []
    batch = _PACED_BATCH if rate else _BATCH
    interval = batch / rate if rate else 0.0
    # Without pacing, keep a few batches in flight, as a platform would.
    window = asyncio.Semaphore(8)

    async def requests() -> AsyncIterator[ingest_pb2.PublishStreamRequest]:
        i = first_id
        deadline = time.perf_counter() + seconds
        next_at = time.perf_counter()
        while time.perf_counter() < deadline:
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
            else:
                await window.acquire()
            events = [sample_event(n) for n in range(i, i + batch)]
            i += batch
            sent_at.append(time.perf_counter())
            yield ingest_pb2.PublishStreamRequest(events=events)

    accepted = 0
    started = time.perf_counter()
    async for reply in stub.PublishStream(
        requests(), metadata=(("authorization", f"Bearer {_API_KEY}"),)
    ):
        latencies.append((time.perf_counter() - sent_at[len(latencies)]) * 1000)
        accepted += sum(a.status == ingest_pb2.ACK_STATUS_ACCEPTED for a in reply.acks)
        if not interval:
            window.release()
    return accepted, time.perf_counter() - started, latencies


def _service_settings(
    settings: WarmlineSettings, keys_file: Path, grpc_port: int
) -> WarmlineSettings:
    """The service's settings: this broker, free ports, no rate limit in the way."""
    ingestion = IngestionSettings(
        host="127.0.0.1",
        grpc_port=grpc_port,
        http_port=free_port(),
        metrics_port=free_port(),
        api_keys_file=keys_file,
        rate_limit_per_s=1_000_000,
        rate_limit_burst=1_000_000,
    )
    return settings.model_copy(update={"ingestion": ingestion, "log_level": "WARNING"})


async def _wait_serving(target: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the ingestion service did not become SERVING")


async def measure(seconds: float, kafka_version: str) -> dict[str, Any]:
    """Run the three measurements and return the result dict."""
    with LocalKafka(version=kafka_version) as broker, tempfile.TemporaryDirectory() as tmp:
        settings = WarmlineSettings(kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers))
        await ensure_topics(settings)
        raw = await raw_producer_rate(settings, seconds)

        keys_file = Path(tmp) / "tenants.yaml"
        keys_file.write_text(
            yaml.safe_dump({"tenants": {"bench": {"api_key_sha256": [hash_key(_API_KEY)]}}})
        )
        port = free_port()
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "warmline", "serve", "ingestion",
            env={**os.environ, **settings_env(_service_settings(settings, keys_file, port))},
        )  # fmt: skip
        try:
            target = f"127.0.0.1:{port}"
            await _wait_serving(target)
            async with grpc.aio.insecure_channel(target) as channel:
                stub = ingest_pb2_grpc.IngestServiceStub(channel)
                await _stream(stub, 2.0, None, first_id=10_000_000)  # warm-up
                accepted, elapsed, _ = await _stream(stub, seconds, None, first_id=20_000_000)
                _, _, paced = await _stream(stub, seconds, 5_000, first_id=30_000_000)
        finally:
            service.send_signal(signal.SIGTERM)
            await asyncio.wait_for(service.wait(), 30)
    events_per_s = accepted / elapsed
    return {
        "events_per_s": round(events_per_s),
        "ack_p50_ms": round(percentile(paced, 50), 2),
        "ack_p99_ms": round(percentile(paced, 99), 2),
        "ack_latency_rate_events_per_s": 5_000,
        "batch_events": _BATCH,
        "paced_batch_events": _PACED_BATCH,
        "raw_producer_events_per_s": round(raw),
        "ratio_to_raw": round(events_per_s / raw, 3),
        "seconds": seconds,
        "kafka_version": kafka_version,
        "targets": {"events_per_s": 20_000, "ratio_to_raw": 0.5, "ack_p99_ms": 50},
    }


def run(out: Path, seconds: float = 10.0, kafka_version: str | None = None) -> dict[str, Any]:
    """Measure and write the JSON result to ``out``."""
    version = kafka_version or os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    return write_result(out, asyncio.run(measure(seconds, version)))
