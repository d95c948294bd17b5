"""Kafka clients configured the one way Warmline uses them.

Producers are idempotent with ``acks=all``; consumers never auto-commit. The
consume-transform-produce loop in :mod:`warmline.common.pipeline` commits an
offset only after every record it caused is acknowledged by the brokers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from warmline.common.health import Readiness
from warmline.common.settings import WarmlineSettings

log = logging.getLogger(__name__)


class ClusterSetupError(RuntimeError):
    """The cluster answers but is not set up as the service needs (a topic missing or
    refused); the message says what to fix. Waited out like an unreachable cluster."""


def ssl_context(settings: WarmlineSettings) -> ssl.SSLContext | None:
    """The TLS context of SSL and SASL_SSL connections (None for plaintext ones):
    the configured CA (else the system's trust store), the client certificate for
    mutual TLS, hostname checking on unless turned off."""
    k = settings.kafka
    if k.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context: ssl.SSLContext = create_ssl_context(
        cafile=str(k.ssl_cafile) if k.ssl_cafile else None,
        certfile=str(k.ssl_certfile) if k.ssl_certfile else None,
        keyfile=str(k.ssl_keyfile) if k.ssl_keyfile else None,
    )
    context.check_hostname = k.ssl_check_hostname
    return context


def connection_options(settings: WarmlineSettings) -> dict[str, Any]:
    """Options shared by every client: where the brokers are and how to talk to them."""
    k = settings.kafka
    options: dict[str, Any] = {
        "bootstrap_servers": k.bootstrap_servers,
        "security_protocol": k.security_protocol,
        "request_timeout_ms": k.request_timeout_ms,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if k.security_protocol.startswith("SASL_"):
        options |= {
            "sasl_mechanism": k.sasl_mechanism,
            "sasl_plain_username": k.sasl_username,
            "sasl_plain_password": k.password(),
        }
    return options


def compression(settings: WarmlineSettings) -> str | None:
    """The producers' compression codec in aiokafka's (and faust's) terms."""
    codec = settings.kafka.compression_type
    return None if codec == "none" else codec


def create_producer(settings: WarmlineSettings, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer: ``acks=all``, no duplicates on retry."""
    k = settings.kafka
    # A batch not acknowledged within request_timeout_ms fails its sends.
    options = connection_options(settings) | {"request_timeout_ms": k.delivery_timeout_ms}
    return AIOKafkaProducer(
        **options,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=k.linger_ms,
        max_batch_size=k.max_batch_bytes,
        compression_type=compression(settings),
    )


def create_consumer(
    settings: WarmlineSettings,
    group_id: str,
    *topics: str,
    client_id: str,
    readiness: Readiness | None = None,
) -> AIOKafkaConsumer:
    """A group consumer that commits only when told to, reading committed data only.

    With ``readiness``, its ``assignment`` condition holds only while the group
    is settled and this consumer has its partitions (see :class:`AssignmentReadiness`).
    """
    consumer = AIOKafkaConsumer(
        **connection_options(settings),
        client_id=client_id,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    if topics:
        listener = AssignmentReadiness(readiness) if readiness is not None else None
        consumer.subscribe(list(topics), listener=listener)
    return consumer


class AssignmentReadiness(ConsumerRebalanceListener):  # type: ignore[misc]
    """Readiness condition ``assignment``: false from the start of a rebalance
    (partitions revoked) until the consumer is given its partitions again."""

    def __init__(self, readiness: Readiness) -> None:
        self._readiness = readiness

    async def on_partitions_revoked(self, revoked: object) -> None:
        self._readiness.set("assignment", False)

    async def on_partitions_assigned(self, assigned: object) -> None:
        self._readiness.set("assignment", True)


def admin_client(settings: WarmlineSettings) -> AIOKafkaAdminClient:
    """An admin client for topic management and health checks."""
    return AIOKafkaAdminClient(**connection_options(settings), client_id="warmline-admin")


async def kafka_reachable(admin: AIOKafkaAdminClient, timeout_s: float) -> bool:
    """True when the cluster answers a metadata request within ``timeout_s``."""
    try:
        await asyncio.wait_for(admin.describe_cluster(), timeout_s)
    except (KafkaError, OSError, TimeoutError):
        return False
    return True


async def watch_kafka(
    settings: WarmlineSettings,
    readiness: Readiness,
    stop: asyncio.Event,
    *,
    interval_s: float = 5.0,
) -> None:
    """Keep the ``kafka`` readiness condition true only while the cluster answers."""
    admin = admin_client(settings)
    started = False
    try:
        while not stop.is_set():
            if not started:
                try:
                    await admin.start()
                    started = True
                except (KafkaError, OSError):
                    readiness.set("kafka", False)
            if started:
                readiness.set("kafka", await kafka_reachable(admin, interval_s))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    finally:
        if started:
            await admin.close()


#: Causes aiokafka only logs (it raises "unable to bootstrap"), and what to check.
_CAUSES: tuple[tuple[str, str], ...] = (
    (
        "SaslAuthenticationFailed",
        "Kafka refused the credentials: check WARMLINE_KAFKA__SASL_USERNAME, "
        "WARMLINE_KAFKA__SASL_PASSWORD (or _FILE) and WARMLINE_KAFKA__SASL_MECHANISM",
    ),
    (
        "CERTIFICATE_VERIFY_FAILED",
        "the brokers' TLS certificate is not trusted (or not issued for their host "
        "name): check WARMLINE_KAFKA__SSL_CAFILE and WARMLINE_KAFKA__SSL_CHECK_HOSTNAME",
    ),
    (
        "UnsupportedSaslMechanism",
        "the brokers do not offer this SASL mechanism: check WARMLINE_KAFKA__SASL_MECHANISM",
    ),
)


class _CauseCatcher(logging.Handler):
    """Notes which known connection failure aiokafka logged while a start ran."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for marker, advice in _CAUSES:
            if marker in message:
                self.found = advice


async def start_when_reachable(
    start: Callable[[], Awaitable[object]], what: str, stop: asyncio.Event
) -> bool:
    """Call ``start`` until Kafka answers (backing off to 5 s); False if stopped first.

    A service that starts before its brokers stays up and NOT_SERVING instead
    of crash-looping. A wrong password or an untrusted certificate, and a
    :class:`ClusterSetupError` (a missing topic), are logged as one error line
    naming the settings to check (each cause once while it lasts).
    """
    delay = 0.2
    reported: str | None = None
    aiokafka_log = logging.getLogger("aiokafka")
    while not stop.is_set():
        catcher = _CauseCatcher()
        aiokafka_log.addHandler(catcher)
        try:
            await start()
            return True
        except ClusterSetupError as exc:
            if str(exc) != reported:
                log.error(str(exc), extra={"client": what})
                reported = str(exc)
        except (KafkaError, OSError) as exc:
            if catcher.found is not None:
                if catcher.found != reported:
                    log.error(catcher.found, extra={"client": what})
                    reported = catcher.found
            else:
                log.warning("kafka not reachable yet", extra={"client": what, "error": repr(exc)})
        finally:
            aiokafka_log.removeHandler(catcher)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 5.0)
    return False
