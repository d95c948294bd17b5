"""The decisioning Faust app's real agents, driven with ``agent.test_context()``.

No broker: the app's producer is replaced by one that keeps every record, so
each test reads what the worker would have written to the escalations topic and
to the tables' changelogs. Every test runs with the tables in memory and again
in the local SQLite database (``DECISIONING__STORE``).
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaError
from faust.types import TP, FutureMessage, RecordMetadata
from prometheus_client import REGISTRY

from warmline.common.keys import conversation_key, key_partition
from warmline.common.settings import DecisioningSettings, KafkaSettings, WarmlineSettings
from warmline.decisioning import app as decisioning_app
from warmline.decisioning import conversations
from warmline.decisioning.app import DecisioningApp
from warmline.decisioning.conversations import activity_of_entry, decode_entry, encode_entry
from warmline.decisioning.decide import apply_event
from warmline.decisioning.faust_runtime.deliveries import DeliveryError
from warmline.decisioning.faust_runtime.sqlite_store import local_rows
from warmline.decisioning.history import ESCALATION, HistoryEntry
from warmline.decisioning.maintenance import reload_policy
from warmline.decisioning.policy import DEFAULT_POLICY_PATH
from warmline.decisioning.policy_store import PolicyStore
from warmline.v1 import escalation_pb2, feedback_pb2, scoring_pb2

from .support import DEFAULT, Conversation, negative

E = escalation_pb2
BASE_POLICY = DEFAULT_POLICY_PATH.read_text()
# Tenant "steady" never forms a negative streak, so sustained negativity shows alone.
POLICY = BASE_POLICY.replace(
    "tenants: {}\n", "tenants:\n  steady:\n    thresholds: {streak_length: 99}\n"
)
TTL_S = 3600.0


class RecordingBatch:
    """Stands in for aiokafka's ``BatchBuilder``: holds up to ``capacity`` records."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[tuple[bytes | None, bytes | None]] = []
        self.closed = False

    def append(self, *, timestamp: float | None, key: bytes | None, value: bytes | None) -> object:
        if self.closed or len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        return len(self.records)

    def close(self) -> None:
        self.closed = True


class RecordingProducer:
    """Stands in for the app's Kafka producer: keeps each record instead of sending it."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []
        self.partitions: list[tuple[str, int | None]] = []
        self.batch_capacity = 1_000
        #: Per batch sent with ``send_batch``: topic, partition, record count.
        self.batches: list[tuple[str, int, int]] = []
        #: When set, ``send_batch`` answers with this error (the brokers refused it).
        self.batch_error: Exception | None = None
        #: When set, ``send`` answers with this error.
        self.send_error: Exception | None = None

    def _ensure_producer(self) -> RecordingProducer:
        # faust's aiokafka driver returns its AIOKafkaProducer; this double is both.
        return self

    def create_batch(self) -> RecordingBatch:
        return RecordingBatch(self.batch_capacity)

    async def send_batch(
        self, batch: RecordingBatch, topic: str, *, partition: int
    ) -> asyncio.Future[RecordMetadata]:
        assert batch.closed, "a batch is closed before it is sent"
        first = len(self.on(topic))
        for key, value in batch.records:
            self.records.append((topic, key, value))
            self.partitions.append((topic, partition))
        self.batches.append((topic, partition, len(batch.records)))
        acked: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        if self.batch_error is not None:
            acked.set_exception(copy.copy(self.batch_error))
        else:
            acked.set_result(RecordMetadata(topic, partition, TP(topic, partition), first, None))
        return acked

    async def maybe_start(self) -> None:
        """Nothing to connect to."""

    def key_partition(self, topic: str, key: bytes) -> TP:
        return TP(topic, 0)

    def send_soon(self, fut: FutureMessage) -> None:
        message = fut.message
        self.records.append((message.channel.get_topic_name(), message.key, message.value))

    async def send(
        self, topic: str, key: bytes | None = None, value: bytes | None = None,
        partition: int | None = None, timestamp: float | None = None, headers: Any = None,
        **_: Any,
    ) -> asyncio.Future[RecordMetadata]:  # fmt: skip
        """faust's ``Producer.send`` (positional) and aiokafka's (keywords) alike."""
        self.records.append((topic, key, value))
        self.partitions.append((topic, partition))
        acked: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        if self.send_error is not None:
            acked.set_exception(copy.copy(self.send_error))  # as aiokafka does, per record
        else:
            acked.set_result(RecordMetadata(topic, 0, TP(topic, 0), len(self.records), timestamp))
        return acked

    def on(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        """Keys and values written to ``topic``, in order."""
        return [(key, value) for name, key, value in self.records if name == topic]


class Worker:
    """A decisioning app with a recording producer, its policy file, and its decide agent."""

    def __init__(self, tmp_path: Path, store: str = "memory") -> None:
        self.policy_path = tmp_path / "policy.yaml"
        self.policy_mtime_ns = 1_000_000_000
        self.write_policy(POLICY)
        settings = WarmlineSettings(
            decisioning=DecisioningSettings(
                data_dir=tmp_path / "data",
                policy_file=self.policy_path,
                conversation_ttl_s=TTL_S,
                store=store,
            )
        )
        self.stream = DecisioningApp(settings, PolicyStore.from_path(self.policy_path))
        self.producer = RecordingProducer()
        self.stream.app.producer = self.producer  # type: ignore[assignment]
        self.escalations = self.stream.escalations.get_topic_name()
        self.changelog = self.stream.table.changelog_topic.get_topic_name()
        self.history_changelog = self.stream.history_table.changelog_topic.get_topic_name()
        self.agent = self.stream.app.agents["decide"]
        self.feedback_agent = self.stream.app.agents["feedback"]

    def write_policy(self, text: str) -> None:
        """Replace the policy file the worker reloads from."""
        self.policy_path.write_text(text)
        # Explicit, increasing mtimes: two writes within one filesystem tick must still differ.
        os.utime(self.policy_path, ns=(self.policy_mtime_ns, self.policy_mtime_ns))
        self.policy_mtime_ns += 1_000_000_000

    def decisions(self) -> list[escalation_pb2.EscalationDecision]:
        """Every decision the worker produced so far."""
        return [
            E.EscalationDecision.FromString(v or b"") for _, v in self.producer.on(self.escalations)
        ]


@pytest.fixture(params=["memory", "sqlite"])
async def worker(tmp_path: Path, request: pytest.FixtureRequest) -> Worker:
    return Worker(tmp_path, request.param)


@pytest.fixture
async def agent(worker: Worker) -> AsyncIterator[Any]:
    async with worker.agent.test_context() as running:
        yield running


async def feed(
    agent: Any, *events: scoring_pb2.ScoredEvent
) -> list[escalation_pb2.EscalationDecision]:
    """Put each event on the agent's stream and wait until it was decided on; the decisions."""
    decided = []
    for event in events:
        key = conversation_key(event.event.tenant_id, event.event.conversation_id)
        await agent.put(event.SerializeToString(), key=key)
        decided += agent.results[agent.processed_offset - 1]
    return decided


async def read_from_changelog(table: Any, key: bytes, value: bytes | None, offset: int) -> None:
    """What faust's recovery does with a changelog record of ``table`` it read."""
    partition = table.partition_for_key(key)
    if partition is None:
        partition = key_partition(key, table.partitions)
    message = SimpleNamespace(key=key, value=value, partition=partition, offset=offset)
    event = SimpleNamespace(key=key, value=value, message=message)
    await table.on_changelog_event(event)
    table.apply_changelog_batch([event])


def codes(decision: escalation_pb2.EscalationDecision) -> set[str]:
    return {r.code for r in decision.reasons}


@pytest.mark.parametrize(
    ("tenant", "turns", "code", "queue"),
    [
        ("steady", [("ugh", negative(0.9)), ("still broken", negative(0.9))], "sustained_negativity", "general"),
        ("acme", [("can I talk to a human please", None)], "explicit_request", "general"),
        ("acme", [("my husband passed away last week", None)], "sensitive_topic", "specialist_care"),
        ("acme", [("you useless idiot bot", None)], "abuse", "supervisor"),
    ],
)  # fmt: skip
async def test_each_rule_escalates_with_its_reason_to_its_queue(
    worker: Worker,
    agent: Any,
    tenant: str,
    turns: list[tuple[str, dict[str, float] | None]],
    code: str,
    queue: str,
) -> None:
    c = Conversation(tenant=tenant)
    await feed(agent, *(c.customer(text, signals) for text, signals in turns))

    [decision] = worker.decisions()
    assert decision.action == E.DECISION_ACTION_ESCALATE
    assert codes(decision) == {code}
    assert decision.queue == queue
    assert (decision.tenant_id, decision.conversation_id) == (tenant, "c1")
    assert decision.trigger_event_id == f"e{len(turns)}"
    # Under the conversation's own key, so it stays in order with the conversation.
    [(key, _)] = worker.producer.on(worker.escalations)
    assert key == conversation_key(tenant, "c1")


async def test_calm_turns_decide_nothing_but_are_remembered(worker: Worker, agent: Any) -> None:
    c = Conversation()
    assert await feed(agent, c.customer("hi, where is my parcel?"), c.customer("thanks")) == []
    assert worker.decisions() == []
    keys = {key for key, _ in worker.producer.on(worker.changelog)}
    assert keys == {conversation_key("acme", "c1")}


async def test_a_conversation_escalates_once_and_updates_only_when_priority_rises(
    worker: Worker, agent: Any
) -> None:
    c = Conversation()
    first = c.customer("can I talk to a human please")
    outcomes = [
        await feed(agent, first),
        await feed(agent, c.customer("talk to a human please, now")),  # same priority
        await feed(agent, first),  # an at-least-once replay of the first event
        await feed(agent, c.customer("my husband passed away and I need help")),  # higher
        await feed(agent, c.customer("get me a human please")),  # lower than high
    ]

    assert [len(decided) for decided in outcomes] == [1, 0, 0, 1, 0]
    escalate, update = worker.decisions()
    assert escalate.action == E.DECISION_ACTION_ESCALATE
    assert escalate.priority == E.PRIORITY_NORMAL and escalate.queue == "general"
    assert update.action == E.DECISION_ACTION_UPDATE
    assert update.priority == E.PRIORITY_HIGH and update.queue == "specialist_care"
    assert "sensitive_topic" in codes(update)
    assert escalate.decision_id != update.decision_id


async def test_an_idle_conversation_is_forgotten_after_its_ttl(worker: Worker, agent: Any) -> None:
    idle, busy = Conversation(conversation="idle"), Conversation(conversation="busy")
    mild = negative(0.5)  # two such turns in a row are a negative streak

    await feed(agent, idle.customer("this is not great", mild))
    assert (
        await worker.stream.conversations.expire_idle(
            datetime.now(UTC) + timedelta(seconds=TTL_S / 2)
        )
        == []
    )
    forgotten = await worker.stream.conversations.expire_idle(
        datetime.now(UTC) + timedelta(seconds=TTL_S + 60)
    )
    assert forgotten == [conversation_key("acme", "idle")]
    # The tombstone reaches the changelog, so a restarted worker does not bring it back.
    assert worker.producer.on(worker.changelog)[-1] == (conversation_key("acme", "idle"), None)

    await feed(agent, busy.customer("this is not great", mild))
    decided = await feed(
        agent, idle.customer("still not great", mild), busy.customer("still not great", mild)
    )

    # The idle conversation starts afresh: its second bad turn is only its first.
    assert [d.conversation_id for d in decided] == ["busy"]
    assert codes(decided[0]) == {"negative_streak"}


async def test_expiry_reads_a_state_again_when_the_changelog_restored_a_newer_one(
    worker: Worker, agent: Any
) -> None:
    c = Conversation()
    key = conversation_key("acme", "c1")
    await feed(agent, c.customer("where is my parcel?"))
    started = datetime.now(UTC)
    assert (
        await worker.stream.conversations.expire_idle(started + timedelta(seconds=TTL_S / 2)) == []
    )

    # Meanwhile another worker had the partition and the customer wrote again.
    state = decode_entry(worker.stream.table[key])
    state.last_activity = (started + timedelta(seconds=TTL_S)).timestamp()
    await read_from_changelog(worker.stream.table, key, encode_entry(state), offset=1_000)

    assert (
        await worker.stream.conversations.expire_idle(started + timedelta(seconds=TTL_S + 60)) == []
    )
    later = started + timedelta(seconds=2 * TTL_S + 60)
    assert await worker.stream.conversations.expire_idle(later) == [key]
    assert key not in worker.stream.table


async def test_the_local_database_stamps_a_state_it_just_wrote_without_parsing_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[bytes] = []

    def counted(key: bytes, raw: bytes) -> float:
        parsed.append(key)
        return activity_of_entry(key, raw)

    monkeypatch.setattr(conversations, "activity_of_entry", counted)
    monkeypatch.setattr(decisioning_app, "activity_of_entry", counted)
    worker = Worker(tmp_path, "sqlite")
    key = conversation_key("acme", "c1")
    async with worker.agent.test_context() as agent:
        await feed(agent, Conversation().customer("where is my parcel?"))
    rows = local_rows(worker.stream.table)
    assert rows is not None and key not in rows._overlay  # acknowledged: in the database
    last_activity = decode_entry(worker.stream.table[key]).last_activity
    assert list(rows.stamped_before(float("inf"))) == [(key, last_activity)]
    assert parsed == []
    # A value the store did not encode itself (read from the changelog) is parsed.
    await read_from_changelog(worker.stream.table, key, worker.stream.table[key], offset=1_000)
    assert parsed == [key]


def versioned(policy: str, version: str) -> str:
    """``policy`` under another version."""
    return re.sub(r"^version: .*$", f'version: "{version}"', policy, count=1, flags=re.MULTILINE)


def reload_errors() -> float:
    return REGISTRY.get_sample_value("warmline_policy_reload_errors_total") or 0.0


async def test_a_changed_policy_file_changes_decisions_and_a_bad_one_is_rejected(
    worker: Worker, agent: Any
) -> None:
    request = "can I talk to a human please"
    [before] = await feed(agent, Conversation(conversation="before").customer(request))
    assert before.queue == "general" and before.policy_version == DEFAULT.version

    worker.write_policy(
        versioned(POLICY, "frontline-1").replace(
            "default_queue: general", "default_queue: frontline"
        ),
    )
    reload_policy(worker.stream.policies)
    [after] = await feed(agent, Conversation(conversation="after").customer(request))
    assert after.queue == "frontline" and after.policy_version == "frontline-1"

    errors = reload_errors()
    worker.write_policy(
        versioned(POLICY, "broken-2").replace("ewma_alpha: 0.4", "ewma_alpha: 3"),
    )
    reload_policy(worker.stream.policies)
    assert reload_errors() == errors + 1
    [kept] = await feed(agent, Conversation(conversation="kept").customer(request))
    assert kept.queue == "frontline" and kept.policy_version == "frontline-1"


async def test_a_state_restored_from_the_changelog_wins_over_the_workers_own_copy(
    worker: Worker, agent: Any
) -> None:
    c = Conversation()
    key = conversation_key("acme", "c1")
    mild = negative(0.5)  # two such turns in a row are a negative streak
    await feed(agent, c.customer("this is not great", mild))

    # Meanwhile the partition was elsewhere: that worker escalated on the second
    # bad turn, and its state comes back through the changelog.
    state = decode_entry(worker.stream.table[key])
    second = c.customer("still not great", mild)
    assert apply_event(state, second, worker.stream.policies.current, datetime.now(UTC))
    await read_from_changelog(worker.stream.table, key, encode_entry(state), offset=1_000)

    # Already handed over there: a third bad turn is no second escalation.
    assert await feed(agent, c.customer("nope", mild)) == []


def false_alarm(decision: escalation_pb2.EscalationDecision, agent_id: str) -> bytes:
    """An agent's false-alarm verdict on ``decision``, as the notification service writes it."""
    feedback = feedback_pb2.Feedback(
        feedback_id=f"{decision.decision_id}-{agent_id}",
        tenant_id=decision.tenant_id,
        conversation_id=decision.conversation_id,
        decision_id=decision.decision_id,
        agent_id=agent_id,
        verdict=feedback_pb2.VERDICT_FALSE_ALARM,
        customer_id=decision.customer_id,
    )
    feedback.submitted_at.FromDatetime(datetime.now(UTC))
    return feedback.SerializeToString()


async def test_a_customers_later_conversations_see_the_earlier_ones_escalations_and_false_alarms(
    worker: Worker, agent: Any
) -> None:
    request = "can I talk to a human please"
    [first] = await feed(agent, Conversation(conversation="first").customer(request))
    assert first.customer_history.escalations_in_window == 0
    assert "repeat_contact" not in codes(first)

    [second] = await feed(agent, Conversation(conversation="second").customer(request))
    assert second.customer_history.escalations_in_window == 1
    assert "repeat_contact" in codes(second)
    # Another customer of the same tenant has no history.
    [stranger] = await feed(
        agent, Conversation(conversation="other", customer="u2").customer(request)
    )
    assert stranger.customer_history.escalations_in_window == 0

    async with worker.feedback_agent.test_context() as feedback:
        key = conversation_key("acme", "first")
        # Two agents call the first escalation a false alarm, one of them twice: one false alarm.
        for agent_id in ("alice", "bob", "bob"):
            await feedback.put(false_alarm(first, agent_id), key=key)
        useful = feedback_pb2.Feedback(
            tenant_id="acme", decision_id=second.decision_id, customer_id="u1",
            verdict=feedback_pb2.VERDICT_USEFUL,
        )  # fmt: skip
        await feedback.put(useful.SerializeToString(), key=conversation_key("acme", "second"))

    [third] = await feed(agent, Conversation(conversation="third").customer(request))
    history = third.customer_history
    assert (history.escalations_in_window, history.false_alarms_in_window) == (2, 1)
    assert history.window_days == DEFAULT.defaults.history_window_days
    # Every entry went to the history changelog once; nothing went into the conversations'.
    entries = worker.producer.on(worker.history_changelog)
    assert len(entries) == len({k for k, _ in entries}) == 5  # 4 escalations, 1 false alarm
    assert all(
        b"history" not in (value or b"") for _, value in worker.producer.on(worker.changelog)
    )


async def test_a_conversation_is_not_its_own_repeat_contact_with_shared_history(
    worker: Worker, agent: Any
) -> None:
    c = Conversation()
    [escalate] = await feed(agent, c.customer("I want to talk to a human"))
    assert escalate.action == E.DECISION_ACTION_ESCALATE
    [update] = await feed(agent, c.customer("my mother died last week"))
    assert update.action == E.DECISION_ACTION_UPDATE
    assert update.customer_history.escalations_in_window == 0
    assert "repeat_contact" not in codes(update)


async def test_a_restarted_worker_gets_the_customer_history_back_from_the_changelog(
    worker: Worker, agent: Any, tmp_path: Path
) -> None:
    request = "can I talk to a human please"
    await feed(agent, Conversation(conversation="before").customer(request))
    changelog = worker.producer.on(worker.history_changelog)

    # A fresh worker reads the history changelog (every worker reads all of it).
    (tmp_path / "restarted").mkdir()
    restarted = Worker(tmp_path / "restarted")
    for key, value in changelog:
        await restarted.stream.history_table.on_changelog_event(
            SimpleNamespace(message=SimpleNamespace(key=key, value=value))
        )
    async with restarted.agent.test_context() as again:
        [after] = await feed(again, Conversation(conversation="after").customer(request))
    assert after.customer_history.escalations_in_window == 1

    # A persistent store keeps entries it does not read again: rebuilt after recovery.
    (tmp_path / "kept").mkdir()
    kept = Worker(tmp_path / "kept")
    kept.stream.history_table.data.update(dict(changelog))
    await kept.stream.history_table.call_recover_callbacks()
    async with kept.agent.test_context() as again:
        [after] = await feed(again, Conversation(conversation="after").customer(request))
    assert after.customer_history.escalations_in_window == 1


async def test_history_older_than_the_window_is_deleted(worker: Worker, agent: Any) -> None:
    await feed(agent, Conversation().customer("can I talk to a human please"))
    [(key, _)] = worker.producer.on(worker.history_changelog)
    days = DEFAULT.defaults.history_window_days

    assert (
        await worker.stream.history_recorder.prune(datetime.now(UTC) + timedelta(days=days - 1))
        == []
    )
    assert await worker.stream.history_recorder.prune(
        datetime.now(UTC) + timedelta(days=days + 1)
    ) == [key]
    assert worker.producer.on(worker.history_changelog)[-1] == (key, None)
    assert key not in worker.stream.history_table


async def test_an_escalation_recorded_mid_batch_waits_for_the_batchs_end_not_the_timer(
    worker: Worker, agent: Any
) -> None:
    # The decide agent records the escalation while it works through a batch; the
    # maintenance timer may prune (and flush the history) while the agent awaits.
    entry = HistoryEntry("acme/u1", ESCALATION, datetime.now(UTC).timestamp(), "c1")
    worker.stream.history_recorder.record((entry.key("d1"), entry))
    assert await worker.stream.history_recorder.prune(datetime.now(UTC)) == []
    # Not sent ahead of the batch's decisions: only the batch's end writes it.
    assert worker.producer.on(worker.history_changelog) == []
    [decided] = await feed(agent, Conversation(conversation="c2").customer("can I talk to a human"))
    assert decided.customer_history.escalations_in_window == 1
    assert entry.key("d1") in {key for key, _ in worker.producer.on(worker.history_changelog)}


async def test_escalations_of_one_customer_on_two_workers_at_once_are_both_kept(
    worker: Worker, agent: Any
) -> None:
    request = "can I talk to a human please"
    # Another worker escalated the customer's call at the same moment; its entry
    # arrives through the changelog after this worker wrote its own.
    elsewhere = HistoryEntry("acme/u1", ESCALATION, datetime.now(UTC).timestamp(), "call")
    await feed(agent, Conversation(conversation="chat").customer(request))
    history = worker.stream.history_table
    await read_from_changelog(history, elsewhere.key("d-call"), elsewhere.encode(), offset=1)
    for offset, (key, value) in enumerate(worker.producer.on(worker.history_changelog), 2):
        await read_from_changelog(history, key, value, offset)  # our own, read back

    [later] = await feed(agent, Conversation(conversation="mail").customer(request))
    assert later.customer_history.escalations_in_window == 2


async def test_history_is_written_even_before_the_producer_knows_the_changelog_topic(
    worker: Worker, agent: Any
) -> None:
    # Right after start-up aiokafka's producer may have no metadata for the history
    # changelog yet; asking it to pick a partition then raises, which crashed the agent.
    history_topic = worker.history_changelog
    pick = worker.producer.key_partition

    def key_partition(topic: str, key: bytes) -> TP:
        if topic == history_topic:
            raise TypeError("'NoneType' object is not iterable")
        return pick(topic, key)

    worker.producer.key_partition = key_partition  # type: ignore[method-assign]
    c = Conversation()
    await feed(agent, c.customer("can I talk to a human please", None))
    [decision] = worker.decisions()
    assert decision.action == E.DECISION_ACTION_ESCALATE
    assert len(worker.producer.on(history_topic)) == 1


async def test_a_fresh_worker_writes_its_first_states_before_the_producer_knows_the_changelog(
    worker: Worker, agent: Any
) -> None:
    # aiokafka's producer cannot place a key before it has fetched the topic's
    # metadata; faust's table asked it, and a fresh worker's first batch crashed.
    def no_metadata_yet(topic: str, key: bytes) -> TP:
        raise TypeError("'NoneType' object is not iterable")

    worker.producer.key_partition = no_metadata_yet  # type: ignore[method-assign]
    conversations = [Conversation(conversation=f"c{n}") for n in range(12)]
    await feed(agent, *(c.customer("where is my parcel?") for c in conversations))

    changelog = [p for topic, p in worker.producer.partitions if topic == worker.changelog]
    keys = [key for key, _ in worker.producer.on(worker.changelog)]
    assert keys == [conversation_key("acme", f"c{n}") for n in range(12)]
    # Each state in the partition Kafka's default partitioner gives its key, which
    # is where the conversation's scored records are (all Warmline producers use it).
    partitions = worker.stream.table.partitions
    assert changelog == [key_partition(key, partitions) for key in keys]
    assert len(set(changelog)) > 1


async def test_a_batchs_states_leave_as_one_record_batch_per_partition_in_write_order(
    worker: Worker, agent: Any
) -> None:
    table = worker.stream.table
    produced = ("warmline_kafka_records_produced_total", {"topic": worker.changelog})
    before = REGISTRY.get_sample_value(*produced) or 0.0
    keys = [conversation_key("acme", f"c{n}") for n in range(24)]
    for round_ in range(2):
        for key in keys:
            table[key] = b"state %d" % round_
    del table[keys[0]]
    await table.flush_changelog()
    await asyncio.sleep(0)  # the acknowledgements' callbacks
    # SREs see the changelog's records among the worker's produced records.
    assert REGISTRY.get_sample_value(*produced) == before + 2 * len(keys) + 1

    partitions = {key_partition(key, table.partitions) for key in keys}
    assert sorted(p for _, p, _ in worker.producer.batches) == sorted(partitions)
    assert sum(count for *_, count in worker.producer.batches) == 2 * len(keys) + 1
    # Within a key's partition its records keep their order: compaction keeps the last.
    latest = dict(worker.producer.on(worker.changelog))
    assert latest == {keys[0]: None, **{key: b"state 1" for key in keys[1:]}}


def same_partition_keys(table: Any, count: int) -> list[bytes]:
    """``count`` conversation keys whose changelog records go to partition 0."""
    return [
        key
        for n in range(200)
        if key_partition(key := conversation_key("acme", f"c{n}"), table.partitions) == 0
    ][:count]


async def test_a_record_batch_that_fills_up_is_sent_and_the_rest_follow_its_acknowledgement(
    worker: Worker, agent: Any
) -> None:
    table = worker.stream.table
    worker.producer.batch_capacity = 2
    keys = same_partition_keys(table, 5)
    for key in keys:
        table[key] = key
    await table.flush_changelog()
    assert [count for *_, count in worker.producer.batches] == [2]

    await asyncio.wait_for(table.wait_written(), 5)
    assert [count for *_, count in worker.producer.batches] == [2, 2, 1]
    assert worker.producer.on(worker.changelog) == [(key, key) for key in keys]


async def test_writes_never_flushed_are_neither_sent_nor_waited_for_by_a_commit(
    worker: Worker, agent: Any
) -> None:
    # A batch that failed halfway has written to the table but never flushed: its
    # writes must not reach the changelog, nor hold up the commit the stop makes.
    [key] = same_partition_keys(worker.stream.table, 1)
    worker.stream.table[key] = b"half-applied"
    await asyncio.wait_for(worker.stream.confirm_deliveries(), 5)
    assert worker.producer.on(worker.changelog) == []


async def test_records_wait_behind_an_unanswered_batch_and_the_writer_never_does(
    worker: Worker, agent: Any
) -> None:
    table = worker.stream.table
    answers: list[asyncio.Future[RecordMetadata]] = []

    async def unanswered(
        batch: RecordingBatch, topic: str, *, partition: int
    ) -> asyncio.Future[RecordMetadata]:
        answers.append(asyncio.get_running_loop().create_future())
        worker.producer.batches.append((topic, partition, len(batch.records)))
        return answers[-1]

    worker.producer.send_batch = unanswered  # type: ignore[method-assign]
    first, second, third = same_partition_keys(table, 3)
    table[first] = b"1"
    await table.flush_changelog()
    table[second] = b"2"
    await table.flush_changelog()  # returns at once: the first batch is unanswered
    table[third] = b"3"
    await table.flush_changelog()
    assert [count for *_, count in worker.producer.batches] == [1]

    # Offsets wait for every record written so far, not only for the batch sent.
    written = asyncio.ensure_future(table.wait_written())
    answers[0].set_result(RecordMetadata(worker.changelog, 0, TP(worker.changelog, 0), 0, None))
    for _ in range(10):
        await asyncio.sleep(0)
    # Both waiting records left together as soon as the first batch was answered.
    assert [count for *_, count in worker.producer.batches] == [1, 2]
    assert not written.done()
    answers[1].set_result(RecordMetadata(worker.changelog, 0, TP(worker.changelog, 0), 1, None))
    await asyncio.wait_for(written, 5)


async def test_a_history_entry_the_brokers_refused_stops_the_worker_and_any_commit(
    worker: Worker, agent: Any
) -> None:
    send_batch = worker.producer.send_batch

    async def refuse_history(
        batch: RecordingBatch, topic: str, *, partition: int
    ) -> asyncio.Future[RecordMetadata]:
        sent = await send_batch(batch, topic, partition=partition)
        if topic != worker.history_changelog:
            return sent
        refused: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        refused.set_exception(KafkaError("RecordTooLargeError"))
        return refused

    worker.producer.send_batch = refuse_history  # type: ignore[method-assign]
    # An escalation writes the customer's history entry; losing it would let the
    # customer's next conversation miss this one as a repeat contact.
    with pytest.raises(DeliveryError, match=r"changelog records .*RecordTooLargeError"):
        await feed(agent, Conversation().customer("can I talk to a human please"))
    with pytest.raises(DeliveryError, match="RecordTooLargeError"):
        await worker.stream.confirm_deliveries()
    assert isinstance(worker.stream.failed.exception(), DeliveryError)  # the service stops
    assert [topic for topic, _, _ in worker.producer.batches].count(worker.history_changelog) == 1


async def test_a_changelog_batch_the_brokers_refused_stops_the_worker_and_any_commit(
    worker: Worker, agent: Any
) -> None:
    worker.producer.batch_error = KafkaError("NotEnoughReplicasError")
    c = Conversation()
    # The worker does not run on without the state: it stops at the batch that
    # finds the refusal (this one, as the double answers at once; with a broker,
    # usually the next), and the service exits; its restart replays.
    with pytest.raises(DeliveryError, match=r"changelog records .*NotEnoughReplicasError"):
        await feed(agent, c.customer("where is my parcel?"))
    # Nor is the record's offset committed: the commit check refuses too.
    with pytest.raises(DeliveryError, match="changelog records"):
        await worker.stream.confirm_deliveries()
    assert isinstance(worker.stream.failed.exception(), DeliveryError)


async def test_a_table_of_bytes_refuses_other_keys_with_a_clear_error(
    worker: Worker, agent: Any
) -> None:
    with pytest.raises(TypeError, match="bytes keys and values, got str and bytes"):
        worker.stream.table["acme/c1"] = b"{}"  # type: ignore[index]
    assert "acme/c1" not in worker.stream.table.data
    await worker.stream.table.flush_changelog()
    assert worker.producer.on(worker.changelog) == []


async def test_no_commit_passes_a_decision_the_brokers_refused_and_the_worker_stops(
    worker: Worker, agent: Any
) -> None:
    c = Conversation()
    await feed(agent, c.customer("where is my parcel?"))
    await worker.stream.confirm_deliveries()  # nothing refused: the commit may go ahead
    assert worker.decisions() == []

    worker.producer.send_error = KafkaError("MessageSizeTooLargeError")
    with pytest.raises(DeliveryError, match=r"a decision was not written.*MessageSizeTooLarge"):
        await feed(agent, c.customer("let me talk to a human"))
    [refused] = worker.decisions()  # handed to the producer, refused by it
    assert refused.action == E.DECISION_ACTION_ESCALATE
    # The consumer awaits this before committing the record's offset: it refuses,
    # and keeps refusing, and the service stops on ``failed``.
    for _ in range(2):
        with pytest.raises(DeliveryError, match="MessageSizeTooLargeError"):
            await worker.stream.confirm_deliveries()
    assert isinstance(worker.stream.failed.exception(), DeliveryError)


async def test_the_state_after_a_refused_decision_is_never_written_so_a_restart_decides_again(
    worker: Worker, agent: Any
) -> None:
    c = Conversation()
    await feed(agent, c.customer("where is my parcel?"))
    [(key, calm)] = worker.producer.on(worker.changelog)

    worker.producer.send_error = KafkaError("MessageSizeTooLargeError")
    with pytest.raises(DeliveryError, match="a decision was not written"):
        await feed(agent, c.customer("let me talk to a human"))
    # The new state remembers the request's event as handled: had it reached the
    # changelog, a restarted worker would skip the event and never escalate.
    assert worker.producer.on(worker.changelog) == [(key, calm)]
    await worker.stream.table.flush_changelog()
    assert worker.producer.on(worker.changelog) == [(key, calm)]
    # Nor is the escalation recorded in the customer's history.
    assert worker.producer.on(worker.history_changelog) == []
    assert isinstance(worker.stream.failed.exception(), DeliveryError)  # the service stops


async def test_a_batchs_states_wait_for_its_decisions_to_be_acknowledged(
    worker: Worker, agent: Any
) -> None:
    decisions: list[asyncio.Future[RecordMetadata]] = []
    record = worker.producer.send

    async def unanswered(topic: str, key: bytes | None = None, **rest: Any) -> Any:
        await record(topic, key, **rest)
        decisions.append(asyncio.get_running_loop().create_future())
        return decisions[-1]

    worker.producer.send = unanswered  # type: ignore[method-assign]
    escalating, calm = Conversation(conversation="asks"), Conversation(conversation="calm")
    await feed(agent, escalating.customer("let me talk to a human"))
    await feed(agent, calm.customer("where is my parcel?"))
    # Neither state left: the later batch's must not overtake the earlier one's.
    assert worker.producer.on(worker.changelog) == []

    written = asyncio.ensure_future(worker.stream.table.wait_written())
    decisions[0].set_result(
        RecordMetadata(worker.escalations, 0, TP(worker.escalations, 0), 0, None)
    )
    await asyncio.wait_for(written, 5)
    keys = [key for key, _ in worker.producer.on(worker.changelog)]
    assert keys == [conversation_key("acme", "asks"), conversation_key("acme", "calm")]


async def test_a_dead_letter_the_brokers_refused_stops_the_worker(
    worker: Worker, agent: Any
) -> None:
    worker.producer.send_error = KafkaError("NotEnoughReplicasError")
    with pytest.raises(DeliveryError, match="a dead letter was not written"):
        await agent.put(b"\xff not a protobuf", key=conversation_key("acme", "c1"))
    with pytest.raises(DeliveryError, match="a dead letter"):
        await worker.stream.confirm_deliveries()
    assert isinstance(worker.stream.failed.exception(), DeliveryError)


async def test_the_workers_producer_request_timeout_is_the_configured_delivery_timeout(
    tmp_path: Path,
) -> None:
    # faust's own default (1200 s) made a request the broker never answered look
    # like a 20-minute hang; the worker's sends follow KAFKA__DELIVERY_TIMEOUT_MS.
    settings = WarmlineSettings(
        kafka=KafkaSettings(delivery_timeout_ms=12_000),
        decisioning=DecisioningSettings(data_dir=tmp_path / "data"),
    )
    stream = DecisioningApp(settings, PolicyStore.from_path(DEFAULT_POLICY_PATH))
    assert stream.app.conf.producer_request_timeout == 12.0


async def test_a_worker_restarted_on_its_local_database_decides_with_what_was_acknowledged(
    tmp_path: Path,
) -> None:
    first = Worker(tmp_path, "sqlite")
    mild = negative(0.5)  # two such turns in a row are a negative streak
    c = Conversation(conversation="streak")
    request = "can I talk to a human please"
    async with first.agent.test_context() as running:
        await feed(running, c.customer("this is not great", mild))
        await feed(running, Conversation(conversation="before").customer(request))
        first.producer.batch_error = KafkaError("the brokers refused it")
        with pytest.raises(DeliveryError):
            await feed(running, Conversation(conversation="refused").customer(request))
    first.stream.database.commit()  # what the stores do when the worker stops
    conversations = first.stream.table.changelog_topic.get_topic_name()
    partition = key_partition(conversation_key("acme", "streak"), 6)

    # Nothing is read from the changelogs: the database has what the brokers acknowledged.
    restarted = Worker(tmp_path, "sqlite")
    assert restarted.stream.table.persisted_offset(TP(conversations, partition)) is not None
    # The history's offset moves only with what is read back (other workers write it too).
    assert restarted.stream.history_table.persisted_offset(TP("h", 0)) is None
    assert conversation_key("acme", "refused") not in restarted.stream.table
    async with restarted.agent.test_context() as again:
        [streak] = await feed(again, c.customer("still not great", mild))
        [after] = await feed(again, Conversation(conversation="after").customer(request))
    assert "negative_streak" in codes(streak)  # the restored turn made it a streak
    assert after.customer_history.escalations_in_window == 2  # "before" and the streak
