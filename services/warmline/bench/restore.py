"""``warmline bench restore``: how long a decisioning worker takes from its start to
its first decision, and how much memory it holds, as its state grows.

The worker keeps its state in ``memory://`` tables: at every start it reads the
conversations' changelog (its partitions) and the whole customer-history
changelog before it decides anything. Per size, this benchmark fills both
changelogs the way production leaves them, then starts a worker and times it.

The records are written with the worker's own code, so the benchmark follows it:
conversation states are built by :func:`~warmline.decisioning.decide.apply_event`
from scoring-shaped turns (customer and bot turns, some escalated), copied per
conversation with ids of its own, encoded by
:func:`~warmline.decisioning.conversations.encode_entry` and placed in the partition the
worker's table uses (Kafka's default partitioner); history entries come from
:func:`~warmline.decisioning.history.escalation_entry` and
:func:`~warmline.decisioning.history.false_alarm_entry`, on the history
changelog's one partition. One record per key: a compacted changelog at its
smallest (a live one also holds not-yet-compacted older values, read as well).

Then a *probe* is put on the scored topic: the next customer turn of a restored
conversation whose last turn was negative. Alone it would not escalate; after
the restored turn it completes a ``negative_streak``, and its customer's
restored history (two escalations) adds ``repeat_contact``. A worker process
(``warmline serve decisioning``) is started and timed until it has decided the
probe (``restart_to_deciding_s``, from the worker's own ``decided_at``), not just
until ``/readyz`` says ready (``ready_s``). Its peak resident memory
(``VmHWM`` in ``/proc/<pid>/status``) is read after one more maintenance tick
(the first tick decodes every restored state and scans the whole history).

A clean start: no earlier member of the group to wait out (a killed worker's
session timeout comes on top, see ``make chaos``).

With ``store="sqlite"`` (``--store sqlite``) the worker keeps its tables in its
local database: the first start reads the changelogs and fills the database,
and a second start on the same data directory reads only what the changelogs
gained since (``second_restart``), timed on a second probe conversation whose
turn before the restarts the worker must have kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console

from warmline.bench.common import write_result
from warmline.bench.decisioning import scored_events, scored_turn
from warmline.bench.e2e import Stack, start_service, stop_service
from warmline.common.kafka import connection_options, create_producer
from warmline.common.keys import conversation_key, derived_id, key_partition
from warmline.common.settings import (
    DecisioningSettings,
    KafkaSettings,
    Store,
    TopicSettings,
    WarmlineSettings,
)
from warmline.common.topics import TopicSpec, declared_topics, ensure_topics
from warmline.decisioning.app import database_path, faust_topics
from warmline.decisioning.conversations import decode_entry, encode_entry
from warmline.decisioning.decide import apply_event
from warmline.decisioning.history import escalation_entry, false_alarm_entry
from warmline.decisioning.policy import DEFAULT_POLICY_PATH, Policy, load_policy
from warmline.decisioning.state import ConversationState
from warmline.ingestion.publisher import EventPublisher
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import free_port
from warmline.v1 import escalation_pb2, events_pb2, feedback_pb2, scoring_pb2

#: Customer turns of every live conversation (each followed by a bot turn).
CUSTOMER_TURNS = 12
#: Distinct conversations run through the decision core; the others are copies.
_ARCHETYPES = 40
#: Records per write to the changelogs.
_CHUNK = 20_000
#: What issue #15 asks of a restart at 200k conversations and 1M customers.
TARGET_S = 60.0
#: How long a worker may take to decide the probe before the size is abandoned.
DECIDE_WITHIN_S = 1_800.0
#: The probe conversation and its customer (history: two escalations).
PROBE_CONVERSATION = "probe"
#: The probe of the second start on the local database (same turns, same customer).
SECOND_PROBE = "probe-again"
PROBE_CUSTOMER = "probe-customer"
_PROBE_TEXT = "Still nothing. This is ridiculous."
_progress = Console(stderr=True)


class BenchError(RuntimeError):
    """The worker failed, or did not decide the probe in time: the size has no result."""


@dataclass(frozen=True)
class Size:
    """Live conversations in the conversations table, customers in the history."""

    conversations: int
    customers: int

    @classmethod
    def parse(cls, text: str) -> Size:
        """``CONVERSATIONS:CUSTOMERS``, e.g. ``200000:1000000``."""
        try:
            conversations, customers = (int(part) for part in text.split(":"))
        except ValueError:
            raise ValueError(f"not CONVERSATIONS:CUSTOMERS: {text!r}") from None
        if conversations < 0 or customers < 0:
            raise ValueError(f"a negative size: {text!r}")
        return cls(conversations, customers)


DEFAULT_SIZES = (
    Size(0, 0),
    Size(10_000, 0),
    Size(50_000, 0),
    Size(200_000, 0),
    Size(0, 1_000_000),
    Size(200_000, 1_000_000),
)


# --- what production leaves in the changelogs ---------------------------------
def _bot_turn(customer_turn: scoring_pb2.ScoredEvent, event_id: str) -> scoring_pb2.ScoredEvent:
    bot = scoring_pb2.ScoredEvent()
    bot.event.CopyFrom(customer_turn.event)
    bot.event.event_id = event_id
    bot.event.role = events_pb2.ROLE_BOT
    bot.event.text = "Let me check that for you."
    bot.context.context_turns = customer_turn.context.context_turns + 1
    bot.context.repeat_similarity = 0.4
    return bot


def archetypes(policy: Policy, now: datetime) -> list[bytes]:
    """Conversation states as the worker leaves them, encoded as it writes them:
    :data:`CUSTOMER_TURNS` customer turns (calm, souring, angry, asking for a
    person) and the bot's answers through the decision core, some escalated."""
    states = [ConversationState() for _ in range(_ARCHETYPES)]
    turns = scored_events(CUSTOMER_TURNS * _ARCHETYPES, _ARCHETYPES)
    for i, (_, value) in enumerate(turns):
        scored = scoring_pb2.ScoredEvent.FromString(value)
        state = states[i % _ARCHETYPES]
        at = now - timedelta(seconds=30 * (len(turns) - i) / _ARCHETYPES)
        apply_event(state, scored, policy, at)
        apply_event(state, _bot_turn(scored, f"{scored.event.event_id}-bot"), policy, at)
    return [encode_entry(state) for state in states]


def conversation_records(
    count: int, templates: Sequence[bytes], now: datetime
) -> Iterator[tuple[bytes, bytes]]:
    """``count`` live conversations: each a copy of a template state with its own
    conversation, customer and event ids, active within the last minutes."""
    for n in range(count):
        state = decode_entry(templates[n % len(templates)])
        conversation = f"live-{n}"
        ids = {old: f"{conversation}-{k}" for k, old in enumerate(state.recent_event_ids)}
        state.conversation_id, state.customer_id = conversation, f"cust-{n}"
        state.recent_event_ids = list(ids.values())
        for entry in state.trajectory:
            entry.event_id = ids.get(entry.event_id, entry.event_id)
        if state.last_decision_id:
            state.last_decision_id = derived_id(state.tenant_id, conversation, "bench")
        state.last_activity = (now - timedelta(seconds=n % 600)).timestamp()
        if state.escalated_at:
            state.escalated_at = state.last_activity - 60
        yield conversation_key(state.tenant_id, conversation), encode_entry(state)


def history_records(customers: int, now: datetime) -> Iterator[tuple[bytes, bytes]]:
    """Escalations and false alarms of ``customers`` customers within the history
    window: one escalation each, a second for every fourth customer, a false alarm
    for every tenth; the probe's customer has two escalations."""
    customer_ids = [PROBE_CUSTOMER] if customers else []
    customer_ids += (f"cust-{c}" for c in range(customers - len(customer_ids)))
    for c, customer in enumerate(customer_ids):
        conversation = f"past-{c}"
        escalations = 2 if customer == PROBE_CUSTOMER or c % 4 == 0 else 1
        at = now - timedelta(seconds=600 + (c * 7919) % (25 * 86_400))
        for k in range(escalations):
            decision = escalation_pb2.EscalationDecision(
                decision_id=derived_id("bench", conversation, f"{conversation}-{k}", "bench"),
                tenant_id="bench",
                conversation_id=conversation,
                customer_id=customer,
            )
            record = escalation_entry(decision, (at - timedelta(days=k)).timestamp())
            assert record is not None
            yield record[0], record[1].encode()
        if c % 10 == 0:
            feedback = feedback_pb2.Feedback(
                feedback_id=f"{conversation}-f",
                decision_id=derived_id("bench", conversation, f"{conversation}-0", "bench"),
                tenant_id="bench",
                conversation_id=conversation,
                customer_id=customer,
                verdict=feedback_pb2.VERDICT_FALSE_ALARM,
            )
            feedback.submitted_at.FromDatetime(at + timedelta(minutes=5))
            alarm = false_alarm_entry(feedback)
            assert alarm is not None
            yield alarm[0], alarm[1].encode()


def probe_turns(
    now: datetime, conversation: str = PROBE_CONVERSATION
) -> tuple[list[scoring_pb2.ScoredEvent], scoring_pb2.ScoredEvent]:
    """The probe conversation's turns before the restart (calm, then negative), and
    the fresh turn sent after it: negative again, which only the restored turn
    makes a streak."""
    args = (conversation, PROBE_CUSTOMER)
    before = [
        scored_turn("probe-0", *args, "Where is my order? It was due yesterday.", 0.2,
                    now - timedelta(seconds=90), 0),
        scored_turn("probe-1", *args, "I have been charged twice for the same subscription.",
                    0.55, now - timedelta(seconds=60), 1),
    ]  # fmt: skip
    return before, scored_turn("probe-2", *args, _PROBE_TEXT, 0.6, now, 2)


def probe_state(
    policy: Policy, now: datetime, conversation: str = PROBE_CONVERSATION
) -> tuple[bytes, bytes]:
    """The probe conversation's changelog record: its turns before the restart."""
    state = ConversationState()
    before, _ = probe_turns(now, conversation)
    for scored in before:
        apply_event(state, scored, policy, scored.event.occurred_at.ToDatetime(tzinfo=UTC))
    return conversation_key(state.tenant_id, conversation), encode_entry(state)


# --- one size --------------------------------------------------------------------
def _settings(
    bootstrap: str, workdir: Path, name: str, store: Store = "memory"
) -> WarmlineSettings:
    return WarmlineSettings(
        log_level="WARNING",
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        topics=TopicSettings(prefix=f"{name}."),
        decisioning=DecisioningSettings(
            host="127.0.0.1",
            http_port=free_port(),
            metrics_port=free_port(),
            app_id=name,
            data_dir=workdir / name,
            store=store,
        ),
    )


def _changelog_specs(settings: WarmlineSettings) -> list[TopicSpec]:
    """The worker's own topics, shaped as faust creates them (compacted changelogs)."""
    t = settings.topics
    changelog, history, leader = faust_topics(settings)
    compacted = {"cleanup.policy": "compact", "min.insync.replicas": str(t.min_insync_replicas)}
    return [
        TopicSpec(changelog, t.partitions, t.replication_factor, compacted),
        TopicSpec(history, 1, t.replication_factor, compacted),
        TopicSpec(leader, 1, t.replication_factor, {}),
    ]


@dataclass
class Written:
    """Records written to a topic, their keys' and values' bytes, and how long it took."""

    records: int = 0
    bytes: int = 0
    seconds: float = 0.0


async def _write(
    settings: WarmlineSettings, topic: str, records: Iterator[tuple[bytes, bytes]]
) -> Written:
    """Write ``records`` to ``topic`` in their keys' partitions, acknowledged."""
    written = Written()
    started = time.perf_counter()
    producer = create_producer(settings, "bench-restore")
    await producer.start()
    try:
        publisher = EventPublisher(
            producer, topic, buffer_max_events=_CHUNK, delivery_timeout_s=300.0
        )
        while chunk := list(itertools.islice(records, _CHUNK)):
            await publisher.publish(chunk)
            written.records += len(chunk)
            written.bytes += sum(len(k) + len(v) for k, v in chunk)
            if written.records % 200_000 == 0:
                _progress.log(f"  {written.records:,} records written")
    finally:
        await producer.stop()
    written.seconds = time.perf_counter() - started
    return written


async def fill(
    settings: WarmlineSettings,
    size: Size,
    now: datetime,
    probes: Sequence[str] = (PROBE_CONVERSATION,),
) -> tuple[Written, Written]:
    """Write both changelogs for ``size``, the probe conversations' states and their
    customer's history (when there are customers) included."""
    policy = load_policy(DEFAULT_POLICY_PATH)
    changelog, history, _ = faust_topics(settings)
    templates = archetypes(policy, now)
    states = _with_probes(
        conversation_records(size.conversations, templates, now), policy, now, probes
    )
    conversations = await _write(settings, changelog, states)
    customers = await _write(settings, history, history_records(size.customers, now))
    return conversations, customers


def _with_probes(
    records: Iterator[tuple[bytes, bytes]], policy: Policy, now: datetime, probes: Sequence[str]
) -> Iterator[tuple[bytes, bytes]]:
    for conversation in probes:
        yield probe_state(policy, now, conversation)
    yield from records


async def publish_probe(
    settings: WarmlineSettings, now: datetime, conversation: str = PROBE_CONVERSATION
) -> None:
    """The probe's fresh turn, on the scored topic, waiting for the worker."""
    _, probe = probe_turns(now, conversation)
    key = conversation_key(probe.event.tenant_id, conversation)
    await _write(settings, settings.topics.name("scored"), iter([(key, probe.SerializeToString())]))


async def _probe_decision(stack: Stack, conversation: str) -> escalation_pb2.EscalationDecision:
    """The first decision on the probe conversation, read from the escalations topic."""
    settings = stack.settings
    topic = settings.topics.name("escalations")
    key = conversation_key("bench", conversation)
    partition = TopicPartition(topic, key_partition(key, settings.topics.partitions))
    consumer = AIOKafkaConsumer(**connection_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        deadline = time.monotonic() + DECIDE_WITHIN_S
        while time.monotonic() < deadline:
            for record in (await consumer.getmany(timeout_ms=200)).get(partition, []):
                decision = escalation_pb2.EscalationDecision.FromString(record.value or b"")
                if decision.conversation_id == conversation:
                    return decision
            _raise_if_exited(stack)
        raise BenchError(f"the probe was not decided within {DECIDE_WITHIN_S:.0f} s")
    finally:
        await consumer.stop()


def _raise_if_exited(stack: Stack) -> None:
    process = stack.processes.get("decisioning")
    if process is not None and process.returncode is not None:
        raise BenchError(f"the decisioning worker exited ({process.returncode})")


def _proc_status(pid: int) -> dict[str, int]:
    """``VmHWM`` and ``VmRSS`` of ``pid`` in kB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0])
    return fields


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds ``pid`` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    after_name = stat[stat.rindex(")") + 2 :].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")


async def restart(
    broker: LocalKafka, settings: WarmlineSettings, probe: str = PROBE_CONVERSATION
) -> dict[str, Any]:
    """Start a worker on the filled changelogs; time it until it decided the probe."""
    stack = Stack(broker, settings)
    started_wall, started = time.time(), time.perf_counter()
    starting = asyncio.create_task(
        start_service(stack, "decisioning", ready_within_s=DECIDE_WITHIN_S)
    )
    try:
        decision = await _probe_decision(stack, probe)
        pid = stack.processes["decisioning"].pid
        cpu_s = _cpu_s(pid)
        await starting
        ready_s = time.perf_counter() - started
        decided_at = decision.timings.decided_at.ToDatetime(tzinfo=UTC).timestamp()
        # One more maintenance tick: its first pass decodes every restored state.
        await asyncio.sleep(2 * settings.decisioning.policy_reload_s + 1)
        _raise_if_exited(stack)
        memory = _proc_status(pid)
    finally:
        if not starting.done():
            starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starting
        await stop_service(stack, "decisioning")
    return {
        "restart_to_deciding_s": round(decided_at - started_wall, 2),
        "ready_s": round(ready_s, 2),
        "peak_rss_mib": round(memory["VmHWM"] / 1024, 1),
        "rss_mib": round(memory["VmRSS"] / 1024, 1),
        "worker_cpu_s_to_deciding": round(cpu_s, 2),
        "probe": {
            "action": escalation_pb2.DecisionAction.Name(decision.action),
            "reasons": [reason.code for reason in decision.reasons],
            "customer_escalations_in_window": decision.customer_history.escalations_in_window,
        },
    }


async def measure_size(
    broker: LocalKafka,
    size: Size,
    workdir: Path,
    name: str,
    store: Store = "memory",
) -> dict[str, Any]:
    """Fill the changelogs for ``size``, restart a worker on them, measure it (with the
    local database: twice, the second start on the database the first one filled)."""
    settings = _settings(broker.bootstrap_servers, workdir, name, store)
    probes = (PROBE_CONVERSATION, SECOND_PROBE) if store == "sqlite" else (PROBE_CONVERSATION,)
    await ensure_topics(settings, [*declared_topics(settings), *_changelog_specs(settings)])
    now = datetime.now(UTC)
    _progress.log(
        f"{size.conversations:,} conversations, {size.customers:,} customers: writing changelogs"
    )
    conversations, history = await fill(settings, size, now, probes)
    await publish_probe(settings, datetime.now(UTC))
    _progress.log(
        f"  written in {conversations.seconds + history.seconds:.1f} s; starting a worker"
    )
    measured = await restart(broker, settings)
    _progress.log(
        f"  deciding {measured['restart_to_deciding_s']} s after its start, "
        f"peak RSS {measured['peak_rss_mib']} MiB"
    )
    if store == "sqlite":
        measured["second_restart"] = await _second_restart(broker, settings)
    return {
        "conversations": size.conversations,
        "customers": size.customers,
        **measured,
        "conversation_records": conversations.records,
        "conversation_changelog_mib": round(conversations.bytes / 2**20, 1),
        "history_entries": history.records,
        "history_changelog_mib": round(history.bytes / 2**20, 1),
        "write_s": round(conversations.seconds + history.seconds, 3),
    }


async def _second_restart(broker: LocalKafka, settings: WarmlineSettings) -> dict[str, Any]:
    """Start a worker again on the database the first start filled, timed on the second probe."""
    await publish_probe(settings, datetime.now(UTC), SECOND_PROBE)
    database = database_path(settings)
    measured = await restart(broker, settings, SECOND_PROBE)
    # The file and its write-ahead log (committed pages not yet copied back).
    files = [database, database.with_name(f"{database.name}-wal")]
    measured["database_mib"] = round(sum(f.stat().st_size for f in files if f.exists()) / 2**20, 2)
    _progress.log(
        f"  on its database: deciding {measured['restart_to_deciding_s']} s after its start, "
        f"peak RSS {measured['peak_rss_mib']} MiB"
    )
    return measured


async def measure(
    sizes: Sequence[Size],
    kafka_version: str,
    broker: LocalKafka | None = None,
    store: Store = "memory",
) -> dict[str, Any]:
    """Every size on one broker (``broker``, or a local one started here), in order."""
    run_id = uuid.uuid4().hex[:6]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if broker is None:
            broker = stack.enter_context(LocalKafka(version=kafka_version))
        for n, size in enumerate(sizes):
            rows.append(await measure_size(broker, size, Path(tmp), f"restore-{run_id}-{n}", store))
    return {
        "sizes": rows,
        "customer_turns_per_conversation": CUSTOMER_TURNS,
        "partitions": TopicSettings().partitions,
        "kafka_version": kafka_version,
        "store": store,
        "target_restart_to_deciding_s": TARGET_S,
    }


def run(
    out: Path,
    sizes: Sequence[Size] = DEFAULT_SIZES,
    kafka_version: str | None = None,
    store: Store = "memory",
) -> dict[str, Any]:
    """Measure and write the JSON result to ``out``."""
    version = kafka_version or os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    return write_result(out, asyncio.run(measure(sizes, version, store=store)))
