"""The browser console's door with TLS: the page and the SSE stream over HTTPS from the
gRPC server's certificate; with a client CA, no client certificate, no console."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.notification.conftest import token
from tests.support import self_signed_certificate, tls_client_context

pytestmark = pytest.mark.integration

Pair = tuple[Path, Path]


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    return self_signed_certificate(tmp_path_factory.mktemp("server"), "localhost")


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """An agent desktop's certificate; self-signed, so also the client CA."""
    return self_signed_certificate(tmp_path_factory.mktemp("client"), "agent-desk")


async def first_stream_event(base: str, context: ssl.SSLContext | None = None) -> str:
    """The page loads, then the stream's first SSE event type."""
    tls: Any = context if context is not None else True
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/", ssl=tls) as page:
            assert page.status == 200 and "<html" in (await page.text()).lower()
        async with http.get(
            f"{base}/v1/stream",
            params={"queues": "billing"},
            headers={"Authorization": f"Bearer {token('bob')}"},
            ssl=tls,
        ) as stream:
            assert stream.status == 200
            while line := (await stream.content.readline()).decode():
                if line.startswith("event: "):
                    return line.removeprefix("event: ").strip()
    raise AssertionError("the stream ended without an event")


async def test_the_console_and_its_stream_are_served_over_https_only(
    make_notification: Any, server_cert: Pair
) -> None:
    cert, key = server_cert
    replica = make_notification(tls_cert_file=cert, tls_key_file=key)
    port = replica.service.http_port
    assert await first_stream_event(f"https://localhost:{port}", tls_client_context(cert)) == (
        "subscribed"
    )
    with pytest.raises(aiohttp.ClientError):
        await first_stream_event(f"http://127.0.0.1:{port}")


async def test_with_a_client_ca_a_browser_without_a_certificate_is_refused(
    make_notification: Any, server_cert: Pair, client_cert: Pair
) -> None:
    cert, key = server_cert
    replica = make_notification(
        tls_cert_file=cert, tls_key_file=key, tls_client_ca_file=client_cert[0]
    )
    base = f"https://localhost:{replica.service.http_port}"
    assert await first_stream_event(base, tls_client_context(cert, client_cert)) == "subscribed"
    with pytest.raises(aiohttp.ClientError):
        await first_stream_event(base, tls_client_context(cert))
