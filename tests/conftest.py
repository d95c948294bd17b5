"""Shared fixtures: one real Kafka broker per test session, unique names per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import settings_for
from warmline.common.settings import WarmlineSettings
from warmline.localkafka import LocalKafka


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[LocalKafka]:
    """A real single-node Kafka (version from WARMLINE_KAFKA_VERSION) for the session."""
    version = os.environ.get("WARMLINE_KAFKA_VERSION", LocalKafka.version)
    broker = LocalKafka(version=version).start()
    try:
        yield broker
    finally:
        broker.cleanup()


@pytest.fixture
def settings(kafka_broker: LocalKafka) -> WarmlineSettings:
    """Settings for one test: the session broker, topics of its own."""
    return settings_for(kafka_broker.bootstrap_servers)
