"""Wiring of the scoring service: model, micro-batcher, Kafka pipeline, gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer

from warmline.common.grpc_server import GrpcServer
from warmline.common.health import Readiness
from warmline.common.kafka import (
    create_consumer,
    create_producer,
    start_when_reachable,
    watch_kafka,
)
from warmline.common.metrics import MODEL_INFO, SCORING_CONSUMER_LAG
from warmline.common.ops_http import OpsServer
from warmline.common.pipeline import run_pipeline
from warmline.common.runtime import ServiceMain, cancel_all, serve_until_stopped
from warmline.common.settings import WarmlineSettings
from warmline.common.tenants import TenantDirectory
from warmline.common.tls import server_credentials
from warmline.common.topics import ensure_topics
from warmline.model.context import ContextualScorer, ConversationWindows, TurnReader
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.results import EmotionResult
from warmline.model.serving import ServingEngine
from warmline.model.turns import Turn, TurnScore
from warmline.scoring.batcher import MicroBatcher, ModelNotReady
from warmline.scoring.grpc_api import ScoringServicer
from warmline.scoring.handler import ScoringHandler
from warmline.v1 import scoring_pb2, scoring_pb2_grpc

log = logging.getLogger(__name__)

_WARM_UP = ["Hello, where is my order?", "This is the third time I ask. I am so angry."]


class Engine(TurnReader, Protocol):
    """What the service needs of an engine: the scorer's reading, whole-text scoring
    and the names the metrics and records carry."""

    @property
    def model_version(self) -> str:
        """The bundle's version."""
        ...

    @property
    def taxonomy_version(self) -> str:
        """The results' taxonomy version."""
        ...

    @property
    def device(self) -> object:
        """Where the model runs (its ``str`` is the metric's label)."""
        ...

    def score(self, texts: Sequence[str]) -> list[EmotionResult]:
        """One result per text, in input order."""
        ...


EngineFactory = Callable[[], Engine]


def default_engine(settings: WarmlineSettings) -> EngineFactory:
    """The engine the settings describe: from the serving directory without torch when
    ``SCORING__SERVING_DIR`` is set (the scoring image), else the torch engine."""
    s = settings.scoring
    if s.serving_dir is not None:
        if s.device != "cpu" or s.quantize:
            raise ValueError(
                "WARMLINE_SCORING__SERVING_DIR runs the int8 graph on CPU: leave "
                "WARMLINE_SCORING__DEVICE and WARMLINE_SCORING__QUANTIZE unset"
            )
        serving_dir = s.serving_dir
        return lambda: ServingEngine(
            s.model_dir or DEFAULT_MODEL_DIR,
            serving_dir,
            threads=s.threads,
            batch_size=s.max_batch_size,
        )

    def torch_engine() -> Engine:
        # Imported here: only a process that builds the torch engine loads torch.
        from warmline.model.engine import EmotionEngine

        return EmotionEngine(
            s.model_dir,
            device=s.device,
            threads=s.threads,
            quantize=s.quantize,
            batch_size=s.max_batch_size,
            onnx_cache_dir=s.onnx_cache_dir,
        )

    return torch_engine


def load_score_tenants(settings: WarmlineSettings) -> TenantDirectory | None:
    """The tenants whose API keys may call ``Score``; None (every call refused) without
    a credentials file. The stream needs no key."""
    path = settings.scoring.api_keys_file
    if path is None:
        log.warning(
            "Score refuses every call: set WARMLINE_SCORING__API_KEYS_FILE to the tenants' "
            "API-key file to serve it"
        )
        return None
    return TenantDirectory.from_file(path)


class ScoringService:
    """The running service; ``grpc.port`` is known after construction (0 picks a free one)."""

    def __init__(self, settings: WarmlineSettings, engine: EngineFactory | None = None) -> None:
        self.settings = settings
        s = settings.scoring
        self._engine_factory = engine or default_engine(settings)
        # "assignment": the consumer group is settled and this replica has its partitions.
        self.readiness = Readiness("kafka", "model", "assignment")
        self.ops = OpsServer(self.readiness, s.host, s.metrics_port)
        name = scoring_pb2.DESCRIPTOR.services_by_name["ScoringService"].full_name
        self.grpc = GrpcServer(
            [
                (
                    scoring_pb2_grpc.add_ScoringServiceServicer_to_server,
                    ScoringServicer(self.score, load_score_tenants(settings)),
                    name,
                )
            ],
            self.readiness,
            address=f"{s.host}:{s.grpc_port}",
            credentials=server_credentials(s, "scoring"),
        )
        self.producer = create_producer(settings, "warmline-scoring")
        self.consumer = create_consumer(
            settings,
            s.consumer_group,
            settings.topics.name("interactions"),
            client_id="warmline-scoring",
            readiness=self.readiness,
        )
        self.scorer: ContextualScorer | None = None
        self._batcher: MicroBatcher[Turn, TurnScore] | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.pipeline: asyncio.Task[None] | None = None

    def crashed(self) -> asyncio.Task[None] | None:
        """The pipeline: if it fails (Kafka refused a write), the service stops."""
        return self.pipeline

    async def score(self, texts: Sequence[str]) -> list[EmotionResult]:
        """Score texts alone (no conversation) through the shared micro-batcher."""
        if self._batcher is None:
            raise ModelNotReady("the emotion model is still loading")
        scores = await self._batcher.score([Turn(text) for text in texts])
        return [score.result for score in scores if score.result is not None]

    async def score_poll(self, turns: Sequence[Turn]) -> list[TurnScore]:
        """Read one poll of the stream's turns in their conversations: the pipeline
        sends nothing more until it is scored, so its batch does not wait for others."""
        if self._batcher is None:
            raise ModelNotReady("the emotion model is still loading")
        return await self._batcher.score(turns, wait_for_more=False)

    async def start(self) -> None:
        """Serve health at once; load and warm the model; then join the consumer group."""
        s = self.settings.scoring
        await self.ops.start()
        await self.grpc.start()
        engine = await asyncio.to_thread(self._load_engine)
        self.scorer = ContextualScorer(
            engine, ConversationWindows(s.context_conversations, s.context_idle_s)
        )
        self._batcher = MicroBatcher(
            self.scorer.score, max_batch_size=s.max_batch_size, max_wait_ms=s.max_wait_ms
        )
        self._batcher.start()
        self.readiness.set("model", True)
        if not await start_when_reachable(self._connect, "scoring", self._stop):
            return
        self._tasks.append(
            asyncio.create_task(watch_kafka(self.settings, self.readiness, self._stop))
        )
        self._tasks.append(asyncio.create_task(self._report_lag()))
        handler = ScoringHandler(
            self.settings, self.score_poll, engine.model_version, engine.taxonomy_version
        )
        self.pipeline = asyncio.create_task(
            run_pipeline(
                self.consumer,
                self.producer,
                handler,
                self._stop,
                max_records=s.poll_max_records,
                delivery_timeout_s=self.settings.kafka.delivery_timeout_ms / 1000,
                name="scoring",
            )
        )
        log.info(
            "scoring serving", extra={"grpc_port": self.grpc.port, "model": engine.model_version}
        )

    def _load_engine(self) -> Engine:
        engine = self._engine_factory()
        engine.score(_WARM_UP)  # first call pays allocator and kernel set-up
        MODEL_INFO.info({"version": engine.model_version, "device": str(engine.device)})
        return engine

    async def _connect(self) -> None:
        await ensure_topics(self.settings)
        await self.producer.start()
        await self.consumer.start()

    async def _report_lag(self) -> None:
        reported: set[str] = set()
        while not self._stop.is_set():
            reported = await report_lag(self.consumer, reported)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 5)

    async def stop(self) -> None:
        """Drain: finish and commit the batch in progress, then close everything."""
        grace = self.settings.scoring.shutdown_grace_s
        self._stop.set()
        if self.pipeline is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.pipeline), grace)
        await self.grpc.stop(grace)
        if self._batcher is not None:
            await self._batcher.close()
        for closing in (self.consumer.stop(), self.producer.stop()):
            # aiokafka may hang while brokers are gone (aio-libs/aiokafka#1101).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closing, grace)
        await cancel_all(self._tasks)
        await self.ops.stop()


async def report_lag(consumer: AIOKafkaConsumer, reported: set[str]) -> set[str]:
    """Set the lag of each assigned partition; returns the partitions with a lag series.

    The series of a partition a rebalance took away is removed: another replica
    reports it now, and a frozen value here would be summed with its own.
    """
    assigned = consumer.assignment()
    kept = reported & {str(tp.partition) for tp in assigned}
    for partition in reported - kept:
        SCORING_CONSUMER_LAG.remove(partition)
    for tp in assigned:
        highwater = consumer.highwater(tp)
        if highwater is not None:
            with contextlib.suppress(Exception):
                lag = highwater - await consumer.position(tp)
                SCORING_CONSUMER_LAG.labels(str(tp.partition)).set(max(0, lag))
                kept.add(str(tp.partition))
    return kept


def serve(settings: WarmlineSettings) -> ServiceMain:
    """Entry point for ``warmline serve scoring``."""

    async def main(stop: asyncio.Event) -> None:
        await serve_until_stopped(ScoringService(settings), stop)

    return main
