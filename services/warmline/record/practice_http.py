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
supervisor sees a practice result only if the agent shows it to them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from warmline.common.credentials import bearer_token
from warmline.common.metrics import RECORD_PRACTICE_ROUNDS
from warmline.common.unicode import is_unicode
from warmline.notification.core import Refusal, Refused, authenticate
from warmline.notification.http_api import refusal_response
from warmline.notification.tokens import AgentDirectory, AgentScope
from warmline.notification.web import page_bytes, page_response
from warmline.practice.checks import CHECKS, review_reply
from warmline.practice.model_reading import ReplyReader
from warmline.record.database import Connection, RecordDatabase, RecordUnavailable
from warmline.record.practice import list_scenarios, read_scenario

#: The longest opening an agent may send for review.
MAX_REPLY_CHARS = 2_000
#: Said with every review, so the agent knows where it goes.
PRIVATE = "Only you see this: Warmline keeps neither your reply nor this feedback."
T = TypeVar("T")


class PracticeHttpApi:
    """aiohttp routes of empathy practice."""

    def __init__(
        self,
        database: RecordDatabase | Path,
        agents: AgentDirectory,
        reader: ReplyReader | None = None,
    ) -> None:
        self._database = RecordDatabase.of(database)
        self._agents = agents
        self._reader = reader
        self._page = page_bytes("practice.html")

    def add_routes(self, app: web.Application) -> None:
        """Register the practice routes on the record's application."""
        app.router.add_get("/practice", self.page)
        app.router.add_get("/v1/practice/scenarios", self.scenarios)
        app.router.add_get("/v1/practice/scenarios/{scenario_id}", self.scenario)
        app.router.add_post("/v1/practice/review", self.review)

    async def page(self, _: web.Request) -> web.Response:
        """The practice page."""
        return page_response(self._page)

    def _scope(self, request: web.Request) -> AgentScope:
        return authenticate(self._agents, bearer_token(request.headers.get("Authorization")))

    async def _read(self, read: Callable[[Connection], T]) -> T:
        def run() -> T:
            try:
                conn = self._database.connect(read_only=True)
            except (sqlite3.OperationalError, RecordUnavailable) as exc:
                raise Refused(Refusal.UNAVAILABLE, "the record database is not there yet") from exc
            try:
                return read(conn)
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    async def _scenario(self, scope: AgentScope, scenario_id: str) -> dict[str, Any]:
        found = await self._read(lambda c: read_scenario(c, scope.tenant_id, scenario_id))
        if found is None or not scope.allows(found["queue"]):
            raise Refused(Refusal.NOT_FOUND, f"no practice scenario {scenario_id!r}")
        return found

    async def scenarios(self, request: web.Request) -> web.Response:
        """The scenarios of the token's tenant and queues, newest first."""
        try:
            scope = self._scope(request)
            listed = await self._read(lambda c: list_scenarios(c, scope.tenant_id))
        except Refused as refused:
            return refusal_response(refused)
        shown = [s for s in listed if scope.allows(s["queue"])]
        return web.json_response({"scenarios": shown}, headers={"Cache-Control": "no-store"})

    async def scenario(self, request: web.Request) -> web.Response:
        """One scenario, up to the escalation, without its example opening."""
        try:
            found = await self._scenario(self._scope(request), request.match_info["scenario_id"])
        except Refused as refused:
            return refusal_response(refused)
        del found["example_opening"]  # shown after the agent wrote their own
        return web.json_response(found, headers={"Cache-Control": "no-store"})

    async def review(self, request: web.Request) -> web.Response:
        """``{"scenario_id", "reply"}`` -> the checks of the reply and one example opening."""
        try:
            scope = self._scope(request)
            body = await _json_object(request)
            scenario_id, reply = _text(body, "scenario_id"), _text(body, "reply").strip()
            if not reply or len(reply) > MAX_REPLY_CHARS:
                raise Refused(
                    Refusal.INVALID_ARGUMENT,
                    f"reply: 1 to {MAX_REPLY_CHARS} characters, not {len(reply)}",
                    "reply",
                )
            found = await self._scenario(scope, scenario_id)
        except Refused as refused:
            outcome = "not_found" if refused.reason is Refusal.NOT_FOUND else "refused"
            RECORD_PRACTICE_ROUNDS.labels(outcome).inc()
            return refusal_response(refused)
        RECORD_PRACTICE_ROUNDS.labels("reviewed").inc()
        checks = review_reply(reply)
        caring = None if self._reader is None else await self._reader.caring(reply)
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


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Refused(Refusal.INVALID_ARGUMENT, f"body: not JSON ({exc})", "body") from exc
    if not isinstance(body, dict):
        raise Refused(Refusal.INVALID_ARGUMENT, "body: expected a JSON object", "body")
    return body


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field, "")
    if not isinstance(value, str) or not is_unicode(value):
        raise Refused(Refusal.INVALID_ARGUMENT, f"{field}: expected a string", field)
    return value
