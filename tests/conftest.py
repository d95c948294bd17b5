"""Shared fixtures: one real Kafka broker and one real PostgreSQL server per test session
(each started when a test first needs it), unique names per test."""

from __future__ import annotations

import concurrent.futures.thread
import logging
import os
import sys
import threading
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


_SESSION_STATUS: list[int] = []
#: Tests that failed, named again last: CI shows only the tail of the output.
_FAILED: list[str] = []
#: How long threads still running after the session may take to end on their own.
_THREAD_GRACE_S = float(os.environ.get("WARMLINE_TEST_THREAD_GRACE_S", "10"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _FAILED.append(f"{report.nodeid} ({report.when})")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _SESSION_STATUS.append(int(exitstatus))
    # A leftover thread that logs after pytest closed its capture streams would
    # print a traceback per line; those buried the summary of a failed CI run.
    # Off from here, before the summary is written, not only at unconfigure: on a
    # slow machine a thread logging every 50 ms got a line into the summary.
    logging.raiseExceptions = False


def _keeps_the_interpreter(thread: threading.Thread) -> bool:
    """A thread the interpreter would wait for at exit. An idle executor worker
    (the ONNX engine's pools) is not one: the executor's exit hook ends it."""
    if thread is threading.main_thread() or thread.daemon:
        return False
    return getattr(thread, "_target", None) is not concurrent.futures.thread._worker


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Name the threads a test left running and exit without waiting for them.

    A faust consumer thread that its service's stop did not end (seen once after
    a failed assertion in a restart test) kept the interpreter waiting forever
    after the summary, so CI would have sat until its time limit instead of
    reporting the failure.
    """
    if not _SESSION_STATUS:
        return
    left = [t for t in threading.enumerate() if _keeps_the_interpreter(t)]
    for thread in left:
        thread.join(_THREAD_GRACE_S / max(1, len(left)))
    left = [t for t in left if t.is_alive()]
    if left:
        names = ", ".join(sorted(t.name for t in left))
        sys.stdout.flush()
        sys.stderr.write(f"threads left running after the tests, not waited for: {names}\n")
        for failed in _FAILED:
            sys.stderr.write(f"failed: {failed}\n")
        sys.stderr.flush()
        os._exit(_SESSION_STATUS[0])


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
