"""Sharing practice with supervisors, on the record's HTTP port: the agent's
explicit action, and the only way a supervisor sees a practice result.

- ``POST /v1/practice/shares``: the agent shares one round (``{"kind": "round",
  "scenario_id", "reply"}``) or a summary of rounds (``{"kind": "summary",
  "rounds": [{"scenario_id", "reply"}, ...]}``, kept as counts only). The record
  checks each reply again rather than trusting checks sent to it.
- ``GET /v1/practice/shares``: what the agent shares now;
  ``DELETE /v1/practice/shares/{share_id}`` takes one back (deletes it).
- ``GET /v1/practice/shared``: what agents shared with the token's agent as
  their own supervisor (the agent tokens file's ``supervisor``) and, for a
  supervisor's token (one covering the supervisor queue), what agents without
  a supervisor share with the supervisors of its queues; a token that is
  neither is refused.

What is kept and who sees it: :mod:`warmline.record.practice_shares`.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from warmline.notification.core import Refusal, Refused
from warmline.notification.http_api import refusal_response
from warmline.notification.tokens import AgentDirectory, AgentScope
from warmline.practice.checks import review_reply
from warmline.record.practice_http import PracticeHttpApi, json_object, reply_field, text_field
from warmline.record.practice_shares import (
    Share,
    delete_share,
    insert_share,
    round_share,
    shared_with,
    shares_of,
    summary_share,
)

#: The most rounds one summary may hold (a practice session, not a history).
MAX_SUMMARY_ROUNDS = 50
_NO_STORE = {"Cache-Control": "no-store"}


class PracticeSharesHttpApi:
    """aiohttp routes of sharing practice with supervisors."""

    def __init__(
        self, practice: PracticeHttpApi, agents: AgentDirectory, supervisor_queue: str
    ) -> None:
        self._practice = practice
        self._agents = agents
        self._supervisor_queue = supervisor_queue

    def add_routes(self, app: web.Application) -> None:
        """Register the sharing routes on the record's application."""
        app.router.add_post("/v1/practice/shares", self.share)
        app.router.add_get("/v1/practice/shares", self.mine)
        app.router.add_delete("/v1/practice/shares/{share_id}", self.take_back)
        app.router.add_get("/v1/practice/shared", self.shared)

    async def share(self, request: web.Request) -> web.Response:
        """Share a round or a summary with the agent's own supervisor, or without one
        with the supervisors of the queues practised."""
        try:
            scope = self._practice.scope(request)
            body = await json_object(request)
            kind = text_field(body, "kind")
            if kind == "round":
                share = await self._round(scope, body)
            elif kind == "summary":
                share = await self._summary(scope, body)
            else:
                raise Refused(
                    Refusal.INVALID_ARGUMENT, f"kind: 'round' or 'summary', not {kind!r}", "kind"
                )
            await self._practice.write(lambda c: insert_share(c, scope.tenant_id, share))
        except Refused as refused:
            return refusal_response(refused)
        return web.json_response(share.as_json(), status=201, headers=_NO_STORE)

    async def _round(self, scope: AgentScope, body: dict[str, Any]) -> Share:
        scenario_id, reply = text_field(body, "scenario_id"), reply_field(body)
        scenario = await self._practice.scenario_for(scope, scenario_id)
        caring = await self._practice.caring(reply)
        return round_share(
            scope.agent_id,
            scope.supervisor,
            scenario,
            reply,
            review_reply(reply),
            caring,
            time.time(),
        )

    async def _summary(self, scope: AgentScope, body: dict[str, Any]) -> Share:
        rounds = body.get("rounds")
        if not isinstance(rounds, list) or not 1 <= len(rounds) <= MAX_SUMMARY_ROUNDS:
            raise Refused(
                Refusal.INVALID_ARGUMENT,
                f"rounds: a list of 1 to {MAX_SUMMARY_ROUNDS} rounds",
                "rounds",
            )
        reviewed = []
        for n, practised in enumerate(rounds):
            if not isinstance(practised, dict):
                raise Refused(
                    Refusal.INVALID_ARGUMENT, f"rounds[{n}]: expected a JSON object", "rounds"
                )
            scenario_id, reply = text_field(practised, "scenario_id"), reply_field(practised)
            scenario = await self._practice.scenario_for(scope, scenario_id)
            reviewed.append((scenario, review_reply(reply)))
        return summary_share(scope.agent_id, scope.supervisor, reviewed, time.time())

    async def mine(self, request: web.Request) -> web.Response:
        """What the token's agent shares now, newest first."""
        try:
            scope = self._practice.scope(request)
            found = await self._practice.read(
                lambda c: shares_of(c, scope.tenant_id, scope.agent_id)
            )
        except Refused as refused:
            return refusal_response(refused)
        return web.json_response({"shares": [s.as_json() for s in found]}, headers=_NO_STORE)

    async def take_back(self, request: web.Request) -> web.Response:
        """Delete one of the agent's own shares; another's, or none, is NOT_FOUND."""
        share_id = request.match_info["share_id"]
        try:
            scope = self._practice.scope(request)
            deleted = await self._practice.write(
                lambda c: delete_share(c, scope.tenant_id, scope.agent_id, share_id)
            )
            if not deleted:
                raise Refused(Refusal.NOT_FOUND, f"you share nothing with id {share_id!r}")
        except Refused as refused:
            return refusal_response(refused)
        return web.json_response({"share_id": share_id, "deleted": True}, headers=_NO_STORE)

    async def shared(self, request: web.Request) -> web.Response:
        """What agents share with the token's agent, newest first."""
        try:
            scope = self._practice.scope(request)
            supervising = scope.allows(self._supervisor_queue)
            if not supervising and not self._agents.supervises(scope.tenant_id, scope.agent_id):
                raise Refused(
                    Refusal.PERMISSION_DENIED,
                    "only a supervisor's token (one covering the supervisor queue "
                    f"{self._supervisor_queue!r}, or of an agent's own supervisor) sees "
                    "what agents share",
                )
            covers = scope.allows if supervising else None
            found = await self._practice.read(
                lambda c: shared_with(c, scope.tenant_id, scope.agent_id, covers)
            )
        except Refused as refused:
            return refusal_response(refused)
        return web.json_response({"shares": [s.as_json() for s in found]}, headers=_NO_STORE)
