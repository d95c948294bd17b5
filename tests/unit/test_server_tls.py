"""A service's doors speak TLS from one certificate and key: its gRPC server and its
public HTTP listener alike; a client CA makes both require client certificates."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import grpc
import pytest
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import grpc_client_credentials, self_signed_certificate, tls_client_context
from warmline.common.grpc_server import GrpcServer
from warmline.common.health import Readiness
from warmline.common.ops_http import HttpListener
from warmline.common.settings import (
    IngestionSettings,
    NotificationSettings,
    ScoringSettings,
)
from warmline.common.tls import TlsSettingsError, http_ssl_context, server_credentials

Pair = tuple[Path, Path]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """The server's certificate and key, for localhost."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), "localhost")


@pytest.fixture(scope="module")
def client_certificate(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """A client's certificate and key; self-signed, so it is also the client CA."""
    return self_signed_certificate(tmp_path_factory.mktemp("client"), "agent-desk")


@asynccontextmanager
async def grpc_server(settings: ScoringSettings) -> AsyncIterator[int]:
    server = GrpcServer(
        [], Readiness(), address="127.0.0.1:0", credentials=server_credentials(settings, "scoring")
    )
    await server.start()
    try:
        yield server.port
    finally:
        await server.stop(0)


async def health_check(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=10
    )
    return int(reply.status)


@asynccontextmanager
async def https_server(settings: IngestionSettings) -> AsyncIterator[int]:
    async def hello(_: web.Request) -> web.Response:
        return web.json_response({"hello": "tls"})

    app = web.Application()
    app.router.add_get("/hello", hello)
    listener = HttpListener(
        app, "127.0.0.1", 0, ssl_context=http_ssl_context(settings, "ingestion")
    )
    await listener.start()
    try:
        yield listener.port
    finally:
        await listener.stop()


async def get_hello(url: str, context: ssl.SSLContext | None = None) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, ssl=context if context is not None else True) as reply,
    ):
        assert await reply.json() == {"hello": "tls"}
        return reply.status


async def test_a_tls_grpc_server_answers_trusting_clients_and_refuses_plaintext(
    certificate: Pair,
) -> None:
    cert, key = certificate
    settings = ScoringSettings(tls_cert_file=cert, tls_key_file=key)
    async with grpc_server(settings) as port:
        trusted = grpc_client_credentials(cert)
        async with grpc.aio.secure_channel(f"localhost:{port}", trusted) as channel:
            assert await health_check(channel) == health_pb2.HealthCheckResponse.SERVING
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError):
                await health_check(plain)


async def test_mutual_tls_grpc_refuses_a_client_without_a_certificate_signed_by_the_ca(
    certificate: Pair, client_certificate: Pair, tmp_path: Path
) -> None:
    cert, key = certificate
    settings = ScoringSettings(
        tls_cert_file=cert, tls_key_file=key, tls_client_ca_file=client_certificate[0]
    )
    stranger = self_signed_certificate(tmp_path, "stranger")
    async with grpc_server(settings) as port:
        with_client = grpc_client_credentials(cert, client_certificate)
        async with grpc.aio.secure_channel(f"localhost:{port}", with_client) as channel:
            assert await health_check(channel) == health_pb2.HealthCheckResponse.SERVING
        without = grpc_client_credentials(cert)
        async with grpc.aio.secure_channel(f"localhost:{port}", without) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await health_check(channel)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        signed_elsewhere = grpc_client_credentials(cert, stranger)
        async with grpc.aio.secure_channel(f"localhost:{port}", signed_elsewhere) as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await health_check(channel)


async def test_the_http_listener_speaks_tls_with_the_same_certificate(certificate: Pair) -> None:
    cert, key = certificate
    settings = IngestionSettings(tls_cert_file=cert, tls_key_file=key)
    async with https_server(settings) as port:
        assert await get_hello(f"https://localhost:{port}/hello", tls_client_context(cert)) == 200
        with pytest.raises(aiohttp.ClientError):  # plain HTTP to the TLS port
            await get_hello(f"http://127.0.0.1:{port}/hello")
        with pytest.raises(aiohttp.ClientConnectorCertificateError):  # a client not trusting it
            await get_hello(f"https://localhost:{port}/hello")


async def test_mutual_tls_http_refuses_a_client_without_a_certificate(
    certificate: Pair, client_certificate: Pair
) -> None:
    cert, key = certificate
    client_cert, _ = client_certificate
    settings = IngestionSettings(
        tls_cert_file=cert, tls_key_file=key, tls_client_ca_file=client_cert
    )
    async with https_server(settings) as port:
        url = f"https://localhost:{port}/hello"
        assert await get_hello(url, tls_client_context(cert, client_certificate)) == 200
        with pytest.raises(aiohttp.ClientError):
            await get_hello(url, tls_client_context(cert))


def test_mutual_tls_trusts_only_the_client_ca(certificate: Pair, client_certificate: Pair) -> None:
    cert, key = certificate
    settings = IngestionSettings(
        tls_cert_file=cert, tls_key_file=key, tls_client_ca_file=client_certificate[0]
    )
    context = http_ssl_context(settings, "ingestion")
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    # Not the system's CAs: a client certificate from any public CA must not pass.
    assert [ca["subject"] for ca in context.get_ca_certs()] == [((("commonName", "agent-desk"),),)]
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_no_certificate_means_plaintext_and_half_settings_are_refused(
    certificate: Pair, tmp_path: Path
) -> None:
    cert, key = certificate
    assert server_credentials(NotificationSettings(), "notification") is None
    assert http_ssl_context(NotificationSettings(), "notification") is None
    with pytest.raises(TlsSettingsError, match="WARMLINE_NOTIFICATION__TLS_CERT_FILE is set"):
        http_ssl_context(NotificationSettings(tls_cert_file=cert), "notification")
    with pytest.raises(TlsSettingsError, match="WARMLINE_SCORING__TLS_CERT_FILE is not set"):
        server_credentials(ScoringSettings(tls_client_ca_file=cert), "scoring")
    missing = tmp_path / "gone.pem"
    with pytest.raises(TlsSettingsError, match=r"WARMLINE_INGESTION__TLS_KEY_FILE: .*gone\.pem"):
        server_credentials(IngestionSettings(tls_cert_file=cert, tls_key_file=missing), "ingestion")
    with pytest.raises(TlsSettingsError, match="are not a PEM certificate and its key"):
        http_ssl_context(IngestionSettings(tls_cert_file=key, tls_key_file=cert), "ingestion")
