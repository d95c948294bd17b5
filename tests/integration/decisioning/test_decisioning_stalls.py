"""A worker whose settled partitions stop moving heals itself by rejoining its group.

The stalls are made by hand, the two ways faust can leave a settled worker
undecided: its scored partitions left paused, and its flow left stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.integration.decisioning.test_decisioning_stream import (
    Hosted,
    decisioning_settings,
    decisions,
    publish,
)
from tests.integration.decisioning.test_decisioning_workers import escalations, traffic
from tests.support import wait_until
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration


def stalls() -> float:
    return REGISTRY.get_sample_value("warmline_decisioning_stalls_total") or 0.0


def pause_scored(app: Any) -> None:
    scored = [tp for tp in app.consumer.assignment() if tp.topic.endswith("scored.v1")]
    app.consumer.pause_partitions(scored)


def stop_flow(app: Any) -> None:
    app.consumer.stop_flow()


@pytest.mark.parametrize("stall", [pause_scored, stop_flow], ids=["paused", "flow-stopped"])
async def test_a_stalled_worker_rejoins_and_decides_what_waited(
    kafka_broker: LocalKafka, tmp_path: Path, stall: Callable[[Any], None]
) -> None:
    base = decisioning_settings(kafka_broker.bootstrap_servers, tmp_path)
    settings = base.model_copy(
        update={"decisioning": base.decisioning.model_copy(update={"stall_after_s": 2.0})}
    )
    worker = Hosted(settings)
    try:
        before = stalls()

        async def make_stall() -> None:
            assert worker.service.stream is not None
            stall(worker.service.stream.app)

        worker.host.run(make_stall())
        angry = 6
        await publish(settings, traffic(angry=angry, calm=3))
        records = await escalations(settings, angry, within_s=60)
        assert stalls() > before
        wait_until(lambda: worker.service.readiness.ready, timeout=30, what="ready again")
    finally:
        worker.stop()

    out = decisions(records)
    assert sorted(d.conversation_id for d in out) == sorted(f"angry-{n}" for n in range(angry))
    assert len({d.decision_id for d in out}) == angry
