"""``warmline bench e2e``: the whole pipeline as a user runs it, timed from the door
to the agent's console.

A broker and the four services run as separate processes (``warmline serve``);
an agent console follows every queue over gRPC. Conversations of the
contact-center evaluation set (calm, souring, angry, looping, sensitive,
abusive, grateful; customer and bot turns) are replayed as live traffic through
ingestion's ``PublishStream``: each a fresh copy (its own conversation and
customer id), its turns ``THINK_S`` apart, new conversations starting at the
pace that gives the offered rate of customer messages.

Which copies must escalate is known before the run: the backtest of the same
conversations (the shipped model with context, the default policy).

Per phase (one offered rate for a fixed time):

* ``e2e_p50_ms`` / ``e2e_p99_ms``: from ingestion's acknowledgement of the
  message that triggered an escalation to the console receiving it;
* ``lost``: acknowledged events missing from the scored topic;
* ``duplicated``: an escalation the console saw twice (same decision id, or a
  second escalation of a conversation; re-offers are switched off);
* ``missing`` / ``unexpected``: expected escalations never delivered, and
  deliveries the backtest did not expect (the model's float noise across batch
  shapes can flip a borderline turn: they are listed, not hidden).

``max_rate_meeting_p99`` is the highest offered rate of a step search whose
phase met the p99 target with nothing lost or duplicated and kept up with the
offer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from warmline.bench.common import percentile, write_result
from warmline.client.console import ConsoleClient
from warmline.common.credentials import hash_key
from warmline.common.kafka import connection_options
from warmline.common.settings import (
    DecisioningSettings,
    IngestionSettings,
    NotificationSettings,
    ScoringSettings,
    Store,
    TopicSettings,
    WarmlineSettings,
    settings_env,
)
from warmline.common.topics import ensure_topics
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import SaslSslListener, free_port
from warmline.localkafka.clients import client_settings
from warmline.v1 import escalation_pb2, events_pb2, ingest_pb2, ingest_pb2_grpc, scoring_pb2

TENANT = "bench"
_API_KEY = "bench-e2e-key"
_AGENT = "bench-agent"
_AGENT_TOKEN = "bench-e2e-agent-token"
#: Seconds between a conversation's turns (a customer typing, a bot answering).
THINK_S = 1.0
#: The target of issue #15: p99 at or under this at >= 300 customer messages/s.
P99_TARGET_MS = 250.0
TARGET_RATE = 300.0
_SLOT_S = 0.02  # events due in one slot go out in one PublishStream request
_SERVICES = ("ingestion", "scoring", "decisioning", "notification")


@dataclass(frozen=True)
class Template:
    """One conversation of the set: its turns and whether it escalates."""

    turns: tuple[tuple[events_pb2.Role.ValueType, str], ...]  # (role, text)
    escalates: bool

    @property
    def customer_turns(self) -> int:
        return sum(role == events_pb2.ROLE_CUSTOMER for role, _ in self.turns)


def templates() -> list[Template]:
    """The evaluation conversations, each marked by the backtest as escalating or not."""
    from warmline.decisioning.backtest import read_conversations, run_backtest
    from warmline.decisioning.policy import DEFAULT_POLICY_PATH, load_policy
    from warmline.model import contact_center as cc
    from warmline.model.context import ContextualScorer, ConversationWindows
    from warmline.model.engine import EmotionEngine

    conversations = cc.read_conversations(cc.EVAL_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        replay = Path(tmp) / "replay.jsonl"
        replay.write_text(
            "\n".join(
                json.dumps(line) for c in conversations for line in cc.to_replay_events(c, TENANT)
            )
        )
        scorer = ContextualScorer(EmotionEngine(), ConversationWindows(1_000, 3_600.0))
        _, outcomes = run_backtest(
            read_conversations(replay), load_policy(DEFAULT_POLICY_PATH), scorer.score
        )
    fired = {o.conversation_id for o in outcomes if o.fired_turn is not None}
    roles = {"customer": events_pb2.ROLE_CUSTOMER, "bot": events_pb2.ROLE_BOT}
    return [
        Template(
            tuple((roles.get(t.role, events_pb2.ROLE_AGENT), t.text) for t in c.turns),
            c.id in fired,
        )
        for c in conversations
    ]


@dataclass
class Stack:
    """The broker, the four service processes and how to reach them."""

    broker: LocalKafka
    settings: WarmlineSettings
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def ingest_target(self) -> str:
        return f"127.0.0.1:{self.settings.ingestion.grpc_port}"

    @property
    def console_target(self) -> str:
        return f"127.0.0.1:{self.settings.notification.grpc_port}"


def queues(supervisor_queue: str) -> list[str]:
    """Every queue the default policy routes the bench tenant to, and the supervisor's."""
    from warmline.decisioning.policy import DEFAULT_POLICY_PATH, load_policy

    routing = load_policy(DEFAULT_POLICY_PATH).for_tenant(TENANT).routing
    return sorted(routing.queues() | {supervisor_queue})


def stack_settings(
    broker: LocalKafka, workdir: Path, partitions: int, store: Store = "memory"
) -> WarmlineSettings:
    """Every service on loopback and free ports, credentials files in ``workdir``."""
    keys, agents = workdir / "tenants.yaml", workdir / "agents.yaml"
    keys.write_text(yaml.safe_dump({"tenants": {TENANT: {"api_key_sha256": [hash_key(_API_KEY)]}}}))
    notification = NotificationSettings(
        host="127.0.0.1",
        grpc_port=free_port(),
        http_port=free_port(),
        metrics_port=free_port(),
        agent_tokens_file=agents,
        # Re-offers would count as second deliveries; a bench measures first ones.
        reoffer_after_s=86_400.0,
        supervisor_after_s=172_800.0,
    )
    entry = {
        "token_sha256": hash_key(_AGENT_TOKEN),
        "tenant": TENANT,
        "agent_id": _AGENT,
        "queues": queues(notification.supervisor_queue),
    }
    agents.write_text(yaml.safe_dump({"agents": [entry]}))
    return WarmlineSettings(
        log_level="WARNING",
        kafka=client_settings(broker),
        topics=TopicSettings(partitions=partitions),
        ingestion=IngestionSettings(
            host="127.0.0.1",
            grpc_port=free_port(),
            http_port=free_port(),
            metrics_port=free_port(),
            api_keys_file=keys,
            rate_limit_per_s=1_000_000,
            rate_limit_burst=1_000_000,
        ),
        scoring=ScoringSettings(
            host="127.0.0.1", grpc_port=free_port(), metrics_port=free_port(), api_keys_file=keys
        ),
        decisioning=DecisioningSettings(
            host="127.0.0.1",
            http_port=free_port(),
            metrics_port=free_port(),
            data_dir=workdir / "decisioning",
            store=store,
        ),
        notification=notification,
    )


async def start_service(
    stack: Stack,
    name: str,
    key: str | None = None,
    settings: WarmlineSettings | None = None,
    ready_within_s: float = 180.0,
) -> None:
    """Start ``warmline serve <name>`` (as process ``key``, with ``settings`` when
    given: a second replica) and wait until its ``/readyz`` says ready."""
    key = key or name
    settings = settings or stack.settings
    stack.processes[key] = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "warmline", "serve", name,
        env={**os.environ, **settings_env(settings)},
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    port = getattr(settings, name).metrics_port
    stack.metrics_ports[key] = port
    deadline = time.monotonic() + ready_within_s
    while not await asyncio.to_thread(ready, port):
        if stack.processes[key].returncode is not None:
            raise RuntimeError(f"warmline serve {name} ({key}) exited during start-up")
        if time.monotonic() > deadline:
            raise RuntimeError(f"warmline serve {name} ({key}) did not become ready")
        await asyncio.sleep(0.3)


def ready(port: int) -> bool:
    """Whether the service whose ops page is on ``port`` says it is ready."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


async def stop_service(stack: Stack, name: str, sig: int = signal.SIGTERM) -> None:
    """Stop one service (SIGTERM: gracefully; SIGKILL: as a crash)."""
    process = stack.processes.pop(name, None)
    if process is None or process.returncode is not None:
        return
    process.send_signal(sig)
    try:
        await asyncio.wait_for(process.wait(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def running_stack(
    kafka_version: str, partitions: int = 6, sasl_ssl: bool = False, store: Store = "memory"
) -> AsyncIterator[Stack]:
    """A broker and the four services, stopped and removed afterwards; with
    ``sasl_ssl`` every client (services and the bench's own) talks SASL_SSL;
    ``store`` is decisioning's ``DECISIONING__STORE``."""
    with tempfile.TemporaryDirectory() as tmp:
        broker = LocalKafka(version=kafka_version, sasl_ssl=SaslSslListener() if sasl_ssl else None)
        await asyncio.to_thread(broker.start)
        stack = Stack(broker, stack_settings(broker, Path(tmp), partitions, store))
        try:
            await ensure_topics(stack.settings)
            for name in _SERVICES:
                await start_service(stack, name)
            yield stack
        finally:
            for name in reversed(_SERVICES):
                await stop_service(stack, name)
            await asyncio.to_thread(broker.cleanup)


@dataclass
class Copy:
    """One conversation replayed: its id and its template."""

    conversation_id: str
    template: Template


def schedule(
    pool: Sequence[Template], rate: float, seconds: float, phase: str
) -> tuple[list[tuple[float, events_pb2.InteractionEvent]], dict[str, Copy]]:
    """(offset s, event) in send order for ``seconds`` at ``rate`` customer
    messages/s, and the copies by conversation id.

    Conversations start one after another at the pace that offers ``rate``; each
    conversation's turns follow ``THINK_S`` apart. The stream is already running at
    0 s (conversations that began earlier contribute their later turns), so the
    offered rate is steady from the first second; turns outside ``[0, seconds)``
    are left out, as a live stream cuts conversations at any window's edges.
    """
    mean_customer_turns = sum(t.customer_turns for t in pool) / len(pool)
    start_every = mean_customer_turns / rate
    lead = max(len(t.turns) for t in pool) * THINK_S
    due: list[tuple[float, events_pb2.InteractionEvent]] = []
    copies: dict[str, Copy] = {}
    n = 0
    while n * start_every - lead < seconds:
        template = pool[n % len(pool)]
        conversation_id = f"{phase}-c{n}"
        copies[conversation_id] = Copy(conversation_id, template)
        for k, (role, text) in enumerate(template.turns):
            at = n * start_every - lead + k * THINK_S
            if at >= seconds:
                break
            if at < 0:
                continue
            event = events_pb2.InteractionEvent(
                event_id=f"{conversation_id}-{k}",
                conversation_id=conversation_id,
                customer_id=f"{phase}-cust{n}",
                channel=events_pb2.CHANNEL_CHAT,
                role=role,
                kind=events_pb2.EVENT_KIND_MESSAGE,
                text=text,
                language="en",
            )
            due.append((at, event))
        n += 1
    due.sort(key=lambda item: item[0])
    return due, copies


@dataclass
class Offered:
    """What the generator sent and when each event was acknowledged."""

    acked_at: dict[str, float] = field(default_factory=dict)
    refused: int = 0
    started: float = 0.0
    finished: float = 0.0


async def offer(
    stub: ingest_pb2_grpc.IngestServiceStub, due: list[tuple[float, events_pb2.InteractionEvent]]
) -> Offered:
    """Send every event at its offset (batched per slot), recording acknowledgements."""
    result = Offered(started=time.perf_counter())

    async def requests() -> AsyncIterator[ingest_pb2.PublishStreamRequest]:
        i = 0
        while i < len(due):
            slot_start = due[i][0]
            batch = []
            while i < len(due) and due[i][0] < slot_start + _SLOT_S:
                batch.append(due[i][1])
                i += 1
            await asyncio.sleep(max(0.0, result.started + slot_start - time.perf_counter()))
            now = datetime.now(UTC)
            for event in batch:
                event.occurred_at.FromDatetime(now)
            yield ingest_pb2.PublishStreamRequest(events=batch)

    call = stub.PublishStream(requests(), metadata=(("authorization", f"Bearer {_API_KEY}"),))
    async for reply in call:
        now = time.perf_counter()
        for ack in reply.acks:
            if ack.status == ingest_pb2.ACK_STATUS_ACCEPTED:
                result.acked_at[ack.event_id] = now
            else:
                result.refused += 1
    result.finished = time.perf_counter()
    return result


class Console:
    """An agent console following every queue; first deliveries and repeats."""

    def __init__(self, target: str, queues: list[str]) -> None:
        self._client = ConsoleClient(target, _AGENT_TOKEN, _AGENT)
        self._queues = queues
        self._stop = asyncio.Event()
        self.first: dict[str, tuple[float, escalation_pb2.EscalationDecision]] = {}
        self.decision_ids: set[str] = set()
        self.duplicated = 0
        self.last_delivery = time.perf_counter()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        async for response in self._client.follow(self._queues, stop=self._stop):
            if response.WhichOneof("payload") != "delivery" or response.delivery.reoffer:
                continue
            now = time.perf_counter()
            self.last_delivery = now
            decision = response.delivery.decision
            if decision.action != escalation_pb2.DECISION_ACTION_ESCALATE:
                continue
            if decision.decision_id in self.decision_ids or decision.conversation_id in self.first:
                self.duplicated += 1
                continue
            self.decision_ids.add(decision.decision_id)
            self.first[decision.conversation_id] = (now, decision)

    async def quiet(self, seconds: float, within_s: float) -> None:
        """Wait until nothing was delivered for ``seconds`` (at most ``within_s``)."""
        deadline = time.perf_counter() + within_s
        while time.perf_counter() < deadline:
            if time.perf_counter() - self.last_delivery >= seconds:
                return
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._client.close()


async def scored_events(settings: WarmlineSettings, phase: str) -> list[scoring_pb2.ScoredEvent]:
    """Every scored event of ``phase``, read from the start of the scored topic to
    its end (in partition order: a conversation's events in the order decided)."""
    topic = settings.topics.name("scored")
    consumer = AIOKafkaConsumer(
        **connection_options(settings), enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    found: list[scoring_pb2.ScoredEvent] = []
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    scored = scoring_pb2.ScoredEvent.FromString(record.value or b"")
                    if scored.event.event_id.startswith(f"{phase}-"):
                        found.append(scored)
        return found
    finally:
        await consumer.stop()


def decided_from(scored: Sequence[scoring_pb2.ScoredEvent]) -> set[str]:
    """The conversations the policy escalates when fed what scoring actually wrote:
    what the console must receive, whatever the model read (its float noise across
    batch shapes can move a borderline turn either side of a threshold)."""
    from warmline.decisioning.decide import apply_event
    from warmline.decisioning.policy import DEFAULT_POLICY_PATH, load_policy
    from warmline.decisioning.state import ConversationState, CustomerHistory

    policy = load_policy(DEFAULT_POLICY_PATH)
    states: dict[str, ConversationState] = {}
    histories: dict[str, CustomerHistory] = {}
    escalated: set[str] = set()
    seen: set[str] = set()
    for event in scored:
        if event.event.event_id in seen:
            continue  # a redelivery: decisioning recognises it too
        seen.add(event.event.event_id)
        conversation = event.event.conversation_id
        state = states.setdefault(conversation, ConversationState())
        history = histories.setdefault(event.event.customer_id, CustomerHistory())
        decision = apply_event(
            state, event, policy, event.scored_at.ToDatetime(tzinfo=UTC), history
        )
        if decision is not None and decision.action == escalation_pb2.DECISION_ACTION_ESCALATE:
            escalated.add(conversation)
    return escalated


async def run_phase(
    stack: Stack, pool: Sequence[Template], rate: float, seconds: float, phase: str
) -> dict[str, Any]:
    """Offer ``rate`` customer messages/s for ``seconds``; measure what came out."""
    due, copies = schedule(pool, rate, seconds, phase)
    console = Console(stack.console_target, queues(stack.settings.notification.supervisor_queue))
    await console.start()
    try:
        async with grpc.aio.insecure_channel(stack.ingest_target) as channel:
            offered = await offer(ingest_pb2_grpc.IngestServiceStub(channel), due)
        await console.quiet(5.0, within_s=120.0)
    finally:
        await console.close()
    sent_ids = {e.event_id for _, e in due}
    scored_stream = await scored_events(stack.settings, phase)
    scored = {s.event.event_id for s in scored_stream}
    decided = decided_from(scored_stream)
    elapsed = offered.finished - offered.started
    customer = sum(e.role == events_pb2.ROLE_CUSTOMER for _, e in due)
    acked_customer = sum(
        e.role == events_pb2.ROLE_CUSTOMER and e.event_id in offered.acked_at for _, e in due
    )
    delivered = {c for c in console.first if c.startswith(f"{phase}-")}
    latencies = [
        (at - offered.acked_at[d.trigger_event_id]) * 1000
        for c, (at, d) in console.first.items()
        if d.trigger_event_id in offered.acked_at
    ]
    return {
        "phase": phase,
        "seconds": seconds,
        "rate_step": rate,
        "offered_customer_msgs_per_s": round(customer / seconds, 1),
        "offered_events_per_s": round(len(due) / seconds, 1),
        "achieved_events_per_s": round(len(offered.acked_at) / elapsed, 1) if elapsed else 0.0,
        "achieved_customer_msgs_per_s": round(acked_customer / elapsed, 1) if elapsed else 0.0,
        "events": len(due),
        "acknowledged": len(offered.acked_at),
        "refused": offered.refused,
        "lost": len((set(offered.acked_at) & sent_ids) - scored),
        **escalation_tally(copies, [e for _, e in due], delivered, decided),
        "duplicated": console.duplicated,
        "e2e_p50_ms": round(percentile(latencies, 50), 1),
        "e2e_p99_ms": round(percentile(latencies, 99), 1),
        "stages_p50_ms": _stages([d for c, (_, d) in console.first.items() if c in delivered]),
    }


def escalation_tally(
    copies: dict[str, Copy],
    sent: Sequence[events_pb2.InteractionEvent],
    delivered: set[str],
    decided: set[str],
) -> dict[str, Any]:
    """Escalations expected, decided and delivered, and where they part."""
    sent_turns = Counter(event.conversation_id for event in sent)
    # A copy cut short before its escalation cannot escalate: only whole ones count.
    whole = {c for c, copy in copies.items() if sent_turns[c] == len(copy.template.turns)}
    # Known in advance: the backtest of the templates, for the copies sent whole.
    expected = {c for c in whole if copies[c].template.escalates}
    return {
        "expected_escalations": len(expected),
        "delivered_escalations": len(delivered & expected),
        # The delivery guarantee: what the scores written must escalate, delivered.
        "decided_from_scores": len(decided),
        "missing": sorted(decided - delivered)[:20],
        "unexpected": sorted(delivered - decided)[:20],
        # Where the live model read a copy otherwise than the backtest did.
        "model_disagreements": sorted((expected ^ decided) & whole)[:20],
    }


def _stages(decisions: Sequence[escalation_pb2.EscalationDecision]) -> dict[str, float]:
    """Median milliseconds of each hop, from the timestamps a decision carries
    (one clock: every process runs on this machine)."""
    hops: dict[str, list[float]] = {"ingested_to_scored": [], "scored_to_decided": []}
    for decision in decisions:
        t = decision.timings
        ingested, scored, decided = (
            ts.ToDatetime().timestamp() for ts in (t.ingested_at, t.scored_at, t.decided_at)
        )
        hops["ingested_to_scored"].append((scored - ingested) * 1000)
        hops["scored_to_decided"].append((decided - scored) * 1000)
    return {hop: round(percentile(values, 50), 1) for hop, values in hops.items()}


def _met(phase: dict[str, Any]) -> bool:
    return bool(
        phase["e2e_p99_ms"] <= P99_TARGET_MS
        and phase["lost"] == 0
        and phase["duplicated"] == 0
        and not phase["missing"]
        and phase["achieved_customer_msgs_per_s"] >= 0.95 * phase["offered_customer_msgs_per_s"]
    )


async def measure(
    rates: Sequence[float],
    seconds: float,
    kafka_version: str,
    pool: Sequence[Template] | None = None,
    sasl_ssl: bool = False,
) -> dict[str, Any]:
    """Phases at ``rates`` (a step search, stopping at the first failed step)."""
    pool = list(pool or templates())
    phases: list[dict[str, Any]] = []
    async with running_stack(kafka_version, sasl_ssl=sasl_ssl) as stack:
        # A warm-up: first requests pay connection set-up and the model's first batches.
        await run_phase(stack, pool, min(rates), min(seconds, 5.0), "warm")
        for n, rate in enumerate(rates):
            phases.append(await run_phase(stack, pool, rate, seconds, f"p{n}"))
            if not _met(phases[-1]):
                break
    met = [p["offered_customer_msgs_per_s"] for p in phases if _met(p)]
    at_target = next((p for p in phases if p["rate_step"] == TARGET_RATE), phases[-1])
    return {
        **{k: v for k, v in at_target.items() if k != "phase"},
        "max_rate_meeting_p99": max(met) if met else 0.0,
        "phases": phases,
        "think_s": THINK_S,
        "templates": len(pool),
        "escalating_templates": sum(t.escalates for t in pool),
        "kafka_version": kafka_version,
        "kafka_security_protocol": "SASL_SSL" if sasl_ssl else "PLAINTEXT",
        "targets": {
            "e2e_p99_ms": P99_TARGET_MS,
            "customer_msgs_per_s": TARGET_RATE,
            "lost": 0,
            "duplicated": 0,
        },
    }


def run(
    out: Path,
    rates: Sequence[float] = (100.0, 200.0, TARGET_RATE, 400.0),
    seconds: float = 20.0,
    kafka_version: str | None = None,
    sasl_ssl: bool = False,
) -> dict[str, Any]:
    """Measure and write the JSON result to ``out``."""
    version = kafka_version or os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    return write_result(out, asyncio.run(measure(rates, seconds, version, sasl_ssl=sasl_ssl)))
