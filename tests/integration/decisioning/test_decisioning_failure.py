"""A failing decide agent stops the service, so its restart replays what was not committed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.integration.decisioning.test_decisioning_stream import (
    Hosted,
    decisioning_settings,
    publish,
    scored,
)
from warmline.common.kafka import admin_client
from warmline.common.settings import WarmlineSettings
from warmline.decisioning import batch_steps
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration


async def test_an_agent_failure_surfaces_as_the_services_crash(
    kafka_broker: LocalKafka, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch_steps.apply_event

    def apply_event(state: Any, event: Any, *args: Any) -> Any:
        if event.event.event_id == "poison-0":
            raise RuntimeError("the decision core failed")
        return real(state, event, *args)

    monkeypatch.setattr(batch_steps, "apply_event", apply_event)
    settings = decisioning_settings(kafka_broker.bootstrap_servers, tmp_path / "data")
    hosted = Hosted(settings)
    try:
        crashed = watch_for_crash(hosted)
        await publish(settings, [scored("poison-0", "poison", "hello", 0.1)])
        outcome = await crash_of(hosted, crashed)
        assert isinstance(outcome, RuntimeError)
        assert "the decision core failed" in str(outcome)
    finally:
        hosted.stop()  # promptly: it does not wait for the failed batch's ack
    # The failed record's offset was not committed, so a restarted worker replays it.
    assert sum((await committed(settings)).values()) == 0


async def committed(settings: WarmlineSettings) -> dict[int, int]:
    """The decisioning group's committed offsets on the scored topic, by partition."""
    admin = admin_client(settings)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.decisioning.app_id)
    finally:
        await admin.close()
    topic = settings.topics.name("scored")
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def watch_for_crash(hosted: Hosted) -> asyncio.Task[None]:
    """The service's ``crashed()`` task, started on its own loop."""
    return hosted.host.run(_crashed(hosted))


async def crash_of(hosted: Hosted, crashed: asyncio.Task[None]) -> BaseException | None:
    """The error the service stopped on (within a minute), or None."""
    future = asyncio.run_coroutine_threadsafe(_outcome(crashed), hosted.host.loop)
    return await asyncio.wrap_future(future)


async def _crashed(hosted: Hosted) -> asyncio.Task[None]:
    task = hosted.service.crashed()
    assert task is not None
    return task


async def _outcome(task: asyncio.Task[None]) -> BaseException | None:
    try:
        await asyncio.wait_for(asyncio.shield(task), 60)
    except RuntimeError as exc:
        return exc
    return None
