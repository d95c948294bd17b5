"""Leaders' insights on the record's HTTP port: ``GET /v1/insights`` answers the
numbers of ``warmline insights --format json``, and ``GET /insights`` is the
console's supervisor page, which polls them.

Authenticated like the console (``Authorization: Bearer <agent token>``). A
token sees its own tenant only, and only its queues: the totals are over those
queues, and conversations never escalated (which belong to no queue) are shown
only to a token of every queue (``*``). Groups smaller than
``WARMLINE_RECORD__INSIGHTS_MIN_GROUP`` conversations are suppressed
(:mod:`warmline.insights.privacy`); nothing names an agent.
"""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp import web

from warmline.insights.aggregates import WindowError, insights, make_window
from warmline.notification.core import Refusal, Refused
from warmline.notification.http_api import refusal_response
from warmline.notification.tokens import ALL_QUEUES, AgentDirectory
from warmline.notification.web import page_response, signed_in_from_console
from warmline.record.database import RecordDatabase
from warmline.record.doors import agent_scope, read_record


class InsightsHttpApi:
    """aiohttp routes of the leaders' insights."""

    def __init__(
        self,
        database: RecordDatabase | Path,
        agents: AgentDirectory,
        min_group: int,
        console_url: str | None = None,
    ) -> None:
        self._database = RecordDatabase.of(database)
        self._agents = agents
        self._min_group = min_group
        self._page = signed_in_from_console("insights.html", console_url)

    def add_routes(self, app: web.Application) -> None:
        """Register the insights routes on the record's application."""
        app.router.add_get("/insights", self.page)
        app.router.add_get("/v1/insights", self.numbers)

    async def page(self, _: web.Request) -> web.Response:
        """The supervisor page."""
        return page_response(self._page)

    async def numbers(self, request: web.Request) -> web.Response:
        """The window's aggregates over the token's queues."""
        query = request.query
        try:
            scope = agent_scope(self._agents, request)
            tenant = query.get("tenant") or scope.tenant_id
            if tenant != scope.tenant_id:
                raise Refused(
                    Refusal.PERMISSION_DENIED, "a token sees its own tenant's insights only"
                )
            try:
                window = make_window(
                    tenant, query.get("from"), query.get("to"), bucket=query.get("bucket", "auto"),
                    min_group=self._min_group, now=time.time(),
                    queues=None if ALL_QUEUES in scope.queues else scope.queues,
                )  # fmt: skip
            except WindowError as exc:
                raise Refused(Refusal.INVALID_ARGUMENT, str(exc), exc.field) from exc
            body = await read_record(self._database, lambda conn: insights(conn, window))
        except Refused as refused:
            return refusal_response(refused)
        return web.json_response(body, headers={"Cache-Control": "no-store"})
