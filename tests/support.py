"""Helpers shared by tests: unique names and settings aimed at the test broker."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from warmline.common.settings import KafkaSettings, TopicSettings, WarmlineSettings

T = TypeVar("T")


def unique(prefix: str) -> str:
    """A name no other test uses (topics, groups, tenants)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def settings_for(bootstrap: str, **sections: object) -> WarmlineSettings:
    """Settings pointing at ``bootstrap`` with topic names unique to the caller."""
    return WarmlineSettings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap, delivery_timeout_ms=10_000),
        topics=TopicSettings(prefix=unique("t") + ".", partitions=3),
        **sections,  # type: ignore[arg-type]
    )


class LoopThread:
    """An asyncio loop in a background thread, to host a service under test.

    The service then runs like a separate process would: tests talk to it over
    real sockets, from their own loop or from synchronous clients.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run ``coro`` on the thread's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def wait_until(
    condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``condition`` until true, or fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def read_topic(
    bootstrap: str, topic: str, count: int, within_s: float = 20.0, settle: float = 0.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read at least ``count`` records of ``topic`` from the start, or fail after ``within_s``.

    With ``settle`` > 0, keep reading that long after reaching ``count``, so a
    test can prove that nothing *more* arrived (no duplicates).
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=unique("reader"),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        try:
            async with asyncio.timeout(within_s):
                while len(records) < count:
                    batches = await consumer.getmany(timeout_ms=200)
                    records += [r for rs in batches.values() for r in rs]
        except TimeoutError:
            raise AssertionError(
                f"{len(records)} of {count} records on {topic} after {within_s} s"
            ) from None
        if settle:
            batches = await consumer.getmany(timeout_ms=int(settle * 1000))
            records += [r for rs in batches.values() for r in rs]
        return records
    finally:
        await consumer.stop()


def self_signed_certificate(folder: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A one-day self-signed certificate and its key (PEM) for ``host``, made with the
    openssl command (skips the calling test where it is missing)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = folder / f"{host}.pem", folder / f"{host}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host},IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_client_context(ca: Path, client: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """An HTTPS client's context trusting ``ca``, presenting ``client`` (cert, key) if given."""
    context = ssl.create_default_context(cafile=ca)
    if client is not None:
        context.load_cert_chain(*client)
    return context


def grpc_client_credentials(
    ca: Path, client: tuple[Path, Path] | None = None
) -> grpc.ChannelCredentials:
    """A gRPC channel's TLS trusting ``ca``, presenting ``client`` (cert, key) if given."""
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        certificate_chain=client[0].read_bytes(),
        private_key=client[1].read_bytes(),
    )
