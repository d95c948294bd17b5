"""The short version of ``warmline bench e2e``: the four services as processes,
live conversations through the door, escalations at an agent's console."""

from __future__ import annotations

import os

import pytest

from warmline.bench.e2e import measure
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.e2e


async def test_every_expected_escalation_reaches_the_console_once_and_nothing_is_lost() -> None:
    result = await measure(
        [10.0], 20.0, os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    )
    [phase] = result["phases"]
    assert phase["acknowledged"] == phase["events"] > 0
    assert phase["lost"] == 0
    assert phase["duplicated"] == 0
    # Escalations were expected in advance (the backtest), and the console got
    # exactly what the policy decides on the scores the pipeline wrote.
    assert phase["expected_escalations"] > 0
    assert phase["decided_from_scores"] > 0
    assert phase["missing"] == [], phase
    assert phase["unexpected"] == [], phase
    # Borderline turns may read differently in another batch: a few, not many.
    assert len(phase["model_disagreements"]) <= 0.1 * phase["expected_escalations"] + 1
    assert 0 < phase["e2e_p50_ms"] <= phase["e2e_p99_ms"]


async def test_the_pipeline_loses_and_repeats_nothing_over_sasl_ssl() -> None:
    # Every service as a process and the bench's own clients over SCRAM + TLS: the
    # password reaches the processes (not its mask) and nothing is lost or doubled.
    result = await measure(
        [10.0],
        10.0,
        os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version,
        sasl_ssl=True,
    )
    assert result["kafka_security_protocol"] == "SASL_SSL"
    [phase] = result["phases"]
    assert phase["acknowledged"] == phase["events"] > 0
    assert (phase["lost"], phase["duplicated"], phase["missing"]) == (0, 0, [])
    assert phase["expected_escalations"] > 0
