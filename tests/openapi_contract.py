"""Holds HTTP exchanges against the OpenAPI document, and counts which documented answers were seen.

A test sends real requests; :meth:`Contract.response` validates each answer's
status, media type, headers and body against the operation's documented
response, :meth:`Contract.request` a request body against its schema, and
:meth:`Contract.sse_event` a stream event against ``x-sse-events``. What a
running service cannot be made to answer (Kafka refusing a write) is produced
by the real handlers over a stubbed core in ``tests/unit/test_openapi.py``:
:data:`STUBBED` names those answers, so together the tests see every one.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from warmline.common.openapi import service_document

URI = "urn:warmline:openapi"
METHODS = ("get", "put", "post", "delete", "patch")

# (service, method, path, status) answered only with Kafka failing (or, for the record,
# before its database exists): seen in the unit test.
STUBBED = {
    ("ingestion", "post", "/v1/events", "503"),
    ("ingestion", "post", "/v1/webhooks/{platform}/{tenant}", "503"),
    ("notification", "get", "/v1/stream", "503"),
    ("notification", "post", "/v1/claim", "503"),
    ("notification", "post", "/v1/ack", "503"),
    ("notification", "post", "/v1/feedback", "503"),
    ("notification", "post", "/v1/reveal", "503"),
    ("notification", "post", "/v1/pause", "503"),
    ("notification", "post", "/v1/resume", "503"),
    ("record", "get", "/v1/audit/{conversation_id}", "503"),
    ("record", "get", "/v1/practice/scenarios", "503"),
    ("record", "get", "/v1/practice/scenarios/{scenario_id}", "503"),
    ("record", "post", "/v1/practice/review", "503"),
    ("record", "post", "/v1/practice/shares", "503"),
    ("record", "get", "/v1/practice/shares", "503"),
    ("record", "delete", "/v1/practice/shares/{share_id}", "503"),
    ("record", "get", "/v1/practice/shared", "503"),
    ("record", "get", "/v1/insights", "503"),
}


def pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901) into the document."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class Contract:
    """One service's document, and the answers a test has checked against it."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.document = service_document(service)
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(URI, resource)
        self.seen: set[tuple[str, str, str]] = set()

    def documented(self) -> set[tuple[str, str, str]]:
        """Every (method, path, status) the document lists."""
        return {
            (method, path, status)
            for path, item in self.document["paths"].items()
            for method in METHODS
            if method in item
            for status in item[method]["responses"]
        }

    def unseen(self) -> set[tuple[str, str, str]]:
        """Documented answers neither seen here nor produced by the stubbed-core test."""
        stubbed = {(m, p, s) for service, m, p, s in STUBBED if service == self.service}
        return self.documented() - self.seen - stubbed

    def validate(self, at: str, instance: object) -> None:
        """Validate ``instance`` against the schema at JSON pointer ``at``; fail naming it."""
        validator = Draft202012Validator({"$ref": f"{URI}#{at}"}, registry=self._registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{at}: {[f'{list(e.path)}: {e.message}' for e in errors[:5]]}"

    def _resolve(self, node: dict[str, Any], at: str) -> tuple[dict[str, Any], str]:
        """A response object and its pointer, through a ``$ref`` to ``components/responses``."""
        ref = node.get("$ref")
        if ref is None:
            return node, at
        assert ref.startswith("#/"), ref
        target: Any = self.document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target, ref[1:]

    def request(self, method: str, path: str, body: object) -> None:
        """Validate a JSON request body against the operation's request schema."""
        operation = self.document["paths"][path][method]
        assert "application/json" in operation["requestBody"]["content"], (method, path)
        self.validate(
            pointer("paths", path, method, "requestBody", "content", "application/json", "schema"),
            body,
        )

    def response(
        self,
        method: str,
        path: str,
        status: int,
        content_type: str,
        headers: dict[str, str],
        body: bytes,
    ) -> Any:
        """Check one answer against the document; its parsed JSON (or text)."""
        responses = self.document["paths"][path][method]["responses"]
        assert str(status) in responses, f"{method} {path} answered {status}: not documented"
        response, at = self._resolve(
            responses[str(status)], pointer("paths", path, method, "responses", str(status))
        )
        media = content_type.split(";")[0].strip()
        assert media in response.get("content", {}), f"{method} {path} {status}: {media}"
        for name, header in response.get("headers", {}).items():
            header, header_at = self._resolve(header, f"{at}/headers/{name}")
            if header.get("required"):
                assert name in headers, f"{method} {path} {status}: no {name} header"
            if name in headers:
                self.validate(f"{header_at}/schema", headers[name])
        parsed: Any = json.loads(body) if media == "application/json" else body.decode()
        self.validate(f"{at}{pointer('content', media, 'schema')}", parsed)
        self.seen.add((method, path, str(status)))
        return parsed

    def sse_event(self, event: str, data: str) -> Any:
        """Check one Server-Sent Event of the stream against ``x-sse-events``."""
        at = pointer(
            "paths", "/v1/stream", "get", "responses", "200", "content", "text/event-stream"
        )
        media = self.document["paths"]["/v1/stream"]["get"]["responses"]["200"]["content"]
        assert event in media["text/event-stream"]["x-sse-events"], f"undocumented event {event}"
        parsed = json.loads(data)
        self.validate(f"{at}{pointer('x-sse-events', event)}", parsed)
        return parsed

    async def call(
        self, http: aiohttp.ClientSession, method: str, path: str, url: str, **kwargs: Any
    ) -> tuple[int, Any]:
        """Send one request to ``url`` (an instance of ``path``); its checked status and body."""
        async with http.request(method.upper(), url, **kwargs) as reply:
            body = await reply.read()
            headers = dict(reply.headers)
            parsed = self.response(method, path, reply.status, reply.content_type, headers, body)
            return reply.status, parsed
