"""Consoles following across a service restart: they reconnect, with jitter, from their cursors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.notification.conftest import decision, notification_settings, publish
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import free_port

pytestmark = pytest.mark.integration

AGENTS = ["alice", "bob", "carol"]


async def test_following_consoles_survive_a_restart_without_loss_or_repeat(
    kafka_broker: LocalKafka, make_notification: Any
) -> None:
    settings = notification_settings(
        kafka_broker.bootstrap_servers, grpc_port=free_port(), heartbeat_s=0.5
    )
    first = make_notification(settings)
    clients = {agent: first.client(agent) for agent in AGENTS}
    stop = asyncio.Event()
    seen: dict[str, list[str]] = {agent: [] for agent in AGENTS}
    arrived = asyncio.Event()

    async def follow(agent: str) -> None:
        async for response in clients[agent].follow(["billing"], heartbeat_s=0.5, stop=stop):
            if response.WhichOneof("payload") == "delivery":
                seen[agent].append(response.delivery.decision.conversation_id)
                arrived.set()

    async def until(count: int) -> None:
        async with asyncio.timeout(60):
            while min(len(s) for s in seen.values()) < count:
                arrived.clear()
                await arrived.wait()

    following = [asyncio.create_task(follow(agent)) for agent in AGENTS]
    try:
        await publish(settings, [decision("before-1"), decision("before-2")])
        await until(2)
        await asyncio.to_thread(first.stop)
        await publish(settings, [decision("while-down")])
        make_notification(settings)  # same port: the consoles' address
        await until(3)
        await publish(settings, [decision("after")])
        await until(4)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*following), 10)
        for client in clients.values():
            await client.close()
    for agent in AGENTS:
        assert sorted(seen[agent][:2]) == ["before-1", "before-2"], agent
        assert seen[agent][2:] == ["while-down", "after"], agent
        assert clients[agent].reconnects >= 1, agent
