"""TLS of a service's own doors, from one certificate, key and optional client CA.

A service's ``TLS_CERT_FILE``, ``TLS_KEY_FILE`` and ``TLS_CLIENT_CA_FILE`` apply
to its gRPC server and to its public HTTP listener alike (ingestion's events and
webhooks, notification's console and SSE stream); with a client CA both doors
require a client certificate signed by it (mutual TLS). The operations page
(``/metrics``, ``/healthz``, ``/readyz``) stays plain HTTP: Prometheus and the
kubelet's probes reach it inside the cluster, where the NetworkPolicy guards it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from warmline.common.settings import GrpcServicePorts


class TlsSettingsError(ValueError):
    """A TLS setting is incomplete or its file unusable; the message names it."""


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The PEM files of a service's TLS: certificate chain, key, and the CA of
    the clients it accepts (None: clients need no certificate)."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None


def server_tls(ports: GrpcServicePorts, service: str) -> ServerTls | None:
    """The service's TLS files, or None when no certificate is configured (plaintext).

    A key or client CA without a certificate, or a certificate without its key,
    is refused with the setting's name (``service`` is its section, e.g. ``ingestion``).
    """
    setting = f"WARMLINE_{service.upper()}__TLS"
    if ports.tls_cert_file is None:
        if ports.tls_key_file is not None or ports.tls_client_ca_file is not None:
            raise TlsSettingsError(f"{setting}_CERT_FILE is not set")
        return None
    if ports.tls_key_file is None:
        raise TlsSettingsError(f"{setting}_CERT_FILE is set but __TLS_KEY_FILE is not")
    for name, path in (
        ("CERT_FILE", ports.tls_cert_file),
        ("KEY_FILE", ports.tls_key_file),
        ("CLIENT_CA_FILE", ports.tls_client_ca_file),
    ):
        if path is not None and not path.is_file():
            raise TlsSettingsError(f"{setting}_{name}: {path} is not a readable file")
    return ServerTls(ports.tls_cert_file, ports.tls_key_file, ports.tls_client_ca_file)


def server_credentials(ports: GrpcServicePorts, service: str) -> grpc.ServerCredentials | None:
    """gRPC server credentials: TLS when a certificate is configured, mutual TLS
    with a client CA; None for a plaintext server."""
    tls = server_tls(ports, service)
    if tls is None:
        return None
    ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )


def http_ssl_context(ports: GrpcServicePorts, service: str) -> ssl.SSLContext | None:
    """The TLS context of the service's public HTTP listener, from the same files
    as its gRPC server (TLS 1.2 or later); None for plaintext HTTP."""
    tls = server_tls(ports, service)
    if tls is None:
        return None
    setting = f"WARMLINE_{service.upper()}__TLS"
    # Not create_default_context: that would also trust the system's CAs for
    # client certificates, where only the configured client CA may sign them.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except ssl.SSLError as exc:
        raise TlsSettingsError(
            f"{setting}_CERT_FILE and __TLS_KEY_FILE are not a PEM certificate and its key: {exc}"
        ) from exc
    if tls.client_ca_file is not None:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except ssl.SSLError as exc:
            raise TlsSettingsError(
                f"{setting}_CLIENT_CA_FILE is not a PEM certificate bundle: {exc}"
            ) from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context
