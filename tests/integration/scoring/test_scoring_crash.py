"""Killed mid-batch and restarted, the scoring service loses nothing, and after
de-duplication by event id the scored topic holds each event once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import warmline
from tests.integration.scoring.conftest import event, publish, scoring_settings
from tests.support import read_topic
from warmline.common.settings import WarmlineSettings, settings_env
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import free_port
from warmline.v1 import scoring_pb2

pytestmark = pytest.mark.integration


def start_process(settings: WarmlineSettings) -> subprocess.Popen[bytes]:
    """`warmline serve scoring` as its own process, as in production."""
    scoring = settings.scoring.model_copy(
        update={
            "host": "127.0.0.1",
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "poll_max_records": 32,
            "threads": 1,
        }
    )
    child = settings.model_copy(update={"scoring": scoring, "log_level": "WARNING"})
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(warmline.__file__).resolve().parents[1]),
        **settings_env(child),
    }
    return subprocess.Popen([sys.executable, "-m", "warmline", "serve", "scoring"], env=env)


async def test_kill_and_restart_loses_nothing_and_duplicates_are_only_replays(
    kafka_broker: LocalKafka,
) -> None:
    settings = scoring_settings(kafka_broker.bootstrap_servers, group="scoring-crash")
    events = [
        event(f"k{i}", f"conv-{i % 9}", f"message number {i}, still waiting") for i in range(400)
    ]
    await publish(settings, events)
    scored_topic = settings.topics.name("scored")

    first = start_process(settings)
    try:
        # Kill as soon as part of the work is out: the batch in flight is lost
        # with the process, uncommitted.
        await read_topic(settings.kafka.bootstrap_servers, scored_topic, 40, within_s=120)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    second = start_process(settings)
    try:
        records = await read_topic(
            settings.kafka.bootstrap_servers, scored_topic, 400, within_s=180, settle=2.0
        )
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0  # a graceful stop drains and exits cleanly

    ids = [scoring_pb2.ScoredEvent.FromString(r.value or b"").event.event_id for r in records]
    assert set(ids) == {e.event_id for e in events}
    # Replays are allowed (at least once) but each is the same event, scored again.
    assert all(n <= 2 for n in Counter(ids).values())
