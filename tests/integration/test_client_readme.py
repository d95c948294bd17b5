"""The README's client examples run as written, against a real ingestion service and notification replica."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.ingestion.conftest import ACME_KEY, start_ingestion
from tests.integration.notification.conftest import (
    decision,
    notification_settings,
    publish,
    start,
    token,
)
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def example(uses: str) -> str:
    """The Python block of the README's *Integrating* section that constructs ``uses``."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Integrating\n", 1)[1].split("\n## ", 1)[0]
    [block] = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if f"{uses}(" in b]
    return block


async def run_example(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter, as a reader would; its output."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "services"), **env}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_publishing_example_runs(kafka_broker: LocalKafka, tmp_path: Path) -> None:
    with contextlib.contextmanager(start_ingestion)(
        kafka_broker.bootstrap_servers, tmp_path
    ) as ingestion:
        out = await run_example(
            example("IngestClient"),
            WARMLINE_INGEST_TARGET=ingestion.grpc_target,
            WARMLINE_API_KEY=ACME_KEY,
        )
    assert out.splitlines() == [
        "msg-1 ACK_STATUS_ACCEPTED",
        "{'outcomes': {'accepted': 2}, 'reasons': {}}",
    ]


async def test_the_console_example_runs(kafka_broker: LocalKafka, tmp_path: Path) -> None:
    replica = start(notification_settings(kafka_broker.bootstrap_servers), tmp_path)
    try:
        await publish(replica.settings, [decision("readme-1")])
        out = await run_example(
            example("ConsoleClient"),
            WARMLINE_CONSOLE_TARGET=replica.target,
            WARMLINE_AGENT_TOKEN=token("bob"),
        )
    finally:
        await asyncio.to_thread(replica.stop)
    assert out.splitlines() == ["billing PRIORITY_NORMAL ['sustained_negativity']", "claimed"]
