"""Agents' door to empathy practice, on the record's HTTP port.

``GET /practice`` is the console's practice page; ``GET /v1/practice/scenarios``
lists the scenarios of the token's tenant and queues, ``GET
/v1/practice/scenarios/{scenario_id}`` shows one up to its escalation, and
``POST /v1/practice/review`` checks the opening an agent wrote for it, and
with a scoring service configured says how caring it reads to the emotion model
(:mod:`warmline.practice.model_reading`).

Authenticated like the console (``Authorization: Bearer <agent token>``). The
review goes back to the agent who asked and nowhere else: the reply and its
checks are neither stored nor logged, and no route returns them later, so a
supervisor sees a practice result only if the agent shares it
(:mod:`warmline.record.practice_shares_http`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from warmline.common.metrics import RECORD_PRACTICE_ROUNDS
from warmline.common.unicode import is_unicode
from warmline.notification.core import Refusal, Refused
from warmline.notification.http_api import refusal_response
from warmline.notification.tokens import AgentDirectory, AgentScope
from warmline.notification.web import page_response, signed_in_from_console
from warmline.practice.checks import CHECKS, review_reply
from warmline.practice.model_reading import ReplyReader
from warmline.record.database import Connection, RecordDatabase
from warmline.record.doors import agent_scope, read_record, write_record
from warmline.record.practice import list_scenarios, read_scenario

#: The longest opening an agent may send for review.
MAX_REPLY_CHARS = 2_000
#: Said with every review, so the agent knows where it goes.
PRIVATE = (
    "Only you see this: Warmline keeps neither your reply nor this feedback, "
    "unless you share it with your supervisor."
)
T = TypeVar("T")


class PracticeHttpApi:
    """aiohttp routes of empathy practice."""

    def __init__(
        self,
        database: RecordDatabase | Path,
        agents: AgentDirectory,
        reader: ReplyReader | None = None,
        console_url: str | None = None,
    ) -> None:
        self._database = RecordDatabase.of(database)
        self._agents = agents
        self._reader = reader
        self._page = signed_in_from_console("practice.html", console_url)

    def add_routes(self, app: web.Application) -> None:
        """Register the practice routes on the record's application."""
        app.router.add_get("/practice", self.page)
        app.router.add_get("/v1/practice/scenarios", self.scenarios)
        app.router.add_get("/v1/practice/scenarios/{scenario_id}", self.scenario)
        app.router.add_post("/v1/practice/review", self.review)

    async def page(self, _: web.Request) -> web.Response:
        """The practice page."""
        return page_response(self._page)

    def scope(self, request: web.Request) -> AgentScope:
        """The scope of the request's agent token, or UNAUTHENTICATED."""
        return agent_scope(self._agents, request)

    async def read(self, read: Callable[[Connection], T]) -> T:
        """``read`` on a read-only connection, off the event loop (:func:`read_record`)."""
        return await read_record(self._database, read)

    async def write(self, write: Callable[[Connection], T]) -> T:
        """``write`` in one transaction beside the record's writer, off the event loop
        (:func:`write_record`)."""
        return await write_record(self._database, write)

    async def scenario_for(self, scope: AgentScope, scenario_id: str) -> dict[str, Any]:
        """The scenario, if the token's tenant and queues may see it; else NOT_FOUND."""
        found = await self.read(lambda c: read_scenario(c, scope.tenant_id, scenario_id))
        if found is None or not scope.allows(found["queue"]):
            raise Refused(Refusal.NOT_FOUND, f"no practice scenario {scenario_id!r}")
        return found

    async def caring(self, reply: str) -> float | None:
        """How caring ``reply`` reads to the emotion model, when a scoring service is set."""
        return None if self._reader is None else await self._reader.caring(reply)

    async def scenarios(self, request: web.Request) -> web.Response:
        """The scenarios of the token's tenant and queues, newest first."""
        try:
            scope = self.scope(request)
            listed = await self.read(lambda c: list_scenarios(c, scope.tenant_id))
        except Refused as refused:
            return refusal_response(refused)
        shown = [s for s in listed if scope.allows(s["queue"])]
        return web.json_response({"scenarios": shown}, headers={"Cache-Control": "no-store"})

    async def scenario(self, request: web.Request) -> web.Response:
        """One scenario, up to the escalation, without its example opening."""
        try:
            found = await self.scenario_for(self.scope(request), request.match_info["scenario_id"])
        except Refused as refused:
            return refusal_response(refused)
        del found["example_opening"]  # shown after the agent wrote their own
        return web.json_response(found, headers={"Cache-Control": "no-store"})

    async def review(self, request: web.Request) -> web.Response:
        """``{"scenario_id", "reply"}`` -> the checks of the reply and one example opening."""
        try:
            scope = self.scope(request)
            body = await json_object(request)
            scenario_id, reply = text_field(body, "scenario_id"), reply_field(body)
            found = await self.scenario_for(scope, scenario_id)
        except Refused as refused:
            outcome = "not_found" if refused.reason is Refusal.NOT_FOUND else "refused"
            RECORD_PRACTICE_ROUNDS.labels(outcome).inc()
            return refusal_response(refused)
        RECORD_PRACTICE_ROUNDS.labels("reviewed").inc()
        checks = review_reply(reply)
        caring = await self.caring(reply)
        body = {
            "scenario_id": scenario_id,
            "checks": [{"check": c.name, "passed": c.passed, "note": c.note} for c in checks],
            "passed": sum(c.passed for c in checks),
            "of": len(CHECKS),
            "caring": caring,
            "example_opening": found["example_opening"],
            "private": PRIVATE,
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's body, a JSON object, or INVALID_ARGUMENT naming ``body``."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Refused(Refusal.INVALID_ARGUMENT, f"body: not JSON ({exc})", "body") from exc
    if not isinstance(body, dict):
        raise Refused(Refusal.INVALID_ARGUMENT, "body: expected a JSON object", "body")
    return body


def text_field(body: dict[str, Any], field: str) -> str:
    """A string field of ``body`` (empty when absent), or INVALID_ARGUMENT naming it."""
    value = body.get(field, "")
    if not isinstance(value, str) or not is_unicode(value):
        raise Refused(Refusal.INVALID_ARGUMENT, f"{field}: expected a string", field)
    return value


def reply_field(body: dict[str, Any]) -> str:
    """The agent's opening of ``body``, stripped: 1 to :data:`MAX_REPLY_CHARS` characters."""
    reply = text_field(body, "reply").strip()
    if not reply or len(reply) > MAX_REPLY_CHARS:
        raise Refused(
            Refusal.INVALID_ARGUMENT,
            f"reply: 1 to {MAX_REPLY_CHARS} characters, not {len(reply)}",
            "reply",
        )
    return reply
