"""The faust app's connection security, from the same settings as every other client."""

from __future__ import annotations

import faust
from faust.types.auth import CredentialsT

from warmline.common.kafka import ssl_context
from warmline.common.settings import WarmlineSettings


def faust_credentials(settings: WarmlineSettings) -> CredentialsT | None:
    """faust's form of what :func:`~warmline.common.kafka.connection_options` gives
    aiokafka: SASL (with the TLS context for SASL_SSL), TLS alone, or nothing."""
    k = settings.kafka
    context = ssl_context(settings)
    if k.security_protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=k.sasl_username,
            password=k.password(),
            mechanism=k.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
