"""Defensive reading of webhook JSON, shared by the platform adapters.

A webhook body is untrusted input: any field may be missing, null, or of the
wrong type. Every helper here either returns a value of the promised type or
raises ``WebhookRejected("invalid_payload", ...)`` naming the field, so an
adapter never lets a ``KeyError`` or ``TypeError`` escape to the service.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from google.protobuf.timestamp_pb2 import Timestamp

from warmline.ingestion.adapters.base import WebhookRejected

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The range a protobuf Timestamp can hold: 0001-01-01 to 9999-12-31.
_MIN_EPOCH_S = -62_135_596_800
_MAX_EPOCH_S = 253_402_300_799
_NUMERIC = re.compile(r"^-?\d+(?:\.\d+)?$")
# More than six fractional digits (Zendesk sends nanoseconds) is cut to microseconds.
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
# Metadata values are size-limited downstream; an id longer than this is not worth keeping.
_MAX_METADATA_VALUE = 128


def reject(detail: str) -> NoReturn:
    """Raise the adapters' one error for a payload that cannot be mapped."""
    raise WebhookRejected("invalid_payload", detail)


def unauthenticated(detail: str) -> NoReturn:
    """Raise the adapters' one error for a request that fails verification."""
    raise WebhookRejected("unauthenticated", detail)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name in ``headers``."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value if isinstance(value, str) else None


def same_secret(provided: str, expected: str) -> bool:
    """Constant-time comparison of two header-borne strings.

    Both sides are compared as UTF-8 bytes: ``hmac.compare_digest`` raises
    ``TypeError`` on non-ASCII ``str`` arguments, and a header is attacker input.
    """
    return hmac.compare_digest(
        provided.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def hmac_sha256(secret: str, message: bytes) -> bytes:
    """The raw HMAC-SHA256 digest of ``message`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def mapping(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """A required JSON object."""
    value = parent.get(key)
    if not isinstance(value, Mapping):
        reject(f"{where}.{key}: expected an object")
    return value


def optional_mapping(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """An optional JSON object; absent or null reads as empty."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        reject(f"{where}.{key}: expected an object")
    return value


def optional_identifier(parent: Mapping[str, Any], key: str, where: str) -> str | None:
    """An id given as a JSON integer or a non-empty string; None when absent or null."""
    value = parent.get(key)
    if value is None:
        return None
    # bool is an int subclass; ``true`` is never an id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    reject(f"{where}.{key}: expected an integer or non-empty string id")


def identifier(parent: Mapping[str, Any], key: str, where: str) -> str:
    """A required id (JSON integer or non-empty string)."""
    value = optional_identifier(parent, key, where)
    if value is None:
        reject(f"{where}.{key}: required")
    return value


def optional_string(parent: Mapping[str, Any], key: str, where: str) -> str | None:
    """A string field; None when absent or null."""
    value = parent.get(key)
    if value is None or isinstance(value, str):
        return value
    reject(f"{where}.{key}: expected a string")


def string(parent: Mapping[str, Any], key: str, where: str) -> str:
    """A required string field."""
    value = optional_string(parent, key, where)
    if value is None:
        reject(f"{where}.{key}: required")
    return value


def optional_bool(parent: Mapping[str, Any], key: str, where: str) -> bool:
    """A boolean flag; absent or null reads as false."""
    value = parent.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    reject(f"{where}.{key}: expected true or false")


def _from_epoch(seconds: int | float, where: str) -> datetime:
    # Compared before any float conversion: float() of a huge int overflows.
    if isinstance(seconds, float) and not math.isfinite(seconds):
        reject(f"{where}: epoch seconds out of range")
    if not _MIN_EPOCH_S <= seconds <= _MAX_EPOCH_S:
        reject(f"{where}: epoch seconds out of range")
    whole = math.floor(seconds)
    micros = min(round((seconds - whole) * 1_000_000), 999_999)
    return _EPOCH + timedelta(seconds=whole, microseconds=micros)


def _from_text(text: str, where: str) -> datetime:
    text = text.strip()
    if _NUMERIC.match(text):
        return _from_epoch(float(text), where)
    # Chatwoot's documented sample uses Ruby's default form, "2020-03-03 13:05:57 UTC".
    if text.endswith(" UTC"):
        text = text[: -len(" UTC")] + "+00:00"
    try:
        parsed = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text))
        # A timestamp without an offset is taken as UTC, which both platforms use.
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        # Normalising can leave the datetime range (year 1 at +14:00).
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        reject(f"{where}: not an ISO 8601 timestamp or epoch seconds")


def parse_datetime(value: object, where: str) -> datetime:
    """An aware datetime from epoch seconds (number or numeric string) or ISO 8601 text."""
    if isinstance(value, bool) or value is None:
        reject(f"{where}: expected a timestamp")
    if isinstance(value, int | float):
        return _from_epoch(value, where)
    if isinstance(value, str):
        return _from_text(value, where)
    reject(f"{where}: expected a timestamp")


def to_timestamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp for an aware datetime within 0001-9999 UTC.

    Built from the offset to the epoch rather than ``Timestamp.FromDatetime`` so
    the result never depends on how the library treats time zones.
    """
    delta = moment - _EPOCH
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1_000)


def epoch_millis(moment: datetime) -> int:
    """Whole milliseconds since the epoch, for ids derived from a time."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000 + delta.microseconds // 1_000


def language_tag(value: object) -> str:
    """``value`` when it looks like a BCP 47 tag, else "".

    Language is a hint; a malformed one is dropped rather than failing the event.
    """
    if isinstance(value, str) and _LANGUAGE.match(value):
        return value
    return ""


def metadata_value(value: str | None) -> str | None:
    """``value`` when it fits the metadata limits, else None."""
    if value is None or len(value) > _MAX_METADATA_VALUE or not value.isprintable():
        return None
    return value
