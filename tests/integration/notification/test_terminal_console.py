"""``warmline console`` against a real notification service: live rows, holders, refusals."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.integration.notification.conftest import decision, publish, token
from tests.support import wait_until
from warmline.cli import app
from warmline.notification.terminal import ConsoleView, Row, run_console
from warmline.v1 import escalation_pb2, notification_pb2, scoring_pb2

pytestmark = pytest.mark.integration


class WatchedView(ConsoleView):
    """A view that lets the test wait for what arrives, instead of sleeping."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.changed = asyncio.Event()

    def apply(self, response: notification_pb2.SubscribeResponse) -> Row | None:
        row = super().apply(response)
        self.changed.set()
        return row

    async def until(self, condition: Callable[[], bool], within_s: float = 15.0) -> None:
        async with asyncio.timeout(within_s):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


def with_trajectory(
    d: escalation_pb2.EscalationDecision, *negativity: float
) -> escalation_pb2.EscalationDecision:
    for n in negativity:
        d.trajectory.add(signals=scoring_pb2.Signals(negativity=n))
    return d


async def test_the_terminal_console_shows_escalations_live_with_their_holder(
    make_notification: Any,
) -> None:
    replica = make_notification()
    out = io.StringIO()
    view = WatchedView("acme", ["billing", "supervisor"])
    stop = asyncio.Event()
    sam = replica.client("sam")
    console = asyncio.create_task(
        run_console(
            sam,
            ["billing", "supervisor"],
            console=Console(file=out, width=260, color_system=None),
            stop=stop,
            tenant_id="acme",
            view=view,
        )
    )
    alice = replica.client("alice")
    try:
        await asyncio.to_thread(
            wait_until, lambda: replica.service.hub.consoles() == 1, 15, "console subscribed"
        )
        await publish(
            replica.settings,
            [
                with_trajectory(decision("refund-1", "billing"), 0.0, 0.5, 1.0),
                decision(
                    "rude-1",
                    "supervisor",
                    abusive=True,
                    text="you ***** useless",
                    unmasked="you bloody useless",
                ),
                decision("wifi-1", "general"),
                decision("other-tenant", "billing", tenant="globex"),
            ],
        )
        await view.until(lambda: {"refund-1", "rude-1"} <= set(view.rows))
        refund = view.rows["refund-1"].decision.decision_id
        assert (await alice.claim(refund)).granted
        await view.until(lambda: view.rows["refund-1"].holder == "alice")
    finally:
        stop.set()
        await asyncio.wait_for(console, 15)
        await sam.close()
        await alice.close()

    shown = out.getvalue()
    assert "refund-1" in shown and "rude-1" in shown
    assert "▁▅█" in shown  # the negativity sparkline of refund-1's trajectory
    assert "I can see this has been frustrating." in shown and "sustained_negativity" in shown
    assert "held by alice" in shown
    assert "(abusive, masked) you ***** useless" in shown
    assert "bloody" not in shown
    # Another queue, another tenant: never shown.
    assert "wifi-1" not in shown and "other-tenant" not in shown
    assert set(view.rows) == {"refund-1", "rude-1"}
    assert "2 deliveries" in view.summary() and "1 claimed" in view.summary()


@pytest.mark.parametrize(
    ("agent_token", "tenant", "says"),
    [
        (token("bob"), "globex", "PERMISSION_DENIED): this token is scoped to tenant 'acme'"),
        ("not-a-token", "acme", "UNAUTHENTICATED"),
    ],
)
def test_the_console_command_explains_a_refusal_and_exits_non_zero(
    make_notification: Any, agent_token: str, tenant: str, says: str
) -> None:
    replica = make_notification()
    result = CliRunner().invoke(
        app,
        ["console", "--tenant", tenant, "--queue", "billing", "--target", replica.target],
        env={"WARMLINE_AGENT_TOKEN": agent_token},
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the notification service refused the console (")
    assert says in result.stderr
