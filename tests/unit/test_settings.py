"""Settings: one frozen model per process, loaded from WARMLINE_ variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from warmline.common.settings import (
    KafkaSettings,
    NotificationSettings,
    TopicSettings,
    WarmlineSettings,
    settings_env,
)


def test_nested_environment_variables_reach_their_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMLINE_KAFKA__BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("WARMLINE_TOPICS__PREFIX", "staging.")
    monkeypatch.setenv("WARMLINE_INGESTION__GRPC_PORT", "6000")
    settings = WarmlineSettings()
    assert settings.kafka.bootstrap_servers == "kafka-0:9092,kafka-1:9092"
    assert settings.topics.name("interactions") == "staging.warmline.interactions.v1"
    assert settings.ingestion.grpc_port == 6000


def test_settings_are_frozen() -> None:
    settings = WarmlineSettings()
    with pytest.raises(ValidationError):
        settings.log_level = "DEBUG"  # type: ignore[misc]


def test_a_bad_value_names_the_variable_that_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMLINE_TOPICS__PARTITIONS", "0")
    with pytest.raises(ValidationError, match=r"topics\.partitions"):
        WarmlineSettings()


def test_an_unknown_setting_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMLINE_KAFKA__BOOTSTRAP_SERVER", "typo:9092")
    with pytest.raises(ValidationError, match="bootstrap_server"):
        WarmlineSettings()


def test_settings_env_rebuilds_the_same_settings_in_another_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = WarmlineSettings(
        kafka=KafkaSettings(bootstrap_servers="b1:9092,b2:9092", linger_ms=7),
        topics=TopicSettings(prefix="staging.", partitions=12),
        notification=NotificationSettings(
            grpc_port=6000, agent_tokens_file=Path("/etc/agents.yaml"), heartbeat_s=2.5
        ),
        log_format="text",
    )
    for key in [k for k in os.environ if k.startswith("WARMLINE_")]:
        monkeypatch.delenv(key)
    for key, value in settings_env(original).items():
        monkeypatch.setenv(key, value)
    assert WarmlineSettings() == original


def test_settings_env_passes_a_sasl_password_itself_not_its_mask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = WarmlineSettings(
        kafka=KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="warmline",
            sasl_password=SecretStr("s3cret-value"),
        )
    )
    env = settings_env(original)
    assert env["WARMLINE_KAFKA__SASL_PASSWORD"] == "s3cret-value"
    for key in [k for k in os.environ if k.startswith("WARMLINE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert WarmlineSettings().kafka.password() == "s3cret-value"


def test_topics_default_to_one_broker_and_take_production_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = TopicSettings()
    assert (defaults.replication_factor, defaults.min_insync_replicas, defaults.create) == (
        1,
        1,
        True,
    )
    monkeypatch.setenv("WARMLINE_TOPICS__REPLICATION_FACTOR", "3")
    monkeypatch.setenv("WARMLINE_TOPICS__MIN_INSYNC_REPLICAS", "2")
    monkeypatch.setenv("WARMLINE_TOPICS__CREATE", "false")
    topics = WarmlineSettings().topics
    assert (topics.replication_factor, topics.min_insync_replicas, topics.create) == (3, 2, False)


def test_more_insync_replicas_than_replicas_is_refused_naming_both() -> None:
    with pytest.raises(ValidationError, match=r"MIN_INSYNC_REPLICAS=2 is more than .*FACTOR=1"):
        TopicSettings(min_insync_replicas=2)


def test_a_codec_without_its_library_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiokafka import codec

    monkeypatch.setattr(codec, "has_zstd", lambda: False)
    with pytest.raises(ValidationError, match="WARMLINE_KAFKA__COMPRESSION_TYPE=zstd needs"):
        KafkaSettings(compression_type="zstd")
    assert KafkaSettings(compression_type="gzip").compression_type == "gzip"
    assert KafkaSettings(compression_type="none").compression_type == "none"


def test_producers_compress_with_zstd_by_default() -> None:
    # The lock installs cramjam, so the default needs nothing more.
    assert KafkaSettings().compression_type == "zstd"


def test_a_database_url_with_a_password_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARMLINE_RECORD__DATABASE_URL", "postgresql://warmline:s3cret@pg/warmline")
    with pytest.raises(ValidationError) as refused:
        WarmlineSettings()
    message = str(refused.value)
    assert "WARMLINE_RECORD__DATABASE_URL holds a password" in message
    assert "s3cret" not in message
