"""The embedded default: a real local broker, the services that exist (ingestion,
scoring), and sample conversations replayed as live traffic, shown as they come
out of the scoring service with the emotion read in each customer message."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from warmline.bench.common import percentile
from warmline.common.credentials import hash_key
from warmline.common.settings import (
    DecisioningSettings,
    IngestionSettings,
    KafkaSettings,
    ScoringSettings,
    WarmlineSettings,
)
from warmline.decisioning.service import DecisioningService
from warmline.ingestion.auth import TenantDirectory
from warmline.ingestion.client import IngestClient, read_events
from warmline.ingestion.redaction import PII_KINDS
from warmline.ingestion.service import IngestionService
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import free_port
from warmline.scoring.service import ScoringService
from warmline.v1 import escalation_pb2, events_pb2, scoring_pb2

DEMO_TENANT = "demo"
_DEMO_KEY = "demo-key"
_TURN_GAP_S = 0.25
# How long the console keeps listening for decisions after the last event.
_DECISION_SETTLE_S = 3.0
_ROLE_STYLE = {
    events_pb2.ROLE_CUSTOMER: "bold yellow",
    events_pb2.ROLE_BOT: "cyan",
    events_pb2.ROLE_AGENT: "green",
    events_pb2.ROLE_SYSTEM: "dim",
}


def sample_conversations() -> dict[str, list[events_pb2.InteractionEvent]]:
    """The six conversations shipped with Warmline, turns in order."""
    source = resources.files("warmline.demo").joinpath("conversations.jsonl")
    with resources.as_file(source) as path:
        events = list(read_events(path))
    conversations: dict[str, list[events_pb2.InteractionEvent]] = defaultdict(list)
    for event in events:
        conversations[event.conversation_id].append(event)
    return dict(conversations)


def interleaved(
    conversations: dict[str, list[events_pb2.InteractionEvent]],
) -> Iterator[events_pb2.InteractionEvent]:
    """Turns of all conversations, round-robin, as they would arrive live."""
    for turn in itertools.zip_longest(*conversations.values()):
        yield from (event for event in turn if event is not None)


def dominant_emotion(scores: scoring_pb2.EmotionScores) -> str:
    """The most probable label other than neutral."""
    emotions = {k: v for k, v in scores.labels.items() if k != "neutral"}
    return max(emotions, key=emotions.__getitem__) if emotions else "-"


class _Show:
    """Reads the scored topic and prints each event as it lands, with its emotion."""

    def __init__(self, console: Console, settings: WarmlineSettings) -> None:
        self.console = console
        self.settings = settings
        self.latencies_ms: list[float] = []
        self.seen: Counter[str] = Counter()
        self.redactions: Counter[str] = Counter()
        self.peak_negativity: dict[str, float] = {}
        self.escalations: dict[str, list[escalation_pb2.EscalationDecision]] = defaultdict(list)

    async def run(self, expected: int, stop: asyncio.Event, assigned: asyncio.Event) -> None:
        escalations = self.settings.topics.name("escalations")
        consumer = AIOKafkaConsumer(
            self.settings.topics.name("scored"),
            escalations,
            bootstrap_servers=self.settings.kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            group_id="warmline-demo-console",
        )
        await consumer.start()
        try:
            settle_until: float | None = None
            loop = asyncio.get_running_loop()
            while not stop.is_set() and (settle_until is None or loop.time() < settle_until):
                batches = await consumer.getmany(timeout_ms=200)
                if consumer.assignment():
                    assigned.set()
                for record in (r for rs in batches.values() for r in rs):
                    if record.topic == escalations:
                        self._escalation(
                            escalation_pb2.EscalationDecision.FromString(record.value or b"")
                        )
                    else:
                        self._print(scoring_pb2.ScoredEvent.FromString(record.value or b""))
                if settle_until is None and sum(self.seen.values()) >= expected:
                    settle_until = loop.time() + _DECISION_SETTLE_S
        finally:
            await consumer.stop()

    def _print(self, scored: scoring_pb2.ScoredEvent) -> None:
        event = scored.event
        ingested = event.ingested_at.ToDatetime(tzinfo=UTC)
        self.latencies_ms.append((datetime.now(UTC) - ingested).total_seconds() * 1000)
        self.seen[event.conversation_id] += 1
        for kind in PII_KINDS:
            self.redactions[f"[{kind}]"] += event.text.count(f"[{kind}]")
        role = events_pb2.Role.Name(event.role).removeprefix("ROLE_").lower()
        text = (
            event.text or events_pb2.EventKind.Name(event.kind).removeprefix("EVENT_KIND_").lower()
        )
        emotion = ""
        if scored.scores.status == scoring_pb2.SCORE_STATUS_SCORED:
            negativity = scored.scores.signals.negativity
            peak = self.peak_negativity.get(event.conversation_id, 0.0)
            self.peak_negativity[event.conversation_id] = max(peak, negativity)
            colour = "red" if negativity >= 0.3 else "green"
            emotion = f"[{colour}]{dominant_emotion(scored.scores):<14} neg {negativity:.2f}[/] "
        self.console.print(
            f"[dim]{event.tenant_id}/[/dim][bold]{event.conversation_id:<16}[/bold] "
            f"[{_ROLE_STYLE.get(event.role, '')}]{role:<8}[/] {emotion}"
            f"[{_ROLE_STYLE.get(event.role, '')}]{text}[/]",
            highlight=False,
        )

    def _escalation(self, decision: escalation_pb2.EscalationDecision) -> None:
        self.escalations[decision.conversation_id].append(decision)
        action = escalation_pb2.DecisionAction.Name(decision.action).removeprefix(
            "DECISION_ACTION_"
        )
        priority = escalation_pb2.Priority.Name(decision.priority).removeprefix("PRIORITY_")
        reasons = ", ".join(r.code for r in decision.reasons)
        self.console.print(
            f"  [bold white on red] {action} [/] [bold]{decision.conversation_id}[/bold] -> queue "
            f"[bold]{decision.queue}[/bold], priority {priority}, reasons: {reasons}"
            + (" [magenta](abusive: text masked for the agent)[/]" if decision.abusive else ""),
            highlight=False,
        )
        for reason in decision.reasons:
            self.console.print(f"    [dim]- {reason.explanation}[/]", highlight=False)
        self.console.print(
            f'    [italic cyan]opening line: "{decision.opening_line}"[/]', highlight=False
        )


async def run_demo(
    console: Console, kafka_version: str | None = None, turn_gap_s: float = _TURN_GAP_S
) -> dict[str, object]:
    """Run the demo end to end and return its summary."""
    conversations = sample_conversations()
    events = list(interleaved(conversations))
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "tenants.yaml"
        keys.write_text(
            yaml.safe_dump({"tenants": {DEMO_TENANT: {"api_key_sha256": [hash_key(_DEMO_KEY)]}}})
        )
        console.print("[bold]Warmline demo[/bold]: starting a local Kafka broker (KRaft)...")
        broker = LocalKafka(version=kafka_version or LocalKafka.version)
        await asyncio.to_thread(broker.start)
        try:
            return await _with_broker(console, broker, keys, conversations, events, turn_gap_s)
        finally:
            await asyncio.to_thread(broker.cleanup)


async def _with_broker(
    console: Console,
    broker: LocalKafka,
    keys: Path,
    conversations: dict[str, list[events_pb2.InteractionEvent]],
    events: list[events_pb2.InteractionEvent],
    turn_gap_s: float,
) -> dict[str, object]:
    settings = WarmlineSettings(
        kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers),
        ingestion=IngestionSettings(
            host="127.0.0.1", grpc_port=0, http_port=0, metrics_port=0, api_keys_file=keys
        ),
        scoring=ScoringSettings(host="127.0.0.1", grpc_port=0, metrics_port=0, max_wait_ms=5),
        decisioning=DecisioningSettings(
            host="127.0.0.1",
            http_port=free_port(),
            metrics_port=0,
            data_dir=keys.parent / "decisioning",
        ),
    )
    service = IngestionService(settings, TenantDirectory.from_file(keys))
    await service.start()
    console.print("Loading the emotion model and starting the scoring service...")
    scoring = ScoringService(settings)
    await scoring.start()
    console.print("Starting the decisioning service (faust-streaming)...")
    decisioning = DecisioningService(settings)
    await decisioning.start()
    stop = asyncio.Event()
    show = _Show(console, settings)
    console.print(
        f"Kafka {broker.version} at {broker.bootstrap_servers}; ingestion gRPC :{service.grpc_port}, "
        f"HTTP :{service.http_port}, metrics :{service.ops.port}\n"
        f"Replaying {len(conversations)} conversations ({len(events)} events) as live traffic:\n"
    )
    assigned = asyncio.Event()
    watcher = asyncio.create_task(show.run(len(events), stop, assigned))
    await asyncio.wait_for(assigned.wait(), 60)  # measure latency, not the group join
    client = IngestClient(f"127.0.0.1:{service.grpc_port}", _DEMO_KEY)
    started = time.perf_counter()
    outcomes: Counter[str] = Counter()
    try:
        for event in events:
            event.occurred_at.FromDatetime(datetime.now(UTC))
            summary = await client.publish([event])
            outcomes.update(summary.outcomes)
            await asyncio.sleep(turn_gap_s)
        await asyncio.wait_for(watcher, 30)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(watcher, 5)
        await client.close()
        await service.stop()
        await scoring.stop()
        await decisioning.stop()
    return {
        "conversations": len(conversations),
        "events": len(events),
        "outcomes": dict(outcomes),
        "redactions": {k: v for k, v in show.redactions.items() if v},
        "peak_negativity": {k: round(v, 2) for k, v in show.peak_negativity.items()},
        "escalated": {
            conversation: sorted({r.code for d in decisions for r in d.reasons})
            for conversation, decisions in show.escalations.items()
        },
        "ingest_to_scored_ms_p50": round(percentile(show.latencies_ms, 50), 1),
        "ingest_to_scored_ms_p99": round(percentile(show.latencies_ms, 99), 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_summary(console: Console, summary: dict[str, object]) -> None:
    """The closing table."""
    table = Table(title="Warmline demo summary", show_header=False)
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)
