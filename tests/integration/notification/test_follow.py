"""A console following across a service restart: it reconnects from its cursor."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.notification.conftest import decision, notification_settings, publish
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import free_port

pytestmark = pytest.mark.integration


async def test_a_following_console_survives_a_restart_without_loss_or_repeat(
    kafka_broker: LocalKafka, make_notification: Any
) -> None:
    settings = notification_settings(
        kafka_broker.bootstrap_servers, grpc_port=free_port(), heartbeat_s=0.5
    )
    first = make_notification(settings)
    client = first.client("bob")
    stop = asyncio.Event()
    seen: list[str] = []
    arrived = asyncio.Event()

    async def follow() -> None:
        async for response in client.follow(["billing"], heartbeat_s=0.5, stop=stop):
            if response.WhichOneof("payload") == "delivery":
                seen.append(response.delivery.decision.conversation_id)
                arrived.set()

    async def until(count: int) -> None:
        async with asyncio.timeout(60):
            while len(seen) < count:
                arrived.clear()
                await arrived.wait()

    following = asyncio.create_task(follow())
    try:
        await publish(settings, [decision("before-1"), decision("before-2")])
        await until(2)
        await asyncio.to_thread(first.stop)
        await publish(settings, [decision("while-down")])
        make_notification(settings)  # same port: the console's address
        await until(3)
        await publish(settings, [decision("after")])
        await until(4)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.wait_for(following, 10)
        await client.close()
    assert sorted(seen[:2]) == ["before-1", "before-2"]
    assert seen[2:] == ["while-down", "after"]
