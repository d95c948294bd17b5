"""Every producer, faust's included, takes its compression and topic shape from the settings."""

from __future__ import annotations

from pathlib import Path

from warmline.common.kafka import create_producer
from warmline.common.settings import (
    DecisioningSettings,
    KafkaSettings,
    TopicSettings,
    WarmlineSettings,
)
from warmline.decisioning.app import DecisioningApp, faust_topics
from warmline.decisioning.policy import DEFAULT_POLICY_PATH
from warmline.decisioning.policy_store import PolicyStore


async def test_producers_compress_with_zstd_unless_set_otherwise() -> None:
    assert create_producer(WarmlineSettings(), "test")._compression_type == "zstd"
    off = WarmlineSettings(kafka=KafkaSettings(compression_type="none"))
    assert create_producer(off, "test")._compression_type is None
    gzip = WarmlineSettings(kafka=KafkaSettings(compression_type="gzip"))
    assert create_producer(gzip, "test")._compression_type == "gzip"


async def test_the_decisioning_worker_takes_compression_replicas_and_topic_creation(
    tmp_path: Path,
) -> None:
    settings = WarmlineSettings(
        kafka=KafkaSettings(compression_type="gzip"),
        topics=TopicSettings(replication_factor=3, min_insync_replicas=2, create=False),
        decisioning=DecisioningSettings(data_dir=tmp_path),
    )
    stream = DecisioningApp(settings, PolicyStore.from_path(DEFAULT_POLICY_PATH))
    conf = stream.app.conf
    assert conf.producer_compression_type == "gzip"
    assert conf.topic_replication_factor == 3
    assert conf.topic_allow_declare is False
    for table in (stream.table, stream.history_table):
        assert table.changelog_topic.config == {"min.insync.replicas": "2"}
    # The names checked at start-up when creation is off are the ones faust uses.
    assert faust_topics(settings) == [
        stream.table.changelog_topic.get_topic_name(),
        stream.history_table.changelog_topic.get_topic_name(),
        stream.app._leader_assignor._leader_topic_name,  # type: ignore[attr-defined]
    ]
