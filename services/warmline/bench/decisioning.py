"""``warmline bench decisioning``: the Faust decisioning worker vs. a bare aiokafka loop.

The scored topic is pre-filled with synthetic ``ScoredEvent`` records over many
conversations (calm, annoyed and angry turns, a few asking for a person), then
both consumers read all of them, one after the other, on the same broker:

1. ``raw_loop_events_per_s``: a bare aiokafka consume -> transform (decode the
   protobuf, encode a small output) -> produce -> commit loop, acks=all, in
   batches of the worker's size (``BATCH_MAX``), each acknowledged before the
   next, which is the worker's contract too; ``raw_loop_500_events_per_s``: the
   same loop with 500-record batches, where aiokafka is no longer bound by the
   round trip per batch (context for the ratio, which uses the like-for-like loop);
2. ``events_per_s``: one decisioning worker (``DecisioningService``: the Faust
   app, its table and changelog, decisions to the escalations topic).

Both rates run from the first record read to the last one handled, so group
joins and the app's start-up are reported apart (``*_startup_s``), not mixed in.
Each is the median of ``passes`` passes over the same records (a fresh consumer
group, and for the worker a fresh app id and empty tables, each time); the
passes are reported too, because on a small shared machine they vary by ±15%.
A worker that fails, or handles nothing for ``STALL_S``, ends the benchmark with
:class:`BenchError` instead of a hang.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from warmline.bench.common import write_result
from warmline.common.kafka import create_consumer, create_producer
from warmline.common.keys import conversation_key
from warmline.common.metrics import DECISIONS, KAFKA_RECORDS_CONSUMED
from warmline.common.pipeline import Output, next_offsets, produce_all
from warmline.common.settings import DecisioningSettings, KafkaSettings, WarmlineSettings
from warmline.common.topics import TopicSpec, declared_topics, ensure_topics
from warmline.decisioning.agents import BATCH_MAX
from warmline.decisioning.service import DecisioningService
from warmline.localkafka import LocalKafka
from warmline.model.taxonomy import LABELS, TAXONOMY_VERSION, signals
from warmline.v1 import escalation_pb2, events_pb2, scoring_pb2

_TEXTS = (
    ("Where is my order? It was due yesterday.", 0.2),
    ("I have been charged twice for the same subscription.", 0.45),
    ("Thanks, that fixed it!", 0.02),
    ("This is the third time I am asking the same question.", 0.6),
    ("Still nothing. This is ridiculous.", 0.85),
    ("ok", 0.1),
)
_HUMAN = "Can I talk to a real person please"
#: The tenant of every record.
TENANT = "bench"
_FILL_CHUNK = 5_000
#: Seconds a worker may start, or go without handling a record, before the run is abandoned.
STALL_S = 90.0


class BenchError(RuntimeError):
    """The worker failed or stopped making progress; the run has no result."""


def scored_events(count: int, conversations: int) -> list[tuple[bytes, bytes]]:
    """``count`` serialized customer turns, round-robin over ``conversations``.

    Turn texts and negativity cycle with an offset per conversation, so each one
    sours (a streak of annoyed turns) at a turn of its own and escalates once;
    every 40th conversation also asks for a person (see :func:`scored_turn`).
    """
    start = datetime.now(UTC)
    records = []
    for i in range(count):
        conv, turn = i % conversations, i // conversations
        text, negativity = _TEXTS[(turn + conv) % len(_TEXTS)]
        if conv % 40 == 0 and turn == 3:
            text = _HUMAN
        scored = scored_turn(
            f"bench-{i}", f"conv-{conv}", f"cust-{conv}", text, negativity,
            start + timedelta(milliseconds=i), turn, salt=i,
        )  # fmt: skip
        records.append((conversation_key(TENANT, f"conv-{conv}"), scored.SerializeToString()))
    return records


def scored_turn(
    event_id: str,
    conversation_id: str,
    customer_id: str,
    text: str,
    negativity: float,
    at: datetime,
    turn: int,
    salt: int = 0,
) -> scoring_pb2.ScoredEvent:
    """One customer turn of tenant :data:`TENANT` at ``at``, shaped like the scoring
    service's output: a probability for all 28 labels (annoyance carries
    ``negativity``), every signal from the same taxonomy, the predicted labels,
    low situation probabilities and the versions. ``salt`` varies the other
    labels' noise."""
    event = events_pb2.InteractionEvent(
        event_id=event_id, tenant_id=TENANT, conversation_id=conversation_id,
        customer_id=customer_id, channel=events_pb2.CHANNEL_CHAT,
        role=events_pb2.ROLE_CUSTOMER, kind=events_pb2.EVENT_KIND_MESSAGE,
        text=text, language="en",
    )  # fmt: skip
    event.occurred_at.FromDatetime(at)
    event.ingested_at.FromDatetime(at + timedelta(milliseconds=2))
    labels = _label_probabilities(negativity, salt)
    scored = scoring_pb2.ScoredEvent(
        event=event,
        scores=scoring_pb2.EmotionScores(
            status=scoring_pb2.SCORE_STATUS_SCORED,
            labels=labels,
            signals=scoring_pb2.Signals(**signals(labels)),
            predicted_labels=[name for name, p in labels.items() if p >= 0.3],
            model_version="bench",
            taxonomy_version=TAXONOMY_VERSION,
            # Low situation probabilities: read on every turn, never firing.
            situations=scoring_pb2.Situations(
                sensitive=0.02, vulnerability=0.01, churn_threat=0.03, regulator_complaint=0.01
            ),
        ),
    )
    scored.context.context_turns = 2 * turn
    scored.context.repeat_similarity = 0.3 if turn else 0.0
    scored.scored_at.FromDatetime(at + timedelta(milliseconds=40))
    return scored


def _label_probabilities(negativity: float, salt: int) -> dict[str, float]:
    """A probability for every label: annoyance and neutral carry the turn, the rest is noise."""
    labels = {name: ((salt * 31 + n * 17) % 97) / 4000 for n, name in enumerate(LABELS)}
    labels["annoyance"] = negativity
    labels["neutral"] = 1 - negativity
    return labels


async def _fill(settings: WarmlineSettings, records: list[tuple[bytes, bytes]]) -> None:
    producer = create_producer(settings, "bench-fill")
    await producer.start()
    topic = settings.topics.name("scored")
    try:
        for i in range(0, len(records), _FILL_CHUNK):
            chunk = records[i : i + _FILL_CHUNK]
            await produce_all(producer, [Output(topic, k, v) for k, v in chunk], timeout_s=120)
    finally:
        await producer.stop()


def _transform(value: bytes) -> bytes:
    """What the bare loop does per record: decode it, encode a small output."""
    scored = scoring_pb2.ScoredEvent.FromString(value)
    event = scored.event
    return escalation_pb2.EscalationDecision(
        decision_id=event.event_id,
        tenant_id=event.tenant_id,
        conversation_id=event.conversation_id,
        trigger_event_id=event.event_id,
    ).SerializeToString()


async def raw_loop(
    settings: WarmlineSettings, out_topic: str, count: int, batch: int, stall_s: float = STALL_S
) -> tuple[float, float]:
    """Consume ``count`` scored records, produce one output each, commit per batch.

    Returns (events/s from the first record read to the last commit, start-up seconds).
    Raises :class:`BenchError` when it reads nothing for ``stall_s`` (a broker that
    answers every fetch with an error once left the bench waiting forever).
    """
    started = time.perf_counter()
    consumer = create_consumer(
        settings, f"bench-raw-{uuid.uuid4().hex[:8]}", settings.topics.name("scored"),
        client_id="bench-raw",
    )  # fmt: skip
    producer = create_producer(settings, "bench-raw")
    await asyncio.gather(consumer.start(), producer.start())
    first: float | None = None
    done = 0
    read_at = time.perf_counter()
    try:
        while done < count:
            batches = await consumer.getmany(timeout_ms=100, max_records=batch)
            records = [r for rs in batches.values() for r in rs]
            if not records:
                if time.perf_counter() - read_at > stall_s:
                    raise BenchError(
                        f"the bare loop read nothing for {stall_s:.0f}s "
                        f"({done} of {count} records done)"
                    )
                continue
            read_at = time.perf_counter()
            first = first or read_at
            await produce_all(
                producer, [Output(out_topic, r.key, _transform(r.value)) for r in records]
            )
            await consumer.commit(next_offsets(records))
            done += len(records)
        assert first is not None
        return count / (time.perf_counter() - first), first - started
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())


def _consumed(topic: str) -> float:
    return sum(
        sample.value
        for metric in KAFKA_RECORDS_CONSUMED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["topic"] == topic
    )


async def service_rate(settings: WarmlineSettings, count: int) -> tuple[float, float, float]:
    """Run one decisioning worker until it has handled ``count`` records.

    Returns (events/s from its first record to its last, start-up seconds, decisions).
    Records are counted by the worker's own ``warmline_kafka_records_consumed_total``.
    Raises :class:`BenchError` when the worker fails or stalls.
    """
    topic = settings.topics.name("scored")
    before = _consumed(topic)
    decisions_before = _decisions()
    service = DecisioningService(settings)
    started = time.perf_counter()
    first: float | None = None
    done_at_first = 0.0
    try:
        try:
            await asyncio.wait_for(service.start(), STALL_S)
        except TimeoutError:
            raise BenchError(
                f"the decisioning worker did not start within {STALL_S:.0f}s"
            ) from None
        progress_at, last_done = time.perf_counter(), 0.0
        while (done := _consumed(topic) - before) < count:
            now = time.perf_counter()
            if done and first is None:
                first, done_at_first = now, done
            if done != last_done:
                progress_at, last_done = now, done
            _raise_if_stuck(service, now - progress_at, done, count)
            await asyncio.sleep(0.02)
        finished = time.perf_counter()
    finally:
        await service.stop()
    if first is None:  # everything was handled before the first look
        first, done_at_first = started, 0.0
    rate = (count - done_at_first) / (finished - first)
    return rate, first - started, _decisions() - decisions_before


def _raise_if_stuck(service: DecisioningService, idle_s: float, done: float, count: int) -> None:
    failed = service.stream.failed if service.stream is not None else None
    if failed is not None and failed.done():
        raise BenchError(f"the decisioning worker failed: {failed.exception()!r}")
    if idle_s > STALL_S:
        raise BenchError(
            f"the decisioning worker handled nothing for {STALL_S:.0f}s "
            f"({done:.0f} of {count} records done)"
        )


def _decisions() -> float:
    return sum(
        sample.value
        for metric in DECISIONS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def measure(
    count: int, conversations: int, kafka_version: str, passes: int = 3
) -> dict[str, Any]:
    """Fill the scored topic, then time the bare loops and the worker over it, ``passes`` times."""
    records = scored_events(count, conversations)
    with LocalKafka(version=kafka_version) as broker, tempfile.TemporaryDirectory() as data:
        settings = WarmlineSettings(
            kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers),
            decisioning=DecisioningSettings(
                host="127.0.0.1", metrics_port=0, app_id="bench-decisioning", data_dir=Path(data)
            ),
        )
        t = settings.topics
        raw_out = TopicSpec(t.name("scored") + ".bench-raw", t.partitions, t.replication_factor, {})
        await ensure_topics(settings, [*declared_topics(settings), raw_out])
        await _fill(settings, records)
        raw, raw_500, worker = [], [], []
        for n in range(passes):
            raw.append(await raw_loop(settings, raw_out.name, count, BATCH_MAX))
            raw_500.append(await raw_loop(settings, raw_out.name, count, 500))
            # A fresh app id: a new consumer group from the first record, empty tables.
            app_id = f"bench-decisioning-{n}"
            pass_settings = settings.model_copy(
                update={
                    "decisioning": settings.decisioning.model_copy(
                        update={"app_id": app_id, "data_dir": Path(data) / app_id}
                    )
                }
            )
            worker.append(await service_rate(pass_settings, count))
    rate = statistics.median(r for r, _, _ in worker)
    raw_rate = statistics.median(r for r, _ in raw)
    raw_500_rate = statistics.median(r for r, _ in raw_500)
    return {
        "events_per_s": round(rate, 1),
        "raw_loop_events_per_s": round(raw_rate, 1),
        "ratio_to_raw": round(rate / raw_rate, 3),
        "raw_loop_500_events_per_s": round(raw_500_rate, 1),
        "ratio_to_raw_500": round(rate / raw_500_rate, 3),
        "events_per_s_passes": [round(r, 1) for r, _, _ in worker],
        "raw_loop_events_per_s_passes": [round(r, 1) for r, _ in raw],
        "startup_s": round(statistics.median(s for _, s, _ in worker), 2),
        "raw_loop_startup_s": round(statistics.median(s for _, s in raw), 2),
        "events": count,
        "conversations": conversations,
        "decisions_per_pass": [int(d) for *_, d in worker],
        "partitions": settings.topics.partitions,
        "batch_max": BATCH_MAX,
        "kafka_version": kafka_version,
        "targets": {"events_per_s": 5000, "ratio_to_raw": 0.3},
    }


def run(
    out: Path,
    events: int = 50_000,
    conversations: int = 2_000,
    kafka_version: str | None = None,
    passes: int = 3,
) -> dict[str, Any]:
    """Measure and write the JSON result to ``out``."""
    version = kafka_version or os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    return write_result(out, asyncio.run(measure(events, conversations, version, passes)))
