"""The decisioning Faust app's real ``decide`` agent, driven with ``agent.test_context()``.

No broker: the table lives in ``memory://`` and the app's producer is replaced
by one that keeps every record, so each test reads what the worker would have
written to the escalations topic and to the table's changelog.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP, FutureMessage, RecordMetadata
from prometheus_client import REGISTRY

from warmline.common.keys import conversation_key
from warmline.common.settings import DecisioningSettings, WarmlineSettings
from warmline.decisioning import app as decisioning_app
from warmline.decisioning.app import DecisioningApp, decode_entry, encode_entry
from warmline.decisioning.decide import apply_event
from warmline.decisioning.policy import DEFAULT_POLICY_PATH
from warmline.decisioning.policy_store import PolicyStore
from warmline.v1 import escalation_pb2, scoring_pb2

from .support import DEFAULT, Conversation, negative

E = escalation_pb2
BASE_POLICY = DEFAULT_POLICY_PATH.read_text()
# Tenant "steady" never forms a negative streak, so sustained negativity shows alone.
POLICY = BASE_POLICY.replace(
    "tenants: {}\n", "tenants:\n  steady:\n    thresholds: {streak_length: 99}\n"
)
TTL_S = 3600.0


class RecordingProducer:
    """Stands in for the app's Kafka producer: keeps each record instead of sending it."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []

    async def maybe_start(self) -> None:
        """Nothing to connect to."""

    def key_partition(self, topic: str, key: bytes) -> TP:
        return TP(topic, 0)

    def send_soon(self, fut: FutureMessage) -> None:
        message = fut.message
        self.records.append((message.channel.get_topic_name(), message.key, message.value))

    async def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
        timestamp: float | None, headers: Any, **_: Any,
    ) -> asyncio.Future[RecordMetadata]:  # fmt: skip
        self.records.append((topic, key, value))
        acked: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        acked.set_result(RecordMetadata(topic, 0, TP(topic, 0), len(self.records), timestamp))
        return acked

    def on(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        """Keys and values written to ``topic``, in order."""
        return [(key, value) for name, key, value in self.records if name == topic]


class Worker:
    """A decisioning app with a recording producer, its policy file, and its decide agent."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.policy_path = tmp_path / "policy.yaml"
        self.policy_mtime_ns = 1_000_000_000
        self.write_policy(POLICY)
        monkeypatch.setattr(decisioning_app, "store_url", lambda: "memory://")
        settings = WarmlineSettings(
            decisioning=DecisioningSettings(
                data_dir=tmp_path / "data",
                policy_file=self.policy_path,
                conversation_ttl_s=TTL_S,
            )
        )
        self.stream = DecisioningApp(settings, PolicyStore.from_path(self.policy_path))
        self.producer = RecordingProducer()
        self.stream.app.producer = self.producer  # type: ignore[assignment]
        self.escalations = self.stream.escalations.get_topic_name()
        self.changelog = self.stream.table.changelog_topic.get_topic_name()
        self.agent = self.stream.app.agents["decide"]

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


@pytest.fixture
async def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Worker:
    return Worker(tmp_path, monkeypatch)


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
    assert worker.stream.expire_idle(datetime.now(UTC) + timedelta(seconds=TTL_S / 2)) == []
    forgotten = worker.stream.expire_idle(datetime.now(UTC) + timedelta(seconds=TTL_S + 60))
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
    worker.stream.reload_policy()
    [after] = await feed(agent, Conversation(conversation="after").customer(request))
    assert after.queue == "frontline" and after.policy_version == "frontline-1"

    errors = reload_errors()
    worker.write_policy(
        versioned(POLICY, "broken-2").replace("ewma_alpha: 0.4", "ewma_alpha: 3"),
    )
    worker.stream.reload_policy()
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
    state, history = decode_entry(worker.stream.table[key])
    second = c.customer("still not great", mild)
    assert apply_event(state, second, worker.stream.policies.current, datetime.now(UTC), history)
    worker.stream.table.data[key] = encode_entry(state, history)

    # Already handed over there: a third bad turn is no second escalation.
    assert await feed(agent, c.customer("nope", mild)) == []
