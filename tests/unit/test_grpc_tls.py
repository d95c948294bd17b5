"""gRPC servers of ingestion, scoring and notification speak TLS when given a certificate."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import self_signed_certificate
from warmline.common.grpc_server import GrpcServer, TlsSettingsError, server_credentials
from warmline.common.health import Readiness
from warmline.common.settings import NotificationSettings, ScoringSettings


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), "localhost")


async def test_a_tls_server_answers_trusting_clients_and_refuses_plaintext(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    settings = ScoringSettings(host="127.0.0.1", grpc_port=0, tls_cert_file=cert, tls_key_file=key)
    readiness = Readiness()
    server = GrpcServer(
        [], readiness, address="127.0.0.1:0", credentials=server_credentials(settings, "scoring")
    )
    await server.start()
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        async with grpc.aio.secure_channel(f"localhost:{server.port}", trusted) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError):
                await health_pb2_grpc.HealthStub(plain).Check(
                    health_pb2.HealthCheckRequest(), timeout=5
                )
    finally:
        await server.stop(0)


def test_no_certificate_means_plaintext_and_half_settings_are_refused(
    certificate: tuple[Path, Path],
) -> None:
    cert, _ = certificate
    assert server_credentials(NotificationSettings(), "notification") is None
    with pytest.raises(TlsSettingsError, match="WARMLINE_NOTIFICATION__TLS_CERT_FILE is set"):
        server_credentials(NotificationSettings(tls_cert_file=cert), "notification")
    with pytest.raises(TlsSettingsError, match="WARMLINE_SCORING__TLS_CERT_FILE is not set"):
        server_credentials(ScoringSettings(tls_client_ca_file=cert), "scoring")
