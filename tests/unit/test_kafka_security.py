"""Every client's connection security comes from one place (common/kafka.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from tests.support import self_signed_certificate
from warmline.common.kafka import connection_options, ssl_context
from warmline.common.settings import KafkaSettings, WarmlineSettings
from warmline.decisioning.faust_runtime.credentials import faust_credentials


def settings(**kafka: object) -> WarmlineSettings:
    return WarmlineSettings(kafka=KafkaSettings(**kafka))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), "warmline-test")


def test_plaintext_has_no_tls_and_no_sasl() -> None:
    options = connection_options(settings())
    assert options["security_protocol"] == "PLAINTEXT"
    assert "ssl_context" not in options and "sasl_mechanism" not in options
    assert faust_credentials(settings()) is None


def test_ssl_trusts_the_given_ca_and_checks_hostnames(certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    options = connection_options(settings(security_protocol="SSL", ssl_cafile=cert))
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any(
        ca["subject"] == ((("commonName", "warmline-test"),),) for ca in context.get_ca_certs()
    )
    credentials = faust_credentials(settings(security_protocol="SSL", ssl_cafile=cert))
    assert isinstance(credentials, faust.SSLCredentials)


def test_hostname_checking_can_be_turned_off_explicitly(certificate: tuple[Path, Path]) -> None:
    cert, _ = certificate
    context = ssl_context(
        settings(security_protocol="SSL", ssl_cafile=cert, ssl_check_hostname=False)
    )
    assert context is not None and not context.check_hostname


def test_mutual_tls_loads_the_client_certificate(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    context = ssl_context(settings(security_protocol="SSL", ssl_certfile=cert, ssl_keyfile=key))
    assert context is not None
    # The key really is loaded and checked against the certificate: another key fails.
    _, other_key = self_signed_certificate(tmp_path, "other")
    with pytest.raises(ssl.SSLError):
        ssl_context(settings(security_protocol="SSL", ssl_certfile=cert, ssl_keyfile=other_key))
    with pytest.raises(ValidationError, match="SSL_CERTFILE and WARMLINE_KAFKA__SSL_KEYFILE"):
        settings(security_protocol="SSL", ssl_certfile=cert)


def test_sasl_ssl_scram_reads_the_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    s = settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="warmline",
        sasl_password_file=secret,
    )
    options = connection_options(s)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "warmline"
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    credentials = faust_credentials(s)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "warmline" and credentials.password == "s3cret"
    assert credentials.ssl_context is not None


def test_the_password_is_never_shown() -> None:
    s = settings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="warmline",
        sasl_password="hunter2",
    )
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.kafka)
    assert connection_options(s)["sasl_plain_password"] == "hunter2"
    assert "ssl_context" not in connection_options(s)


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "SASL_MECHANISM and WARMLINE_KAFKA__SASL_USERNAME"),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
            "exactly one of WARMLINE_KAFKA__SASL_PASSWORD and WARMLINE_KAFKA__SASL_PASSWORD_FILE",
        ),
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "SSL_CAFILE"),
        ({"sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
    ],
)
def test_a_half_configured_connection_is_refused_naming_the_setting(
    kafka: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**kafka)
