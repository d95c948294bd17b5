"""HTTP JSON door: ``POST /v1/events`` and platform webhooks.

Same validation, same reason codes as gRPC. A single event is answered with
the HTTP status of its outcome; a batch (``{"events": [...]}``) with 200 and one
acknowledgement per event, in order.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from aiohttp import web
from google.protobuf import json_format

from warmline.common.credentials import bearer_token
from warmline.common.metrics import INGEST_ACK_SECONDS, INGEST_AUTH_FAILURES
from warmline.common.openapi import add_openapi_route
from warmline.common.tenants import TenantDirectory
from warmline.ingestion.adapters import get_adapter
from warmline.ingestion.adapters.base import WebhookRejected
from warmline.ingestion.core import (
    ACCEPTED,
    DUPLICATE,
    INVALID_ARGUMENT,
    RATE_LIMITED,
    REJECTED,
    RETRY,
    TENANT_MISMATCH,
    IngestCore,
)
from warmline.ingestion.json_event import parse_event
from warmline.v1 import events_pb2, ingest_pb2

_MAX_BODY_BYTES = 16 * 1024 * 1024


def _error(status: int, error: str, message: str, **extra: Any) -> web.Response:
    headers = {}
    if "retry_after_ms" in extra:
        headers["Retry-After"] = str(max(1, math.ceil(extra["retry_after_ms"] / 1000)))
    return web.json_response(
        {"error": error, "message": message, **extra}, status=status, headers=headers
    )


def ack_json(ack: ingest_pb2.EventAck) -> dict[str, Any]:
    """An acknowledgement in the proto's JSON mapping."""
    return json_format.MessageToDict(ack, preserving_proto_field_name=True)


def _not_json(request: web.Request) -> web.Response | None:
    """415 unless the body is declared JSON (``application/json`` or ``*/*+json``)."""
    kind = request.content_type
    if kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json")):
        return None
    return _error(
        415,
        "unsupported_media_type",
        f"Content-Type must be application/json, not {request.headers.get('Content-Type', '')[:60]!r}",
    )


def single_response(ack: ingest_pb2.EventAck) -> web.Response:
    """The HTTP answer for one event's acknowledgement."""
    body = ack_json(ack)
    if ack.status == ACCEPTED:
        return web.json_response({"ack": body}, status=202)
    if ack.status == DUPLICATE:
        return web.json_response({"ack": body}, status=200)
    if ack.status == REJECTED and ack.reason == TENANT_MISMATCH:
        return _error(403, TENANT_MISMATCH, "tenant_id differs from the credential's tenant")
    if ack.status == REJECTED:
        summary = "; ".join(f"{v.field}: {v.description}" for v in ack.field_violations)
        return _error(
            400,
            INVALID_ARGUMENT,
            f"the event is invalid: {summary}",
            field_violations=body.get("field_violations", []),
        )
    status = 429 if ack.reason == RATE_LIMITED else 503
    return _error(status, ack.reason, "retry later", retry_after_ms=ack.retry_after_ms)


class IngestHttpApi:
    """The aiohttp application of the ingestion service."""

    def __init__(self, core: IngestCore, tenants: TenantDirectory) -> None:
        self._core = core
        self._tenants = tenants

    def app(self) -> web.Application:
        """Routes: events, webhooks, and their OpenAPI document."""
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        app.router.add_post("/v1/events", self.post_events)
        app.router.add_post("/v1/webhooks/{platform}/{tenant}", self.post_webhook)
        add_openapi_route(app, "ingestion")
        return app

    async def post_events(self, request: web.Request) -> web.Response:
        """``POST /v1/events``: one event, or ``{"events": [...]}``."""
        started = time.perf_counter()
        token = bearer_token(request.headers.get("Authorization"))
        tenant = self._tenants.tenant_for_key(token) if token else None
        if tenant is None:
            INGEST_AUTH_FAILURES.labels("http").inc()
            return _error(
                401, "unauthenticated", "missing or unknown API key (Authorization: Bearer <key>)"
            )
        if (refused := _not_json(request)) is not None:
            return refused
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return _error(400, "invalid_json", f"the body is not JSON: {exc}")
        batch = isinstance(body, dict) and "events" in body
        raw_events = body["events"] if batch else [body]
        if not isinstance(raw_events, list):
            return _error(400, INVALID_ARGUMENT, "'events' must be a list")
        if len(raw_events) > self._core.max_batch_events:
            return _error(
                413, "batch_too_large", f"at most {self._core.max_batch_events} events per request"
            )
        acks = await self._ingest_raw(tenant, raw_events)
        INGEST_ACK_SECONDS.labels("http").observe(time.perf_counter() - started)
        if batch:
            return web.json_response({"acks": [ack_json(a) for a in acks]})
        return single_response(acks[0])

    async def _ingest_raw(self, tenant: str, raw_events: list[object]) -> list[ingest_pb2.EventAck]:
        parsed = [parse_event(raw) for raw in raw_events]
        events = [p for p in parsed if isinstance(p, events_pb2.InteractionEvent)]
        accepted = iter(await self._core.ingest(tenant, events))
        return [p if isinstance(p, ingest_pb2.EventAck) else next(accepted) for p in parsed]

    async def post_webhook(self, request: web.Request) -> web.Response:
        """``POST /v1/webhooks/{platform}/{tenant}``: a platform's own webhook payload."""
        started = time.perf_counter()
        tenant = request.match_info["tenant"]
        try:
            adapter = get_adapter(request.match_info["platform"])
        except WebhookRejected as exc:
            return _error(404, exc.reason, exc.detail)
        body = await request.read()
        secret = self._tenants.webhook_secret(tenant, adapter.name)
        try:
            if secret is None:
                raise WebhookRejected(
                    "unauthenticated", f"no {adapter.name} webhook secret for this tenant"
                )
            adapter.verify(request.headers, body, secret)
        except WebhookRejected as exc:
            INGEST_AUTH_FAILURES.labels("webhook").inc()
            return _error(401, "unauthenticated", exc.detail)
        if (refused := _not_json(request)) is not None:
            return refused
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise WebhookRejected("invalid_payload", "the body must be a JSON object")
            events = adapter.to_events(payload)
        except UnicodeEncodeError:
            # json.loads takes "\ud800"; the event's string fields do not.
            return _error(
                400,
                "invalid_payload",
                "a string in the payload is not valid Unicode (a lone surrogate such as \\ud800)",
            )
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return _error(400, "invalid_json", f"the body is not JSON: {exc}")
        except WebhookRejected as exc:
            return _error(400, exc.reason, exc.detail)
        acks = await self._core.ingest(tenant, events)
        INGEST_ACK_SECONDS.labels("webhook").observe(time.perf_counter() - started)
        body_json = {"acks": [ack_json(a) for a in acks]}
        if retry := [a for a in acks if a.status == RETRY]:
            # Platforms retry webhooks on 5xx; accepted events de-duplicate on retry.
            return _error(
                503,
                retry[0].reason,
                "retry later",
                retry_after_ms=retry[0].retry_after_ms,
                **body_json,
            )
        if any(a.status == REJECTED for a in acks):
            return web.json_response(body_json, status=422)
        return web.json_response(body_json)
