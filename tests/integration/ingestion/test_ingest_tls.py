"""The ingestion service with TLS: both doors (gRPC, HTTP) from one certificate and key,
and with a client CA both require a client certificate."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format

from tests.integration.ingestion.conftest import (
    ACME_KEY,
    RunningIngestion,
    message,
    start_ingestion,
)
from tests.support import grpc_client_credentials, self_signed_certificate, tls_client_context
from warmline.localkafka import LocalKafka
from warmline.v1 import ingest_pb2, ingest_pb2_grpc

pytestmark = pytest.mark.integration

Pair = tuple[Path, Path]
KEY = (("authorization", f"Bearer {ACME_KEY}"),)


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    return self_signed_certificate(tmp_path_factory.mktemp("server"), "localhost")


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """A platform's client certificate; self-signed, so also the client CA."""
    return self_signed_certificate(tmp_path_factory.mktemp("client"), "chat-platform")


@pytest.fixture
def tls_ingestion(
    kafka_broker: LocalKafka, tmp_path: Path, server_cert: Pair
) -> Iterator[RunningIngestion]:
    cert, key = server_cert
    yield from start_ingestion(
        kafka_broker.bootstrap_servers, tmp_path, tls_cert_file=cert, tls_key_file=key
    )


@pytest.fixture
def mtls_ingestion(
    kafka_broker: LocalKafka, tmp_path: Path, server_cert: Pair, client_cert: Pair
) -> Iterator[RunningIngestion]:
    cert, key = server_cert
    yield from start_ingestion(
        kafka_broker.bootstrap_servers,
        tmp_path,
        tls_cert_file=cert,
        tls_key_file=key,
        tls_client_ca_file=client_cert[0],
    )


def event_json(event_id: str) -> dict[str, Any]:
    return json_format.MessageToDict(message(event_id), preserving_proto_field_name=True)


async def post_event(url: str, event_id: str, context: ssl.SSLContext | None = None) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{url}/v1/events",
            json=event_json(event_id),
            headers={"Authorization": f"Bearer {ACME_KEY}"},
            ssl=context if context is not None else True,
        ) as reply,
    ):
        return reply.status


async def publish(target: str, credentials: grpc.ChannelCredentials, event_id: str) -> int:
    async with grpc.aio.secure_channel(target, credentials) as channel:
        reply = await ingest_pb2_grpc.IngestServiceStub(channel).Publish(
            ingest_pb2.PublishRequest(event=message(event_id)), metadata=KEY, timeout=10
        )
    return int(reply.ack.status)


async def test_events_arrive_over_https_and_grpc_with_tls_and_plaintext_is_refused(
    tls_ingestion: RunningIngestion, server_cert: Pair
) -> None:
    cert, _ = server_cert
    port_http, port_grpc = tls_ingestion.service.http_port, tls_ingestion.service.grpc_port
    https = f"https://localhost:{port_http}"
    assert await post_event(https, "tls-http-1", tls_client_context(cert)) == 202
    accepted = await publish(f"localhost:{port_grpc}", grpc_client_credentials(cert), "tls-grpc-1")
    assert accepted == ingest_pb2.ACK_STATUS_ACCEPTED

    with pytest.raises(aiohttp.ClientError):
        await post_event(f"http://127.0.0.1:{port_http}", "tls-plain-1")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port_grpc}") as plain:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ingest_pb2_grpc.IngestServiceStub(plain).Publish(
                ingest_pb2.PublishRequest(event=message("tls-plain-2")), metadata=KEY, timeout=5
            )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_refuses_callers_without_a_client_certificate_on_both_doors(
    mtls_ingestion: RunningIngestion, server_cert: Pair, client_cert: Pair
) -> None:
    cert, _ = server_cert
    https = f"https://localhost:{mtls_ingestion.service.http_port}"
    target = f"localhost:{mtls_ingestion.service.grpc_port}"
    assert await post_event(https, "mtls-http-1", tls_client_context(cert, client_cert)) == 202
    assert await publish(target, grpc_client_credentials(cert, client_cert), "mtls-grpc-1") == (
        ingest_pb2.ACK_STATUS_ACCEPTED
    )

    with pytest.raises(aiohttp.ClientError):
        await post_event(https, "mtls-http-2", tls_client_context(cert))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await publish(target, grpc_client_credentials(cert), "mtls-grpc-2")
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
