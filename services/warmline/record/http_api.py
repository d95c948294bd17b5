"""The supervisors' door to the record: ``GET /v1/audit/{conversation_id}``; the
same application serves agents' empathy practice (:mod:`warmline.record.practice_http`),
what they share of it (:mod:`warmline.record.practice_shares_http`) and leaders'
insights (:mod:`warmline.record.insights_http`).

Authenticated like the agent console: ``Authorization: Bearer <token>`` with a
token of the console's token file (:mod:`warmline.notification.tokens`). A token
sees the conversations of its own tenant that reached one of its queues (``*``:
all of them); any other conversation answers 404, as one that does not exist.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from warmline.common.metrics import RECORD_AUDITS
from warmline.common.openapi import add_openapi_route
from warmline.notification.core import Refusal, Refused
from warmline.notification.http_api import refusal_response
from warmline.notification.tokens import AgentDirectory
from warmline.practice.model_reading import ReplyReader
from warmline.record.audit import conversation_audit
from warmline.record.database import RecordDatabase
from warmline.record.doors import agent_scope, read_record
from warmline.record.insights_http import InsightsHttpApi
from warmline.record.practice_http import PracticeHttpApi
from warmline.record.practice_shares_http import PracticeSharesHttpApi

#: The largest request body (a practice review), as the console's actions.
MAX_BODY_BYTES = 64 * 1024


class AuditHttpApi:
    """aiohttp routes of the audit endpoint."""

    def __init__(
        self,
        database: RecordDatabase | Path,
        agents: AgentDirectory | None,
        reader: ReplyReader | None = None,
        *,
        insights_min_group: int = 5,
        supervisor_queue: str = "supervisor",
        console_url: str | None = None,
    ) -> None:
        self._database = RecordDatabase.of(database)
        self._agents = agents or AgentDirectory({})
        self._reader = reader
        self._insights_min_group = insights_min_group
        self._supervisor_queue = supervisor_queue
        self._console_url = console_url

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/v1/audit/{conversation_id}", self.audit)
        practice = PracticeHttpApi(self._database, self._agents, self._reader, self._console_url)
        practice.add_routes(app)
        PracticeSharesHttpApi(practice, self._agents, self._supervisor_queue).add_routes(app)
        InsightsHttpApi(
            self._database, self._agents, self._insights_min_group, self._console_url
        ).add_routes(app)
        add_openapi_route(app, "record")
        return app

    async def audit(self, request: web.Request) -> web.Response:
        """Every decision of the conversation, as ``warmline audit --format json`` prints it."""
        conversation_id = request.match_info["conversation_id"]
        try:
            scope = agent_scope(self._agents, request)
            decisions = await read_record(
                self._database,
                lambda conn: conversation_audit(conn, conversation_id, scope.tenant_id),
            )
            if not any(scope.allows(d["queue"]) for d in decisions):
                raise Refused(
                    Refusal.NOT_FOUND, f"no recorded decision for conversation {conversation_id!r}"
                )
        except Refused as refused:
            outcome = "not_found" if refused.reason is Refusal.NOT_FOUND else "refused"
            RECORD_AUDITS.labels(outcome).inc()
            return refusal_response(refused)
        RECORD_AUDITS.labels("found").inc()
        body = {"conversation_id": conversation_id, "decisions": decisions}
        return web.json_response(body, headers={"Cache-Control": "no-store"})
