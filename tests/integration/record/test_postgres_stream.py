"""The record service writing into a real PostgreSQL server from a real broker: replays and
restarts add no row, the CLI reads it through the settings, and a wrong password keeps
the service up and NOT_SERVING with one error line naming the setting."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from tests.integration.record.conftest import (
    assert_restarts_and_replays_add_no_row,
    publish,
    record_settings,
    wait_consumed,
)
from tests.record_support import known_set
from tests.support import LoopThread, wait_until
from warmline.cli import app
from warmline.common.runtime import serve_until_stopped
from warmline.common.settings import WarmlineSettings, settings_env
from warmline.localkafka import LocalKafka
from warmline.localpostgres import LocalPostgres
from warmline.notification.tokens import AgentDirectory
from warmline.record.database import RecordDatabase
from warmline.record.rows import TABLES
from warmline.record.service import RecordService
from warmline.record.store import RecordStore


def on_postgres(
    kafka_broker: LocalKafka, tmp_path: Path, database: RecordDatabase, password: str
) -> WarmlineSettings:
    return record_settings(
        kafka_broker.bootstrap_servers,
        tmp_path / "record",
        database_url=database.url,
        database_password=SecretStr(password),
    )


def counts(database: RecordDatabase) -> dict[str, int]:
    conn = database.connect(read_only=True)
    try:
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in TABLES}
    finally:
        conn.close()


def test_replays_and_restarts_add_no_row_in_postgresql(
    kafka_broker: LocalKafka,
    make_record: Any,
    tmp_path: Path,
    postgres: RecordDatabase,
    postgres_server: LocalPostgres,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = on_postgres(kafka_broker, tmp_path, postgres, postgres_server.password)
    known = known_set()
    asyncio.run(publish(settings, known.outputs(settings)))
    running = make_record(settings)
    wait_consumed(settings, settings.record.consumer_group)
    first = counts(postgres)
    assert {t: first[t] for t in ("turns", "decisions", "claims", "verdicts")} == {
        "turns": 32, "decisions": 16, "claims": 8, "verdicts": 8,
    }  # fmt: skip
    assert not (tmp_path / "record" / "record.sqlite3").exists()

    assert_restarts_and_replays_add_no_row(
        make_record, running, settings, known, lambda: counts(postgres), first
    )

    # The CLI reads the same database through the same settings.
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    printed = CliRunner().invoke(app, ["audit", "conv-1", "--tenant", "acme", "--format", "json"])
    assert printed.exit_code == 0, printed.output
    audit = json.loads(printed.stdout)
    assert [d["decision_id"] for d in audit["decisions"]] == known.decisions[("acme", "conv-1")]


async def _ready_status(port: int) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status


def test_a_wrong_password_keeps_the_service_not_serving_with_one_error_line(
    kafka_broker: LocalKafka,
    tmp_path: Path,
    postgres: RecordDatabase,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = on_postgres(kafka_broker, tmp_path, postgres, "not-the-password")
    attempts: list[object] = []

    def opening(*args: Any) -> RecordStore:
        attempts.append(args)
        return RecordStore(*args)

    monkeypatch.setattr("warmline.record.service.RecordStore", opening)
    host = LoopThread()
    stop = asyncio.Event()

    async def build() -> RecordService:
        return RecordService(settings, AgentDirectory({}))

    service = host.run(build())
    serving = asyncio.run_coroutine_threadsafe(serve_until_stopped(service, stop), host.loop)
    with caplog.at_level(logging.ERROR, logger="warmline.record.service"):
        wait_until(lambda: service.ops.port != 0, what="the ops server")
        wait_until(
            lambda: any("password authentication failed" in r.getMessage() for r in caplog.records),
            what="the database error line",
        )
        # Three tries later: still up, NOT_SERVING, and the cause said once.
        wait_until(lambda: len(attempts) >= 3, what="three tries")
        assert "database" in service.readiness.pending()
        assert host.run(_ready_status(service.ops.port)) == 503
        assert not serving.done()
    lines = [r.getMessage() for r in caplog.records if r.name == "warmline.record.service"]
    assert len(lines) == 1
    assert "WARMLINE_RECORD__DATABASE_URL" in lines[0] and "\n" not in lines[0]
    assert "not-the-password" not in caplog.text
    host.loop.call_soon_threadsafe(stop.set)
    serving.result(30)  # stops cleanly: no crash
    host.close()
