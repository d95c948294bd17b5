"""Topic declarations: every topic gets min.insync.replicas; one replica on a cluster
of several brokers is called out."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from warmline.common.settings import TopicSettings, WarmlineSettings
from warmline.common.topics import _warn_if_under_replicated, declared_topics


class Cluster:
    """An admin client's view of a cluster of ``brokers`` brokers."""

    def __init__(self, brokers: int) -> None:
        self._brokers = brokers

    async def describe_cluster(self) -> dict[str, Any]:
        return {"brokers": [{"node_id": i} for i in range(self._brokers)]}


def test_every_declared_topic_carries_the_replication_settings() -> None:
    settings = WarmlineSettings(topics=TopicSettings(replication_factor=3, min_insync_replicas=2))
    for spec in declared_topics(settings):
        assert spec.replication_factor == 3, spec.name
        assert spec.config["min.insync.replicas"] == "2", spec.name


@pytest.mark.parametrize(
    ("brokers", "replicas", "warned"),
    [(1, 1, False), (3, 1, True), (5, 2, True), (3, 3, False), (5, 3, False)],
)
async def test_too_few_replicas_for_the_cluster_are_called_out(
    caplog: pytest.LogCaptureFixture, brokers: int, replicas: int, warned: bool
) -> None:
    settings = WarmlineSettings(
        topics=TopicSettings(replication_factor=replicas, min_insync_replicas=1)
    )
    caplog.set_level(logging.WARNING, logger="warmline.common.topics")
    await _warn_if_under_replicated(Cluster(brokers), settings)
    # Only this module's lines: a client left running by another test may log here too.
    lines = [r.getMessage() for r in caplog.records if r.name == "warmline.common.topics"]
    assert bool(lines) == warned
    assert all("WARMLINE_TOPICS__REPLICATION_FACTOR" in line for line in lines)
