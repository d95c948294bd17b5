"""How Warmline's clients reach a :class:`~warmline.localkafka.LocalKafka`."""

from __future__ import annotations

from pydantic import SecretStr

from warmline.common.settings import KafkaSettings
from warmline.localkafka.broker import LocalKafka


def client_settings(broker: LocalKafka) -> KafkaSettings:
    """Plaintext, or SASL_SSL (SCRAM-SHA-512) as the broker's first user, trusting its CA."""
    if broker.sasl_ssl is None:
        return KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    user, password = broker.sasl_ssl.users[0]
    return KafkaSettings(
        bootstrap_servers=broker.secure_bootstrap_servers,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=user,
        sasl_password=SecretStr(password),
        ssl_cafile=broker.ca_file,
    )
