"""What the record's HTTP doors (audit, practice, its shares, insights) share: the
agent scope of a request, and one call on the record's database off the event loop,
answered UNAVAILABLE while the database is not there or cannot be reached."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from warmline.common.credentials import bearer_token
from warmline.notification.core import Refusal, Refused, authenticate
from warmline.notification.tokens import AgentDirectory, AgentScope
from warmline.record.database import Connection, RecordDatabase, RecordUnavailable

T = TypeVar("T")


def agent_scope(agents: AgentDirectory, request: web.Request) -> AgentScope:
    """The scope of the request's agent token (``Authorization: Bearer``), or
    UNAUTHENTICATED."""
    return authenticate(agents, bearer_token(request.headers.get("Authorization")))


async def read_record(database: RecordDatabase, read: Callable[[Connection], T]) -> T:
    """``read`` on a read-only connection of its own, off the event loop."""

    def run() -> T:
        try:
            conn = database.connect(read_only=True)
        except (sqlite3.OperationalError, RecordUnavailable) as exc:
            raise Refused(Refusal.UNAVAILABLE, "the record database is not there yet") from exc
        try:
            return read(conn)
        finally:
            conn.close()

    return await asyncio.to_thread(run)


async def write_record(database: RecordDatabase, write: Callable[[Connection], T]) -> T:
    """``write`` in one transaction beside the record's writer, on a connection of its
    own, off the event loop; never creates the database (the service's writer does,
    with its tables)."""

    def run() -> T:
        if not database.exists():
            raise Refused(Refusal.UNAVAILABLE, "the record database is not there yet")
        try:
            conn = database.connect()
        except RecordUnavailable as exc:
            raise Refused(Refusal.UNAVAILABLE, "the record database cannot be reached") from exc
        try:
            with database.transaction(conn):
                return write(conn)
        finally:
            conn.close()

    return await asyncio.to_thread(run)
