"""Notification services on the session broker, agents with tokens, decisions to publish."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from tests.support import LoopThread, settings_for, wait_until
from warmline.client.console import ConsoleClient
from warmline.common.credentials import hash_key
from warmline.common.kafka import create_producer
from warmline.common.keys import conversation_key, derived_id
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import NotificationSettings, WarmlineSettings
from warmline.common.topics import ensure_topics
from warmline.localkafka import LocalKafka
from warmline.notification.service import NotificationService
from warmline.notification.tokens import AgentDirectory
from warmline.v1 import escalation_pb2, notification_pb2

# agent -> (tenant, queues)
AGENTS = {
    "alice": ("acme", ["billing", "general"]),
    "bob": ("acme", ["billing"]),
    "carol": ("acme", ["billing"]),
    "sam": ("acme", ["supervisor", "billing", "general"]),
    "sue": ("acme", ["supervisor", "billing", "general"]),
    "gina": ("globex", ["*"]),
}
# agent -> their own supervisor (the tokens file's `supervisor`); others have none.
SUPERVISORS = {"alice": "sam"}


def token(agent: str) -> str:
    """The test token of an agent."""
    return f"token-of-{agent}"


def write_agents(path: Path) -> Path:
    """A tokens file for :data:`AGENTS`."""
    entries = [
        {"token_sha256": hash_key(token(a)), "tenant": t, "agent_id": a, "queues": q}
        | ({"supervisor": SUPERVISORS[a]} if a in SUPERVISORS else {})
        for a, (t, q) in AGENTS.items()
    ]
    path.write_text(yaml.safe_dump({"agents": entries}))
    return path


@dataclass
class Running:
    """A started notification service hosted on its own loop thread."""

    service: NotificationService
    settings: WarmlineSettings
    host: LoopThread

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.service.grpc_port}"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.service.http_port}"

    def client(self, agent: str) -> ConsoleClient:
        return ConsoleClient(self.target, token(agent), agent)

    def stop(self) -> None:
        self.host.run(self.service.stop())
        self.host.close()


def notification_settings(bootstrap: str, **overrides: Any) -> WarmlineSettings:
    """Settings on free ports; ``overrides`` go to the notification section."""
    ports: dict[str, Any] = {"grpc_port": 0, "http_port": 0, "metrics_port": 0}
    section = NotificationSettings(host="127.0.0.1", shutdown_grace_s=1, **(ports | overrides))
    return settings_for(bootstrap, notification=section)


def start(settings: WarmlineSettings, tmp_path: Path) -> Running:
    """Start a replica and wait until it is ready."""
    agents = AgentDirectory.from_file(write_agents(tmp_path / "agents.yaml"))
    host = LoopThread()
    service = host.run(_build(settings, agents))
    host.run(service.start())
    wait_until(lambda: service.readiness.ready, what="notification ready")
    return Running(service, settings, host)


async def _build(settings: WarmlineSettings, agents: AgentDirectory) -> NotificationService:
    # Built on the hosting loop: Kafka clients bind to the loop they are made on.
    return NotificationService(settings, agents)


@pytest.fixture
def make_notification(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[Any]:
    """A factory of replicas (default settings plus overrides), all stopped afterwards."""
    started: list[Running] = []

    def make(settings: WarmlineSettings | None = None, **overrides: Any) -> Running:
        settings = settings or notification_settings(kafka_broker.bootstrap_servers, **overrides)
        running = start(settings, tmp_path)
        started.append(running)
        return running

    yield make
    for running in started:
        if running.host.loop.is_running():
            running.stop()


def decision(
    conversation: str,
    queue: str = "billing",
    *,
    tenant: str = "acme",
    action: escalation_pb2.DecisionAction.ValueType = escalation_pb2.DECISION_ACTION_ESCALATE,
    priority: escalation_pb2.Priority.ValueType = escalation_pb2.PRIORITY_NORMAL,
    trigger: str = "",
    abusive: bool = False,
    text: str = "I was charged twice",
    unmasked: str = "",
    shadow: bool = False,
) -> escalation_pb2.EscalationDecision:
    """A decision as the decisioning service writes it."""
    trigger = trigger or f"{conversation}-evt"
    d = escalation_pb2.EscalationDecision(
        decision_id=derived_id(tenant, conversation, trigger, "policy-1"),
        tenant_id=tenant,
        conversation_id=conversation,
        customer_id=f"cust-{conversation}",
        action=action,
        queue=queue,
        priority=priority,
        reasons=[escalation_pb2.Reason(code="sustained_negativity", explanation="Upset.")],
        dominant_emotion="anger",
        opening_line="I can see this has been frustrating.",
        policy_version="policy-1",
        trigger_event_id=trigger,
        last_customer_text=text,
        unmasked_customer_text=unmasked,
        abusive=abusive,
        shadow=shadow,
    )
    now = datetime.now(UTC)
    d.timings.ingested_at.FromDatetime(now)
    d.timings.decided_at.FromDatetime(now)
    return d


async def publish(
    settings: WarmlineSettings,
    decisions: list[escalation_pb2.EscalationDecision],
    raw: list[bytes] | None = None,
) -> None:
    """Write decisions (and raw values) to the escalations topic, acknowledged."""
    await ensure_topics(settings)
    producer = create_producer(settings, "test-decisioning")
    await producer.start()
    topic = settings.topics.name("escalations")
    try:
        outputs = [
            Output(topic, conversation_key(d.tenant_id, d.conversation_id), d.SerializeToString())
            for d in decisions
        ]
        outputs += [Output(topic, b"acme/broken", value) for value in raw or []]
        await produce_all(producer, outputs)
    finally:
        await producer.stop()


class Console:
    """A test console: a raw Subscribe call read in the background."""

    def __init__(
        self,
        client: ConsoleClient,
        queues: list[str],
        cursor: str | None = None,
        *,
        resend_open: bool = False,
    ) -> None:
        self.client = client
        self.call = client.subscribe(queues, resume_cursor=cursor, resend_open=resend_open)
        self.received: list[notification_pb2.SubscribeResponse] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for response in self.call:
                self.received.append(response)
                self._arrived.set()
        finally:
            self._arrived.set()

    async def wait_subscribed(self) -> None:
        """Return once the service registered the subscription (it sends headers then)."""
        await asyncio.wait_for(self.call.initial_metadata(), 15)

    def deliveries(self) -> list[notification_pb2.Delivery]:
        return [r.delivery for r in self.received if r.WhichOneof("payload") == "delivery"]

    def notices(self) -> list[notification_pb2.ClaimNotice]:
        return [r.claimed for r in self.received if r.WhichOneof("payload") == "claimed"]

    def conversations(self) -> list[str]:
        return [d.decision.conversation_id for d in self.deliveries()]

    async def until(self, condition: Callable[[], bool], within_s: float = 15.0) -> None:
        """Wait until ``condition`` holds; fail if the stream ends first."""
        async with asyncio.timeout(within_s):
            while not condition():
                if self._task.done():
                    self._task.result()
                    raise AssertionError(f"stream ended after {self.conversations()}")
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_for(self, count: int, within_s: float = 15.0) -> list[notification_pb2.Delivery]:
        """Wait until at least ``count`` deliveries arrived."""
        await self.until(lambda: len(self.deliveries()) >= count, within_s)
        return self.deliveries()

    async def quiet(self, seconds: float) -> None:
        """Let time pass, so a test can check that nothing more arrived."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        self.call.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
            await self._task


@pytest.fixture
async def consoles() -> AsyncIterator[list[Console]]:
    """Consoles a test opened; closed (with their clients) afterwards."""
    opened: list[Console] = []
    yield opened
    for console in opened:
        await console.close()
        await console.client.close()
