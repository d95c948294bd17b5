"""``warmline bench scoring``: the scoring service vs. the bare model, same texts, same run.

1. ``model_only_msgs_per_s``: the engine scores the texts in calls of
   ``POLL_MAX_RECORDS`` (what the service hands it per poll), nothing else.
2. ``msgs_per_s``: the interactions topic is pre-filled with the same texts as
   customer messages; the service (consumer, micro-batcher, producer, commits)
   runs until all are on the scored topic. The rate is the steady one, from the
   first scored record read to the last (the records of that first read are not
   counted); ``startup_s`` is the time from starting the service to that first
   read (joining the group, the first poll and batch), which a 1,000-message run
   at ~1,000 msgs/s would otherwise count as a third of its time.
3. ``added_latency_p99_ms``: messages produced at half of that rate; for each,
   the time from produce to reading it scored, minus the model time of its batch.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from warmline.bench.common import percentile, write_result
from warmline.bench.model import load_texts
from warmline.common.kafka import create_producer
from warmline.common.keys import conversation_key
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import KafkaSettings, ScoringSettings, WarmlineSettings
from warmline.common.topics import ensure_topics
from warmline.localkafka import LocalKafka
from warmline.model.engine import EmotionEngine
from warmline.scoring.service import ScoringService
from warmline.v1 import events_pb2, scoring_pb2


def _events(texts: list[str], prefix: str) -> list[events_pb2.InteractionEvent]:
    events = []
    for i, text in enumerate(texts):
        e = events_pb2.InteractionEvent(
            event_id=f"{prefix}-{i}", tenant_id="bench", conversation_id=f"conv-{i % 200}",
            channel=events_pb2.CHANNEL_CHAT, role=events_pb2.ROLE_CUSTOMER,
            kind=events_pb2.EVENT_KIND_MESSAGE, text=text, language="en",
        )  # fmt: skip
        e.occurred_at.FromDatetime(datetime.now(UTC))
        events.append(e)
    return events


def _outputs(settings: WarmlineSettings, events: list[events_pb2.InteractionEvent]) -> list[Output]:
    topic = settings.topics.name("interactions")
    return [
        Output(topic, conversation_key("bench", e.conversation_id), e.SerializeToString())
        for e in events
    ]


async def _drain(
    consumer: AIOKafkaConsumer, count: int, on_record: Any = None
) -> tuple[float, int]:
    """Read ``count`` records; returns when the first read came and how many it held."""
    seen = 0
    first: tuple[float, int] | None = None
    while seen < count:
        batches = await consumer.getmany(timeout_ms=100)
        for records in batches.values():
            for record in records:
                seen += 1
                if on_record is not None:
                    on_record(record)
        if first is None and seen:
            first = (time.perf_counter(), seen)
    assert first is not None
    return first


async def measure(messages: int, kafka_version: str) -> dict[str, Any]:
    """Run the three measurements and return the result dict."""
    texts, source = load_texts(messages)
    settings = WarmlineSettings(
        scoring=ScoringSettings(grpc_port=0, metrics_port=0, host="127.0.0.1")
    )
    engine = EmotionEngine(
        threads=settings.scoring.threads, batch_size=settings.scoring.max_batch_size
    )
    engine.score(texts[:64])
    # The bare model gets the same calls the service makes: one per poll of records.
    chunk = settings.scoring.poll_max_records
    started = time.perf_counter()
    for i in range(0, len(texts), chunk):
        engine.score(texts[i : i + chunk])
    model_only = len(texts) / (time.perf_counter() - started)

    with LocalKafka(version=kafka_version) as broker:
        settings = settings.model_copy(
            update={"kafka": KafkaSettings(bootstrap_servers=broker.bootstrap_servers)}
        )
        await ensure_topics(settings)
        producer = create_producer(settings, "bench")
        await producer.start()
        await produce_all(producer, _outputs(settings, _events(texts, "fill")))
        reader = AIOKafkaConsumer(
            settings.topics.name("scored"), bootstrap_servers=broker.bootstrap_servers,
            auto_offset_reset="earliest", group_id="bench-reader",
        )  # fmt: skip
        await reader.start()
        service = ScoringService(settings, engine=lambda: engine)
        started = time.perf_counter()
        await service.start()
        first_at, first_count = await _drain(reader, len(texts))
        service_rate = (len(texts) - first_count) / (time.perf_counter() - first_at)
        startup_s = first_at - started

        # Half of saturation, paced; latency = produce -> read, minus model time.
        sent_at: dict[str, float] = {}
        added: list[float] = []

        def on_record(record: Any) -> None:
            scored = scoring_pb2.ScoredEvent.FromString(record.value)
            total_ms = (time.perf_counter() - sent_at[scored.event.event_id]) * 1000
            added.append(max(0.0, total_ms - scored.inference_ms))

        paced = _events(texts[: max(50, len(texts) // 2)], "paced")
        interval = 1 / (service_rate / 2)

        async def send_paced() -> None:
            for e in paced:
                sent_at[e.event_id] = time.perf_counter()
                await produce_all(producer, _outputs(settings, [e]))
                await asyncio.sleep(interval)

        await asyncio.gather(send_paced(), _drain(reader, len(paced), on_record))
        await service.stop()
        await reader.stop()
        await producer.stop()
    return {
        "msgs_per_s": round(service_rate, 1),
        "model_only_msgs_per_s": round(model_only, 1),
        "ratio_to_model": round(service_rate / model_only, 3),
        "added_latency_p99_ms": round(percentile(added, 99), 1),
        "added_latency_p50_ms": round(percentile(added, 50), 1),
        "paced_msgs_per_s": round(service_rate / 2, 1),
        "startup_s": round(startup_s, 2),
        "messages": len(texts),
        "texts": source,
        "threads": settings.scoring.threads,
        "max_batch_size": settings.scoring.max_batch_size,
        "model_version": engine.model_version,
        "kafka_version": kafka_version,
        "targets": {"ratio_to_model": 0.8, "added_latency_p99_ms": 100},
    }


def run(out: Path, messages: int = 4096, kafka_version: str | None = None) -> dict[str, Any]:
    """Measure and write the JSON result to ``out``."""
    version = kafka_version or os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    return write_result(out, asyncio.run(measure(messages, version)))
