"""Warmline's clients on a SASL_SSL (SCRAM-SHA-512) broker, as managed clusters run."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from warmline.common.kafka import create_consumer, create_producer, start_when_reachable
from warmline.common.settings import KafkaSettings, TopicSettings, WarmlineSettings
from warmline.common.topics import ensure_topics
from warmline.localkafka.broker import LocalKafka, SaslSslListener

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def secured_broker() -> Iterator[LocalKafka]:
    broker = LocalKafka(
        version=os.environ.get("WARMLINE_KAFKA_VERSION", "4.1.1"), sasl_ssl=SaslSslListener()
    ).start()
    try:
        yield broker
    finally:
        broker.cleanup()


def _settings(broker: LocalKafka, password: str, ca_file: Path) -> WarmlineSettings:
    return WarmlineSettings(
        kafka=KafkaSettings(
            bootstrap_servers=broker.secure_bootstrap_servers,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="warmline",
            sasl_password=password,  # type: ignore[arg-type]
            ssl_cafile=ca_file,
            request_timeout_ms=5_000,
            delivery_timeout_ms=5_000,
        ),
        topics=TopicSettings(prefix=f"sec-{uuid.uuid4().hex[:6]}-", partitions=1),
    )


async def test_topics_records_and_commits_flow_over_sasl_ssl(secured_broker: LocalKafka) -> None:
    settings = _settings(secured_broker, "warmline-secret", secured_broker.ca_file)
    await ensure_topics(settings)
    topic = settings.topics.name("interactions")
    producer = create_producer(settings, "sec-producer")
    consumer = create_consumer(settings, f"sec-{uuid.uuid4().hex[:6]}", topic, client_id="sec")
    await producer.start()
    await consumer.start()
    try:
        await producer.send_and_wait(topic, b"over tls", key=b"acme/c1")
        record = await asyncio.wait_for(consumer.getone(), 30)
        assert record.value == b"over tls"
        await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


async def test_a_wrong_password_is_refused(
    secured_broker: LocalKafka, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(secured_broker, "not-the-password", secured_broker.ca_file)
    producer = create_producer(settings, "sec-wrong")
    with pytest.raises(KafkaError, match="Unable to bootstrap"):
        await producer.start()
    await producer.stop()
    # aiokafka raises "unable to bootstrap" and logs the broker's reason.
    assert "SaslAuthenticationFailed" in caplog.text


async def test_an_untrusted_broker_certificate_is_refused(
    secured_broker: LocalKafka, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A CA the broker's certificate was not signed by: the system trust store's
    # stand-in here is a fresh self-signed certificate of another broker.
    other = LocalKafka(sasl_ssl=SaslSslListener(), data_dir=tmp_path / "other")
    other._prepare()
    settings = _settings(secured_broker, "warmline-secret", other.ca_file)
    producer = create_producer(settings, "sec-untrusted")
    with pytest.raises(KafkaError) as refused:
        await producer.start()
    # aiokafka reports the failed TLS handshake as brokers it cannot reach.
    assert "Unable to bootstrap" in str(refused.value)
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    await producer.stop()


@pytest.mark.parametrize("wrong", ["password", "ca"])
async def test_a_service_waits_not_serving_and_names_the_setting_to_check(
    secured_broker: LocalKafka, tmp_path: Path, caplog: pytest.LogCaptureFixture, wrong: str
) -> None:
    ca_file = secured_broker.ca_file
    if wrong == "ca":
        other = LocalKafka(sasl_ssl=SaslSslListener(), data_dir=tmp_path / "other")
        other._prepare()
        ca_file = other.ca_file
    password = "not-the-password" if wrong == "password" else "warmline-secret"
    settings = _settings(secured_broker, password, ca_file)
    producer = create_producer(settings, "sec-service")
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(4.0, stop.set)
    caplog.set_level(logging.ERROR, logger="warmline.common.kafka")
    started = await start_when_reachable(producer.start, "test", stop)
    await producer.stop()
    assert started is False  # kept retrying (the service stays NOT_SERVING), never crashed
    lines = [r.getMessage() for r in caplog.records if r.name == "warmline.common.kafka"]
    setting = (
        "WARMLINE_KAFKA__SASL_PASSWORD" if wrong == "password" else "WARMLINE_KAFKA__SSL_CAFILE"
    )
    assert len(lines) == 1 and setting in lines[0]  # one line, not one per retry
