"""The HTTP API's OpenAPI 3.1 document, kept in one place and served by each service.

``openapi.yaml`` beside this module holds the paths, parameters, responses and
the hand-written schemas (errors, envelopes, the console's JSON bodies). The
schemas of protobuf messages (components named ``warmline.v1.<Message>``) are
derived here from the generated descriptors, in the proto3 JSON mapping the
handlers write, so they cannot drift from ``protos/``. Each path item names the
services that serve it (``x-warmline-services``); a service serves only its own
paths, and the components they use, at ``GET /openapi.json``.

``python -m warmline.common.openapi [ingestion|notification|record]`` prints the document.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from importlib import resources
from typing import Any, cast

import yaml
from aiohttp import web
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

import warmline
from warmline.v1 import escalation_pb2, events_pb2, ingest_pb2, notification_pb2

SERVICES = ("ingestion", "notification", "record")
SERVICE_KEY = "x-warmline-services"
PATH = "/openapi.json"
_PROTO_PREFIX = "warmline.v1."
# Every message a schema of the document may name; nested ones are reached from these.
_MESSAGES: tuple[type[Message], ...] = (
    events_pb2.InteractionEvent,
    ingest_pb2.EventAck,
    escalation_pb2.EscalationDecision,
    notification_pb2.Delivery,
    notification_pb2.ClaimNotice,
    notification_pb2.Heartbeat,
    notification_pb2.PauseState,
    notification_pb2.QueueCapacity,
    notification_pb2.OverloadAlert,
)
_REF = "#/components/schemas/"

_INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
_UINT32 = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
# proto3 JSON writes 64-bit integers as strings and reads either.
_INT64 = {"type": ["string", "integer"], "pattern": "^-?[0-9]+$"}
_FLOAT = {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}
_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
    FieldDescriptor.TYPE_FLOAT: _FLOAT,
    FieldDescriptor.TYPE_DOUBLE: _FLOAT,
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _INT64,
    FieldDescriptor.TYPE_FIXED64: _INT64,
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
}


Named = Descriptor | EnumDescriptor


def _enum_schema(enum: EnumDescriptor) -> dict[str, Any]:
    # Written by name; read by name or number.
    return {
        "title": enum.full_name,
        "description": f"The protobuf enum `{enum.full_name}`: written by name, read by name or number.",
        "anyOf": [
            {"type": "string", "enum": [v.name for v in enum.values]},
            {"type": "integer", "enum": [v.number for v in enum.values]},
        ],
    }


def _message_schema(message: Descriptor, found: dict[str, Named]) -> dict[str, Any]:
    return {
        "title": message.full_name,
        "description": (
            f"The protobuf message `{message.full_name}` ({message.file.name}) in its "
            "proto3 JSON mapping; fields at their default value are left out. "
            "The schema names fields as written; the services read their lowerCamelCase forms too."
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": {f.name: _field_schema(f, found) for f in message.fields},
    }


def _named(descriptor: Named, found: dict[str, Named]) -> dict[str, Any]:
    found[descriptor.full_name] = descriptor
    return {"$ref": _REF + descriptor.full_name}


def _value_schema(field: FieldDescriptor, found: dict[str, Named]) -> dict[str, Any]:
    if field.enum_type is not None:
        return _named(field.enum_type, found)
    message = field.message_type
    if message is None:
        return dict(_SCALARS[field.type])
    if message.full_name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[message.full_name])
    return _named(message, found)


def _field_schema(field: FieldDescriptor, found: dict[str, Named]) -> dict[str, Any]:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        value = _value_schema(message.fields_by_name["value"], found)
        return {"type": "object", "additionalProperties": value}
    if field.is_repeated:
        return {"type": "array", "items": _value_schema(field, found)}
    return _value_schema(field, found)


def message_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas of the document's messages and the messages and enums they use, by name."""
    roots = [cast(Descriptor, m.DESCRIPTOR) for m in _MESSAGES]
    found: dict[str, Named] = {d.full_name: d for d in roots}
    schemas: dict[str, dict[str, Any]] = {}
    while pending := [d for name, d in found.items() if name not in schemas]:
        for descriptor in pending:
            schemas[descriptor.full_name] = (
                _enum_schema(descriptor)
                if isinstance(descriptor, EnumDescriptor)
                else _message_schema(descriptor, found)
            )
    return dict(sorted(schemas.items()))


@functools.cache
def full_document() -> dict[str, Any]:
    """The whole document: every service's paths, every component."""
    text = resources.files("warmline.common").joinpath("openapi.yaml").read_text()
    document: dict[str, Any] = yaml.safe_load(text)
    document["info"]["version"] = warmline.__version__
    document["components"]["schemas"].update(message_schemas())
    return document


def _refs(node: object) -> set[str]:
    """Every ``$ref`` under ``node``."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def service_document(service: str) -> dict[str, Any]:
    """The document as ``service`` serves it: its paths and the components they use."""
    if service not in SERVICES:
        raise ValueError(f"no HTTP API for service {service!r}; one of {', '.join(SERVICES)}")
    full = full_document()
    document = copy.deepcopy(full)
    document["paths"] = {
        path: item for path, item in document["paths"].items() if service in item[SERVICE_KEY]
    }
    operations = [op for item in document["paths"].values() for op in _op_objects(item)]
    used = {tag for op in operations for tag in op.get("tags", [])}
    document["tags"] = [tag for tag in document["tags"] if tag["name"] in used]
    components = document["components"]
    kept: dict[str, set[str]] = {}
    todo = _refs(document["paths"])
    while todo:
        ref = todo.pop()
        _, _, kind, name = ref.split("/", 3)
        if name in kept.setdefault(kind, set()):
            continue
        kept[kind].add(name)
        todo |= _refs(components[kind][name])
    for op in operations:
        for requirement in op.get("security", []):
            kept.setdefault("securitySchemes", set()).update(requirement)
    document["components"] = {
        kind: {name: value for name, value in entries.items() if name in kept.get(kind, set())}
        for kind, entries in components.items()
        if kept.get(kind)
    }
    return document


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _op_objects(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [item[m] for m in _METHODS if m in item]


@functools.cache
def document_bytes(service: str) -> bytes:
    """``service``'s document as JSON, built once."""
    return json.dumps(service_document(service), separators=(",", ":")).encode()


def add_openapi_route(app: web.Application, service: str) -> None:
    """Serve ``service``'s document at ``GET /openapi.json`` (no credentials needed)."""
    body = document_bytes(service)

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_get(PATH, openapi)


def main(argv: list[str]) -> None:
    """Print the document: the whole one, or one service's."""
    document = service_document(argv[0]) if argv else full_document()
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
