"""The embedded default: a real local broker, the five services, and sample
conversations replayed as live traffic. Each event is shown as it comes out of
the scoring service with the emotion read in each customer message; each
escalation as an agent console receives it from the notification service. The
demo agent then takes each escalation and judges it, and the demo ends by
writing the leaders' insights report of its own traffic, read from the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import grpc
import yaml
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from warmline.bench.common import percentile
from warmline.client.console import ConsoleClient
from warmline.client.ingest import IngestClient, read_events
from warmline.common.credentials import hash_key
from warmline.common.kafka import connection_options
from warmline.common.settings import (
    DecisioningSettings,
    IngestionSettings,
    NotificationSettings,
    RecordSettings,
    ScoringSettings,
    WarmlineSettings,
)
from warmline.common.tenants import TenantDirectory
from warmline.decisioning.policy import DEFAULT_POLICY_PATH, load_policy
from warmline.decisioning.service import DecisioningService
from warmline.ingestion.redaction import PII_KINDS
from warmline.ingestion.service import IngestionService
from warmline.insights.aggregates import Window
from warmline.insights.report import write_report
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import SaslSslListener, free_port
from warmline.localkafka.clients import client_settings
from warmline.notification.service import NotificationService, load_agents
from warmline.notification.terminal import ConsoleView, announcement
from warmline.notification.tokens import AgentDirectory
from warmline.record.service import RecordService
from warmline.record.store import connect
from warmline.scoring.service import ScoringService
from warmline.v1 import escalation_pb2, events_pb2, feedback_pb2, notification_pb2, scoring_pb2

DEMO_TENANT = "demo"
_DEMO_KEY = "demo-key"
_DEMO_AGENT = "demo-agent"
# The demo agent's own supervisor: named overload alerts and practice shares go to them.
_DEMO_LEAD = "demo-lead"
_TURN_GAP_S = 0.25
# How long the console keeps listening for decisions after the last event.
_DECISION_SETTLE_S = 3.0
#: Where the insights report of the demo's traffic goes.
DEFAULT_INSIGHTS = Path("demo-results/insights.html")
# The demo's six synthetic conversations are shown whatever their number;
# leaders' reports suppress groups under WARMLINE_RECORD__INSIGHTS_MIN_GROUP.
_DEMO_MIN_GROUP = 1
_DEMO_NOTE = (
    "The demo's own synthetic traffic, every group shown (minimum group 1) so that its six "
    "conversations are visible; leaders' reports suppress groups under "
    "WARMLINE_RECORD__INSIGHTS_MIN_GROUP conversations (default 5)."
)
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

    async def run(self, expected: int, stop: asyncio.Event, assigned: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            self.settings.topics.name("scored"),
            **connection_options(self.settings),
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


class _AgentConsole:
    """The demo agent's console: escalations as the notification service delivers them."""

    def __init__(self, console: Console, client: ConsoleClient, queues: list[str]) -> None:
        self.console = console
        self.client = client
        self.queues = queues
        self.view = ConsoleView(DEMO_TENANT, queues)
        self.latencies_ms: list[float] = []
        self.decisions: dict[str, list[escalation_pb2.EscalationDecision]] = defaultdict(list)
        self._seen: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        async for response in self.client.follow(self.queues, tenant_id=DEMO_TENANT, stop=stop):
            self.view.apply(response)
            if response.WhichOneof("payload") == "claimed":
                notice = response.claimed
                self.console.print(
                    f"  [green]{notice.conversation_id} taken by {notice.holder_agent_id}[/]",
                    highlight=False,
                )
            elif response.WhichOneof("payload") == "delivery":
                self._delivered(response.delivery)

    def _delivered(self, delivery: notification_pb2.Delivery) -> None:
        decision = delivery.decision
        # Re-offers repeat a decision already counted; its latency is the first delivery's.
        if decision.decision_id not in self._seen:
            self._seen.add(decision.decision_id)
            self.decisions[decision.conversation_id].append(decision)
            ingested = decision.timings.ingested_at.ToDatetime(tzinfo=UTC)
            self.latencies_ms.append((datetime.now(UTC) - ingested).total_seconds() * 1000)
        self.console.print(announcement(delivery))

    def escalated(self) -> dict[str, list[str]]:
        """Reason codes of each conversation's delivered decisions."""
        return {
            conversation: sorted({r.code for d in decisions for r in d.reasons})
            for conversation, decisions in self.decisions.items()
        }


def demo_queues(supervisor_queue: str) -> list[str]:
    """Every queue the default policy routes the demo tenant to, and the supervisor queue."""
    routing = load_policy(DEFAULT_POLICY_PATH).for_tenant(DEMO_TENANT).routing
    return sorted(routing.queues() | {supervisor_queue})


def _write_agent_tokens(path: Path, token: str, lead_token: str, queues: list[str]) -> None:
    agent = {
        "token_sha256": hash_key(token),
        "tenant": DEMO_TENANT,
        "agent_id": _DEMO_AGENT,
        "queues": queues,
        "supervisor": _DEMO_LEAD,
    }
    lead = {
        "token_sha256": hash_key(lead_token),
        "tenant": DEMO_TENANT,
        "agent_id": _DEMO_LEAD,
        "queues": queues,
    }
    path.write_text(yaml.safe_dump({"agents": [agent, lead]}))


async def run_demo(
    console: Console,
    kafka_version: str | None = None,
    turn_gap_s: float = _TURN_GAP_S,
    *,
    sasl_ssl: bool = False,
    insights_out: Path = DEFAULT_INSIGHTS,
) -> dict[str, object]:
    """Run the demo end to end and return its summary; ``sasl_ssl``: every client
    connects over the broker's SASL_SSL (SCRAM-SHA-512) listener; ``insights_out``:
    where the insights report of its traffic goes."""
    conversations = sample_conversations()
    events = list(interleaved(conversations))
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "tenants.yaml"
        keys.write_text(
            yaml.safe_dump({"tenants": {DEMO_TENANT: {"api_key_sha256": [hash_key(_DEMO_KEY)]}}})
        )
        console.print("[bold]Warmline demo[/bold]: starting a local Kafka broker (KRaft)...")
        broker = LocalKafka(
            version=kafka_version or LocalKafka.version,
            sasl_ssl=SaslSslListener() if sasl_ssl else None,
        )
        await asyncio.to_thread(broker.start)
        try:
            return await _with_broker(
                console, broker, keys, conversations, events, turn_gap_s, insights_out
            )
        finally:
            await asyncio.to_thread(broker.cleanup)


def _demo_settings(
    broker: LocalKafka, keys: Path, agent_token: str, lead_token: str
) -> WarmlineSettings:
    """Every service on 127.0.0.1 and free ports; the demo agent's token file next to ``keys``."""
    agents_file = keys.parent / "agents.yaml"
    # Chosen now, so the console can link to the record's practice and insights
    # pages, and those pages know the console that may sign the agent in.
    record_port, console_port = free_port(), free_port()
    notification = NotificationSettings(
        host="127.0.0.1",
        grpc_port=0,
        http_port=console_port,
        metrics_port=0,
        shutdown_grace_s=1,
        agent_tokens_file=agents_file,
        record_url=f"http://127.0.0.1:{record_port}",
    )
    _write_agent_tokens(
        agents_file, agent_token, lead_token, demo_queues(notification.supervisor_queue)
    )
    return WarmlineSettings(
        kafka=client_settings(broker),
        ingestion=IngestionSettings(
            host="127.0.0.1", grpc_port=0, http_port=0, metrics_port=0, api_keys_file=keys
        ),
        # The tenants' keys serve Score too (a chatbot's call), as in production.
        scoring=ScoringSettings(
            host="127.0.0.1", grpc_port=0, metrics_port=0, max_wait_ms=5, api_keys_file=keys
        ),
        decisioning=DecisioningSettings(
            host="127.0.0.1",
            http_port=free_port(),
            metrics_port=0,
            data_dir=keys.parent / "decisioning",
        ),
        notification=notification,
        record=RecordSettings(
            host="127.0.0.1",
            http_port=record_port,
            metrics_port=0,
            shutdown_grace_s=1,
            data_dir=keys.parent / "record",
            agent_tokens_file=agents_file,
            console_url=f"http://127.0.0.1:{console_port}",
        ),
    )


async def _until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    """Poll ``condition``; fail naming ``what`` after ``within_s`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"demo: waited {within_s:.0f} s for {what}")
        await asyncio.sleep(0.05)


async def _with_broker(
    console: Console,
    broker: LocalKafka,
    keys: Path,
    conversations: dict[str, list[events_pb2.InteractionEvent]],
    events: list[events_pb2.InteractionEvent],
    turn_gap_s: float,
    insights_out: Path,
) -> dict[str, object]:
    agent_token = f"wla_{DEMO_TENANT}_{secrets.token_urlsafe(16)}"
    lead_token = f"wla_{DEMO_TENANT}_{secrets.token_urlsafe(16)}"
    settings = _demo_settings(broker, keys, agent_token, lead_token)
    # Whatever happens (an error, Ctrl-C while the model loads), every service
    # started so far is stopped, the last started first.
    async with contextlib.AsyncExitStack() as running:
        ingestion = IngestionService(settings, TenantDirectory.from_file(keys))
        running.push_async_callback(ingestion.stop)
        await ingestion.start()
        console.print("Loading the emotion model and starting the scoring service...")
        scoring = ScoringService(settings)
        running.push_async_callback(scoring.stop)
        await scoring.start()
        console.print("Starting the decisioning service (faust-streaming)...")
        decisioning = DecisioningService(settings)
        running.push_async_callback(decisioning.stop)
        await decisioning.start()
        console.print("Starting the notification service (agent consoles)...")
        notification = NotificationService(settings, load_agents(settings))
        running.push_async_callback(notification.stop)
        await notification.start()
        console.print("Starting the record service (SQLite)...")
        tokens = settings.notification.agent_tokens_file
        assert tokens is not None
        record = RecordService(settings, AgentDirectory.from_file(tokens))
        running.push_async_callback(record.stop)
        await record.start()
        await _until(lambda: notification.readiness.ready, 60, "the notification service")
        await _until(lambda: record.readiness.ready, 60, "the record service")
        console.print(
            f"Kafka {broker.version} at {broker.bootstrap_servers}; ingestion gRPC "
            f":{ingestion.grpc_port}, HTTP :{ingestion.http_port}; notification gRPC "
            f":{notification.grpc_port}\n[bold]Agent console[/bold] in a browser: "
            f"http://127.0.0.1:{notification.http_port}/ with the agent token "
            f"[bold]{agent_token}[/bold]; {_DEMO_AGENT}'s own supervisor {_DEMO_LEAD} (who "
            f"alone sees {_DEMO_AGENT} named in overload alerts and gets their practice "
            f"shares) with [bold]{lead_token}[/bold]; supervisors' insights, live: "
            f"http://127.0.0.1:{record.http.port}/insights",
            highlight=False,
        )
        agent = _AgentConsole(
            console,
            ConsoleClient(f"127.0.0.1:{notification.grpc_port}", agent_token, _DEMO_AGENT),
            demo_queues(settings.notification.supervisor_queue),
        )
        running.push_async_callback(agent.client.close)
        ingest = IngestClient(f"127.0.0.1:{ingestion.grpc_port}", _DEMO_KEY)
        running.push_async_callback(ingest.close)
        started = time.time()
        summary = await _replay(
            console, _Show(console, settings), agent, notification, ingest, events, turn_gap_s
        )
        handled = await _take_and_judge(console, agent)
        report = await _insights_report(record, started, len(events), handled, insights_out)
        console.print(f"[bold]Insights report[/bold] of the demo's traffic: {report}")
    return {"conversations": len(conversations), **summary, "insights_report": str(report)}


async def _take_and_judge(console: Console, agent: _AgentConsole) -> int:
    """The demo agent takes each escalated conversation's latest decision and judges
    it useful, as an agent would; the number taken."""
    taken = 0
    for conversation, decisions in agent.decisions.items():
        decision_id = decisions[-1].decision_id
        try:
            await agent.client.claim(decision_id)
            await agent.client.feedback(decision_id, feedback_pb2.VERDICT_USEFUL)
        except grpc.aio.AioRpcError as exc:  # resolved meanwhile: nothing to take
            console.print(f"  [dim]{conversation} not taken: {exc.details()}[/]", highlight=False)
            continue
        taken += 1
    console.print(f"The demo agent took and judged {taken} escalation(s).")
    return taken


async def _insights_report(
    record: RecordService, started: float, events: int, handled: int, out: Path
) -> Path:
    """Once the record holds the demo's traffic, its insights report at ``out``."""
    database = record.database

    def recorded() -> bool:
        conn = connect(database, read_only=True)
        try:
            turns, claims, verdicts = (
                int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("turns", "claims", "verdicts")
            )
        finally:
            conn.close()
        return turns >= events and claims >= handled and verdicts >= handled

    await _until(recorded, 30, "the record to hold the demo's traffic")
    window = Window(DEMO_TENANT, started - 60, time.time() + 60, "hour", _DEMO_MIN_GROUP)
    return await asyncio.to_thread(write_report, database, window, out, _DEMO_NOTE)


async def _replay(
    console: Console,
    show: _Show,
    agent: _AgentConsole,
    notification: NotificationService,
    ingest: IngestClient,
    events: list[events_pb2.InteractionEvent],
    turn_gap_s: float,
) -> dict[str, object]:
    """Send the events as live traffic while both views print; their summary."""
    stop = asyncio.Event()
    assigned = asyncio.Event()
    agent_task = asyncio.create_task(agent.run(stop))
    show_task = asyncio.create_task(show.run(len(events), stop, assigned))
    outcomes: Counter[str] = Counter()
    try:
        await _until(lambda: notification.hub.consoles() > 0, 30, "the demo console to subscribe")
        await asyncio.wait_for(assigned.wait(), 60)  # measure latency, not the group join
        console.print(f"Replaying {len(events)} events as live traffic:\n")
        started = time.perf_counter()
        for event in events:
            event.occurred_at.FromDatetime(datetime.now(UTC))
            published = await ingest.publish([event])
            outcomes.update(published.outcomes)
            await asyncio.sleep(turn_gap_s)
        await asyncio.wait_for(show_task, 30)  # it settles a few seconds after the last event
        stop.set()
        await asyncio.wait_for(agent_task, 10)
    finally:
        stop.set()
        for task in (show_task, agent_task):
            task.cancel()
        await asyncio.gather(show_task, agent_task, return_exceptions=True)
    console.print(agent.view.render())
    escalated = agent.escalated()
    return {
        "events": len(events),
        "outcomes": dict(outcomes),
        "redactions": {k: v for k, v in show.redactions.items() if v},
        "peak_negativity": {k: round(v, 2) for k, v in show.peak_negativity.items()},
        "escalated": escalated,
        "escalations_by_reason": dict(
            Counter(code for codes in escalated.values() for code in codes).most_common()
        ),
        "delivered": {c: len(ds) for c, ds in agent.decisions.items()},
        "ingest_to_scored_ms_p50": round(percentile(show.latencies_ms, 50), 1),
        "ingest_to_scored_ms_p99": round(percentile(show.latencies_ms, 99), 1),
        "ingest_to_console_ms_p50": round(percentile(agent.latencies_ms, 50), 1),
        "ingest_to_console_ms_p99": round(percentile(agent.latencies_ms, 99), 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def print_summary(console: Console, summary: dict[str, object]) -> None:
    """The closing table."""
    table = Table(title="Warmline demo summary", show_header=False)
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)
