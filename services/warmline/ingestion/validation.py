"""Field-by-field validation of incoming events, with a violation per problem.

Every rule names the field and says what is wrong, so a platform developer can
fix the payload from the error alone.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

from google.protobuf.descriptor import EnumDescriptor

from warmline.common.settings import IngestionSettings
from warmline.ingestion.redaction import identifier_pii
from warmline.v1 import events_pb2, ingest_pb2

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_EARLIEST_S = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())

Violation = ingest_pb2.FieldViolation


def _enum(
    violations: list[Violation], field: str, enum: EnumDescriptor, value: int, required: bool
) -> None:
    if value not in enum.values_by_number:
        violations.append(Violation(field=field, description=f"unknown value {value}"))
    elif required and value == 0:
        names = ", ".join(v.name for v in enum.values if v.number != 0)
        violations.append(Violation(field=field, description=f"required; one of {names}"))


def _personal(kind: str) -> str:
    what = {"EMAIL": "an email address", "IBAN": "an IBAN", "PHONE": "a phone number"}[kind]
    return (
        f"looks like personal data ({what}); send a pseudonymous id, never one that"
        " identifies the customer"
    )


def has_visible_text(text: str) -> bool:
    """True when ``text`` holds something besides whitespace and invisible
    format or control characters (a zero-width space alone is no message)."""
    return any(
        not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zs") for ch in text
    )


def _identifier(
    violations: list[Violation], field: str, value: str, limit: int, required: bool = True
) -> None:
    if not value:
        if required:
            violations.append(Violation(field=field, description="required"))
    elif len(value) > limit:
        violations.append(Violation(field=field, description=f"longer than {limit} characters"))
    elif not value.isprintable():
        violations.append(Violation(field=field, description="contains control characters"))
    elif (kind := identifier_pii(value)) is not None:
        violations.append(Violation(field=field, description=_personal(kind)))


def validate_event(
    event: events_pb2.InteractionEvent, limits: IngestionSettings, now_s: float
) -> list[Violation]:
    """Everything wrong with ``event`` at epoch time ``now_s``; empty means it may be published."""
    v: list[Violation] = []
    _identifier(v, "event_id", event.event_id, limits.max_id_chars)
    _identifier(v, "conversation_id", event.conversation_id, limits.max_id_chars)
    _identifier(v, "customer_id", event.customer_id, limits.max_id_chars, required=False)
    _enum(v, "channel", events_pb2.Channel.DESCRIPTOR, event.channel, required=True)
    _enum(v, "role", events_pb2.Role.DESCRIPTOR, event.role, required=True)
    _enum(v, "kind", events_pb2.EventKind.DESCRIPTOR, event.kind, required=True)
    _enum(
        v, "customer_tier", events_pb2.CustomerTier.DESCRIPTOR, event.customer_tier, required=False
    )

    if event.kind == events_pb2.EVENT_KIND_MESSAGE and not has_visible_text(event.text):
        v.append(
            Violation(
                field="text",
                description="required for messages (whitespace and invisible characters alone"
                " are no text)",
            )
        )
    if len(event.text) > limits.max_text_chars:
        v.append(
            Violation(field="text", description=f"longer than {limits.max_text_chars} characters")
        )
    if event.language and not _LANGUAGE.match(event.language):
        v.append(Violation(field="language", description="not a BCP 47 tag such as 'en-GB'"))

    if not event.HasField("occurred_at"):
        v.append(Violation(field="occurred_at", description="required"))
    else:
        # Whole seconds are precise enough here, and far cheaper than datetimes.
        occurred_s = event.occurred_at.seconds
        if occurred_s > now_s + limits.max_future_skew_s:
            v.append(
                Violation(
                    field="occurred_at",
                    description=f"more than {limits.max_future_skew_s:.0f}s in the future",
                )
            )
        elif occurred_s < _EARLIEST_S:
            v.append(Violation(field="occurred_at", description="before 2000-01-01"))

    if len(event.metadata) > limits.max_metadata_entries:
        v.append(
            Violation(
                field="metadata", description=f"more than {limits.max_metadata_entries} entries"
            )
        )
    for key, value in event.metadata.items():
        if (kind := identifier_pii(key)) is not None:
            v.append(Violation(field="metadata", description=f"a key {_personal(kind)}"))
            break
        if len(key) > limits.max_metadata_chars or len(value) > limits.max_metadata_chars:
            v.append(
                Violation(
                    field=f"metadata[{key[:40]!r}]",
                    description=f"key or value longer than {limits.max_metadata_chars} characters",
                )
            )
            break

    if event.kind == events_pb2.EVENT_KIND_CSAT and not 1 <= event.csat_score <= 5:
        v.append(Violation(field="csat_score", description="must be 1-5 for csat events"))
    elif event.kind != events_pb2.EVENT_KIND_CSAT and event.csat_score:
        v.append(Violation(field="csat_score", description="only allowed on csat events"))
    return v
