"""A record HTTP door with one practice scenario in its database, for the practice
page's and the terminal's tests (no broker: the scenario is written to the store)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from tests.record_support import practice_conversation
from tests.support import LoopThread
from warmline.common.credentials import hash_key
from warmline.notification.tokens import AgentDirectory
from warmline.record.handler import _READERS
from warmline.record.http_api import AuditHttpApi
from warmline.record.practice import PracticeRules, scenario_id
from warmline.record.rows import Rows
from warmline.record.store import RecordStore, database_path

#: An agent of acme's billing queue.
AGENT_TOKEN = "practice-agent-token"
#: Another agent of acme's billing queue.
OTHER_AGENT_TOKEN = "practice-other-agent-token"
#: A supervisor of acme's billing queue; and one of its general queue only.
SUPERVISOR_TOKEN = "practice-supervisor-token"
GENERAL_SUPERVISOR_TOKEN = "practice-general-supervisor-token"
#: carol of acme's billing queue, whose own supervisor is sue (a supervisor of billing).
SUPERVISED_AGENT_TOKEN = "practice-supervised-agent-token"
OWN_SUPERVISOR_TOKEN = "practice-own-supervisor-token"
#: What a good opening for the scenario looks like.
GOOD_REPLY = "I'm so sorry, I can see how frustrating this is. Let me look into it now. Could you confirm the address?"


@dataclass(frozen=True)
class PracticeDoor:
    """Where the door listens, and the id of its one scenario."""

    http_base: str
    scenario_id: str


def write_scenario(data_dir: Path) -> str:
    """A record database under ``data_dir`` holding acme's one scenario; its id."""
    known = practice_conversation("acme", "conv-1", datetime.now(UTC))
    rows = Rows(practice_tenants=frozenset({"acme"}))
    for topic, records in known.records.items():
        for _, value in records:
            _READERS[topic](rows, value)
    store = RecordStore(database_path(data_dir), PracticeRules(frozenset({"acme"})))
    try:
        assert store.write(rows)["practice_scenarios"] == 1
    finally:
        store.close()
    return scenario_id("acme", "conv-1")


def agents() -> AgentDirectory:
    """The tokens of the door: :data:`AGENT_TOKEN`, alice of acme's billing queue;
    :data:`OTHER_AGENT_TOKEN`, bob of the same queue; :data:`SUPERVISOR_TOKEN`, sam,
    who supervises billing; :data:`GENERAL_SUPERVISOR_TOKEN`, gil, who supervises
    general only; :data:`SUPERVISED_AGENT_TOKEN`, carol of billing, whose own
    supervisor is sue (:data:`OWN_SUPERVISOR_TOKEN`, who supervises billing)."""
    entries = [
        (AGENT_TOKEN, "alice", ["billing"], None),
        (OTHER_AGENT_TOKEN, "bob", ["billing"], None),
        (SUPERVISOR_TOKEN, "sam", ["supervisor", "billing"], None),
        (GENERAL_SUPERVISOR_TOKEN, "gil", ["supervisor", "general"], None),
        (SUPERVISED_AGENT_TOKEN, "carol", ["billing"], "sue"),
        (OWN_SUPERVISOR_TOKEN, "sue", ["supervisor", "billing"], None),
    ]
    return AgentDirectory.from_mapping(
        {"agents": [{"token_sha256": hash_key(secret), "tenant": "acme", "agent_id": agent,
                     "queues": queues} | ({"supervisor": boss} if boss else {})
                    for secret, agent, queues, boss in entries]}
    )  # fmt: skip


@contextmanager
def practice_door(
    data_dir: Path, tokens: AgentDirectory | None = None, console_url: str | None = None
) -> Iterator[PracticeDoor]:
    """The record's HTTP application on a free port, serving one scenario, to
    :func:`agents` or ``tokens``; its pages take a token from a console at
    ``console_url`` only."""
    made = write_scenario(data_dir)
    host = LoopThread()

    async def start() -> tuple[web.AppRunner, int]:
        api = AuditHttpApi(database_path(data_dir), tokens or agents(), console_url=console_url)
        runner = web.AppRunner(api.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, runner.addresses[0][1]

    runner, port = host.run(start())
    try:
        yield PracticeDoor(f"http://127.0.0.1:{port}", made)
    finally:
        host.run(runner.cleanup())
        host.close()
