"""The browser door: the console page, an SSE stream, and JSON actions.

``GET /`` serves the console. ``GET /v1/stream?queues=a,b`` is a
Server-Sent-Events stream: first a ``subscribed`` event naming the agent (so
the page tells its own claims from others'), then ``delivery``, ``claimed`` and
``heartbeat`` events, ``pause`` (the agent's own pause) and, for consoles of
the supervisor queue, ``capacity`` and ``overload``. Each delivery's SSE id is
its resume cursor, so a reconnecting client sends it back as
``Last-Event-ID``; a page that connects without one (after a reload) resumes
from its agent's last ack, with the escalations still open before it.
``POST /v1/claim``, ``/v1/ack``, ``/v1/feedback``, ``/v1/reveal``, ``/v1/pause``
and ``/v1/resume`` take JSON.
Every call carries the agent token as ``Authorization: Bearer <token>``; the
page reads its stream with ``fetch`` so the token never sits in a URL.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from warmline.common.credentials import bearer_token
from warmline.common.openapi import add_openapi_route
from warmline.common.unicode import is_unicode
from warmline.notification.core import NotificationCore, Refusal, Refused
from warmline.notification.grpc_api import heartbeat, next_item, observe_delivery
from warmline.notification.hub import CLOSE, Response, Subscription, pause_state
from warmline.notification.tokens import AgentScope
from warmline.notification.web import page_bytes, page_response, with_meta
from warmline.v1 import feedback_pb2, notification_pb2

_STATUS = {
    Refusal.UNAUTHENTICATED: 401,
    Refusal.PERMISSION_DENIED: 403,
    Refusal.INVALID_ARGUMENT: 400,
    Refusal.NOT_FOUND: 404,
    Refusal.FAILED_PRECONDITION: 409,
    Refusal.UNAVAILABLE: 503,
}
_MAX_BODY_BYTES = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refusal_response(refused: Refused) -> web.Response:
    """The HTTP response of a refusal."""
    body: dict[str, Any] = {"error": refused.reason.value, "message": refused.message}
    if refused.field:
        body["field"] = refused.field
    return web.json_response(body, status=_STATUS[refused.reason])


def as_json(message: Message) -> str:
    """A protobuf message in its JSON mapping, on one line."""
    return json.dumps(
        json_format.MessageToDict(message, preserving_proto_field_name=True),
        separators=(",", ":"),
    )


def sse_event(message: Response) -> bytes:
    """One stream response as an SSE event; a delivery's id is its resume cursor."""
    kind = message.WhichOneof("payload") or "heartbeat"
    lines = f"event: {kind}\n"
    if kind == "delivery" and message.delivery.cursor:
        lines += f"id: {message.delivery.cursor}\n"
    return f"{lines}data: {as_json(getattr(message, kind))}\n\n".encode()


class ConsoleHttpApi:
    """aiohttp routes of the console bridge."""

    def __init__(
        self, core: NotificationCore, heartbeat_s: float, record_url: str | None = None
    ) -> None:
        self.core = core
        self.heartbeat_s = heartbeat_s
        # The page links to the record's practice and insights pages only when it is known.
        self._page = with_meta(
            page_bytes("console.html"), "warmline-record-url", (record_url or "").rstrip("/")
        )

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=_MAX_BODY_BYTES)
        app.router.add_get("/", self.page)
        app.router.add_get("/v1/stream", self.stream)
        app.router.add_post("/v1/claim", self._action(self.claim))
        app.router.add_post("/v1/ack", self._action(self.ack))
        app.router.add_post("/v1/feedback", self._action(self.feedback))
        app.router.add_post("/v1/reveal", self._action(self.reveal))
        app.router.add_post("/v1/pause", self._action(self.pause))
        app.router.add_post("/v1/resume", self._action(self.resume))
        add_openapi_route(app, "notification")
        return app

    async def page(self, _: web.Request) -> web.Response:
        """The console page."""
        return page_response(self._page)

    def _scope(self, request: web.Request) -> AgentScope:
        return self.core.authenticate(bearer_token(request.headers.get("Authorization")))

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """The console's SSE stream."""
        cursor = request.headers.get("Last-Event-ID") or request.query.get("cursor", "")
        try:
            scope = self._scope(request)
            sub = self.core.subscribe(
                scope,
                queues=[q for q in request.query.get("queues", "").split(",") if q],
                agent_id=request.query.get("agent_id", ""),
                tenant_id=request.query.get("tenant_id", ""),
                resume_cursor=cursor,
                api="sse",
                resend_open=request.query.get("resend_open") == "1",
            )
        except Refused as refused:
            return refusal_response(refused)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # proxies must not hold events back
            }
        )
        try:
            await response.prepare(request)
            await response.write(self._hello(sub))
            await self._relay(sub, response)
        except ConnectionError:
            pass  # the browser went away; the cursor lets it resume
        finally:
            self.core.hub.unsubscribe(sub)
        return response

    def _hello(self, sub: Subscription) -> bytes:
        """The first event: who the page is signed in as, and how often it hears from us."""
        hello = {
            "agent_id": sub.agent_id,
            "tenant_id": sub.scope.tenant_id,
            "queues": sorted(sub.queues),
            "heartbeat_s": self.heartbeat_s,
            "supervisor": self.core.settings.notification.supervisor_queue in sub.queues,
        }
        return f"event: subscribed\ndata: {json.dumps(hello, separators=(',', ':'))}\n\n".encode()

    async def _relay(self, sub: Subscription, response: web.StreamResponse) -> None:
        """Write the subscription's deliveries, claims and heartbeats until it closes."""
        while True:
            item = await next_item(sub, self.heartbeat_s)
            if item is CLOSE:
                await response.write(b"event: closed\ndata: {}\n\n")
                return
            if item is None:
                await response.write(sse_event(heartbeat()))
                continue
            if item.response.WhichOneof("payload") == "delivery":
                observe_delivery(item)
            await response.write(sse_event(item.response))

    def _action(
        self, handle: Callable[[AgentScope, dict[str, Any]], Awaitable[dict[str, Any]]]
    ) -> Handler:
        async def route(request: web.Request) -> web.StreamResponse:
            try:
                scope = self._scope(request)
                try:
                    body = await request.json()
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise Refused(
                        Refusal.INVALID_ARGUMENT, f"body: not JSON ({exc})", "body"
                    ) from exc
                if not isinstance(body, dict):
                    raise Refused(Refusal.INVALID_ARGUMENT, "body: expected a JSON object", "body")
                return web.json_response(await handle(scope, body))
            except Refused as refused:
                return refusal_response(refused)

        return route

    async def claim(self, scope: AgentScope, body: dict[str, Any]) -> dict[str, Any]:
        """``{"decision_id"}`` -> ``{"granted", "holder_agent_id"}``."""
        outcome = await self.core.claim(scope, _text(body, "agent_id"), _text(body, "decision_id"))
        return {"granted": outcome.granted, "holder_agent_id": outcome.holder_agent_id}

    async def ack(self, scope: AgentScope, body: dict[str, Any]) -> dict[str, Any]:
        """``{"cursor"}`` -> ``{}``."""
        await self.core.ack(scope, _text(body, "agent_id"), _text(body, "cursor"))
        return {}

    async def feedback(self, scope: AgentScope, body: dict[str, Any]) -> dict[str, Any]:
        """``{"decision_id", "verdict", "comment"}`` -> ``{"feedback_id"}``."""
        name = _text(body, "verdict").upper()
        if not name.startswith("VERDICT_"):
            name = f"VERDICT_{name}"  # the page sends "useful", "false_alarm", ...
        verdict = dict(feedback_pb2.Verdict.items()).get(name, feedback_pb2.VERDICT_UNSPECIFIED)
        feedback_id = await self.core.feedback(
            scope,
            _text(body, "agent_id"),
            _text(body, "decision_id"),
            verdict,
            _text(body, "comment"),
        )
        return {"feedback_id": feedback_id}

    async def reveal(self, scope: AgentScope, body: dict[str, Any]) -> dict[str, Any]:
        """``{"decision_id"}`` -> ``{"text"}``."""
        text = await self.core.reveal(scope, _text(body, "agent_id"), _text(body, "decision_id"))
        return {"text": text}

    async def pause(self, scope: AgentScope, body: dict[str, Any]) -> dict[str, Any]:
        """``{"duration_s", "all_offers"}`` -> the pause's state."""
        duration = body.get("duration_s", 0)
        all_offers = body.get("all_offers", False)
        if not isinstance(duration, int) or isinstance(duration, bool):
            raise Refused(
                Refusal.INVALID_ARGUMENT, "duration_s: expected whole seconds", "duration_s"
            )
        if not isinstance(all_offers, bool):
            raise Refused(
                Refusal.INVALID_ARGUMENT, "all_offers: expected true or false", "all_offers"
            )
        pause = await self.core.pause(scope, _text(body, "agent_id"), duration, all_offers)
        return state_json(pause_state(pause).pause)

    async def resume(self, scope: AgentScope, body: dict[str, Any]) -> dict[str, Any]:
        """``{}`` -> the (ended) pause's state."""
        await self.core.resume(scope, _text(body, "agent_id"))
        return {"paused": False}


def state_json(state: notification_pb2.PauseState) -> dict[str, Any]:
    """A pause state in its JSON mapping (``paused`` always present)."""
    shown: dict[str, Any] = {"paused": state.paused, "all_offers": state.all_offers}
    if state.paused:
        shown["until"] = json_format.MessageToDict(state)["until"]
    return shown


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field, "")
    if not isinstance(value, str):
        raise Refused(Refusal.INVALID_ARGUMENT, f"{field}: expected a string", field)
    if not is_unicode(value):
        raise Refused(
            Refusal.INVALID_ARGUMENT, f"{field}: not valid Unicode (a lone surrogate)", field
        )
    return value
