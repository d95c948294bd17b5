"""An ``InteractionEvent`` from its JSON form, strictly.

``json_format.ParseDict`` is lenient where a platform developer needs to hear
about a mistake: it takes ``1.5`` or ``true`` for an enum, truncates an integer
past the field's range into another valid value, and lets a string with a lone
surrogate (``"\\ud800"``, not Unicode) through to fail later. The checks here
run first and name the field; ParseDict then handles the rest of the mapping.
"""

from __future__ import annotations

import json

from google.protobuf import json_format
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor

from warmline.common.unicode import is_unicode
from warmline.ingestion.core import INVALID_ARGUMENT, REJECTED
from warmline.v1 import events_pb2, ingest_pb2

Violation = ingest_pb2.FieldViolation

_INT32 = (-(2**31), 2**31 - 1)
_FIELDS: dict[str, FieldDescriptor] = {}
for _field in events_pb2.InteractionEvent.DESCRIPTOR.fields:
    _FIELDS[_field.name] = _FIELDS[_field.json_name] = _field


def _shown(value: object) -> str:
    """``value`` as the caller wrote it in JSON, cut short."""
    return json.dumps(value)[:40]


def _enum_problem(enum: EnumDescriptor, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        example = enum.values[1].name
        return f"must be a value name such as {example!r} or its number, not {_shown(value)}"
    if isinstance(value, int):
        # The range check comes first: values_by_number truncates to 32 bits.
        known = _INT32[0] <= value <= _INT32[1] and value in enum.values_by_number
        return None if known else f"unknown value {value}"
    if not is_unicode(value):
        # Checked first: protobuf's name lookup fails on a lone surrogate.
        return "is not valid Unicode (a lone surrogate such as \\ud800)"
    if value not in enum.values_by_name:
        names = ", ".join(v.name for v in enum.values if v.number != 0)
        return f"unknown value {value[:40]!r}; one of {names}"
    return None


def _int_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"must be a whole number, not {_shown(value)}"
    try:
        number = int(value)
    except ValueError:
        return f"must be a whole number, not {str(value)[:40]!r}"
    if not _INT32[0] <= number <= _INT32[1]:
        return "out of range"
    return None


def _field_problems(raw: dict[object, object]) -> list[Violation]:
    problems: list[Violation] = []
    for key, value in raw.items():
        field = _FIELDS.get(key) if isinstance(key, str) else None
        if field is None:
            continue  # ParseDict names unknown fields
        problem: str | None = None
        if field.enum_type is not None:
            problem = _enum_problem(field.enum_type, value)
        elif field.type == FieldDescriptor.TYPE_INT32:
            problem = _int_problem(value)
        elif field.type == FieldDescriptor.TYPE_STRING:
            if isinstance(value, str) and not is_unicode(value):
                problem = "is not valid Unicode (a lone surrogate such as \\ud800)"
        elif isinstance(value, dict) and not all(
            isinstance(s, str) and is_unicode(s) for kv in value.items() for s in kv
        ):
            problem = "keys and values must be valid Unicode strings"  # metadata
        if problem:
            problems.append(Violation(field=field.name, description=problem))
    return problems


def parse_event(raw: object) -> events_pb2.InteractionEvent | ingest_pb2.EventAck:
    """An event from its JSON form, or a rejection saying what is malformed."""
    if not isinstance(raw, dict):
        return _rejected("", [Violation(field="event", description="must be a JSON object")])
    event_id = raw.get("event_id") or raw.get("eventId") or ""
    event_id = event_id if isinstance(event_id, str) and is_unicode(event_id) else ""
    problems = _field_problems(raw)
    if problems:
        return _rejected(event_id, problems)
    try:
        return json_format.ParseDict(raw, events_pb2.InteractionEvent())
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        # The parser's message may quote the offending value, lone surrogates included.
        detail = str(exc)[:500].encode("utf-8", "backslashreplace").decode()
        return _rejected(event_id, [Violation(field="event", description=detail)])


def _rejected(event_id: str, violations: list[Violation]) -> ingest_pb2.EventAck:
    return ingest_pb2.EventAck(
        event_id=event_id, status=REJECTED, reason=INVALID_ARGUMENT, field_violations=violations
    )
