"""Shared fixtures: one real Kafka broker and one real PostgreSQL server per test session
(each started when a test first needs it), unique names per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr

from tests.fuzz_counts import CASES
from tests.support import settings_for
from warmline.common.settings import WarmlineSettings, load_settings
from warmline.localkafka import LocalKafka
from warmline.localpostgres import LocalPostgres
from warmline.record.database import RecordDatabase

# Fuzz tests without their own example count take the profile's: a hundred
# cases in `make test`, many thousands in `make fuzz` (HYPOTHESIS_PROFILE=fuzz).
hypothesis_settings.register_profile("default", max_examples=100, deadline=None)
hypothesis_settings.register_profile("fuzz", max_examples=5_000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _settings_read_afresh() -> Iterator[None]:
    """Every test's commands read the environment it sets: ``load_settings`` keeps
    the first read per process, which would carry one test's settings into the next."""
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The number of generated cases per fuzz target."""
    if CASES:
        terminalreporter.write_sep("-", "fuzz cases per target")
        for target, count in sorted(CASES.items()):
            terminalreporter.write_line(f"{target}: {count}")


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server (pgserver's binaries, password auth on 127.0.0.1) for the
    session; its data is deleted afterwards."""
    server = LocalPostgres()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def postgres(postgres_server: LocalPostgres) -> RecordDatabase:
    """An empty database of its own on the session's PostgreSQL, for one test."""
    url = postgres_server.create_database(f"t_{uuid.uuid4().hex[:16]}")
    return RecordDatabase(url=url, password=SecretStr(postgres_server.password))
