"""The terminal agent console: escalations from the notification service, live.

The rendering is pure (a :class:`ConsoleView` takes stream responses and turns
them into rich renderables), so it is tested without a terminal; the demo uses
the same pieces. :func:`run_console` feeds a view from
:meth:`ConsoleClient.follow`, which reconnects from its cursor, and redraws a
rich ``Live`` table on every change.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import grpc
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from warmline.client.console import ConsoleClient
from warmline.v1 import escalation_pb2, notification_pb2

Decision = escalation_pb2.EscalationDecision
Response = notification_pb2.SubscribeResponse

BLOCKS = "▁▂▃▄▅▆▇█"
_CLOSING = (escalation_pb2.DECISION_ACTION_DEESCALATE, escalation_pb2.DECISION_ACTION_RESOLVED)
_PRIORITY_STYLE = {
    escalation_pb2.PRIORITY_LOW: "dim",
    escalation_pb2.PRIORITY_NORMAL: "",
    escalation_pb2.PRIORITY_HIGH: "bold yellow",
    escalation_pb2.PRIORITY_URGENT: "bold red",
}


class ConsoleRefused(Exception):
    """The notification service refused the console; reconnecting cannot help."""


def sparkline(values: Iterable[float]) -> str:
    """One block character per value in [0, 1] (clamped): ``▁`` for 0 up to ``█`` for 1."""
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[round(min(1.0, max(0.0, v)) * top)] for v in values)


def negativity_trend(decision: Decision) -> str:
    """The customer's negativity over the decision's trajectory, oldest first."""
    return sparkline(p.signals.negativity for p in decision.trajectory) or "-"


def action_name(decision: Decision) -> str:
    """``ESCALATE``, ``UPDATE``, ``DEESCALATE`` or ``RESOLVED``."""
    return escalation_pb2.DecisionAction.Name(decision.action).removeprefix("DECISION_ACTION_")


def priority_name(decision: Decision) -> str:
    """``LOW`` to ``URGENT``."""
    return escalation_pb2.Priority.Name(decision.priority).removeprefix("PRIORITY_")


def customer_said(decision: Decision) -> Text:
    """The last customer message as delivered; abusive words arrive masked and say so."""
    if decision.abusive:
        return Text(f"(abusive, masked) {decision.last_customer_text}", style="magenta")
    return Text(decision.last_customer_text)


@dataclass(slots=True)
class Row:
    """What the console shows for one conversation: its latest decision and holder."""

    decision: Decision
    holder: str = ""
    reoffer: bool = False


class ConsoleView:
    """The console's state: one row per conversation, fed with stream responses."""

    def __init__(self, tenant_id: str = "", queues: Sequence[str] = (), max_rows: int = 40) -> None:
        self.tenant_id = tenant_id
        self.queues = list(queues)
        self.max_rows = max_rows
        self.rows: dict[str, Row] = {}
        self.deliveries = 0
        self.actions: Counter[str] = Counter()
        self.claims = 0
        self.pause = notification_pb2.PauseState()
        #: Supervisor consoles: queue -> agents who paused high-intensity offers.
        self.paused_agents: dict[str, int] = {}
        #: Supervisor consoles: overload alerts, newest last.
        self.alerts: list[notification_pb2.OverloadAlert] = []
        self._started = time.monotonic()

    def apply(self, response: Response) -> Row | None:
        """Take one delivery, claim notice, pause state or queue capacity; returns
        the row it changed, if any."""
        kind = response.WhichOneof("payload")
        if kind == "delivery":
            return self._delivered(response.delivery)
        if kind == "claimed":
            row = self.rows.get(response.claimed.conversation_id)
            if row is not None:
                row.holder = response.claimed.holder_agent_id
                self.claims += 1
            return row
        if kind == "pause":
            self.pause = response.pause
        elif kind == "capacity":
            self.paused_agents[response.capacity.queue] = response.capacity.paused_agents
        elif kind == "overload":
            self.alerts.append(response.overload)
        return None

    def _delivered(self, delivery: notification_pb2.Delivery) -> Row:
        decision = delivery.decision
        previous = self.rows.pop(decision.conversation_id, None)
        # A new ESCALATE opens a new escalation: an earlier holder no longer holds it.
        kept = (
            previous.holder
            if previous is not None and decision.action != escalation_pb2.DECISION_ACTION_ESCALATE
            else ""
        )
        row = Row(decision, delivery.holder_agent_id or kept, delivery.reoffer)
        self.rows[decision.conversation_id] = row  # re-inserted: newest last
        self.deliveries += 1
        self.actions[action_name(decision)] += 1
        return row

    def table(self) -> Table:
        """The escalations, newest first."""
        table = Table(expand=True, header_style="bold")
        for column in ("conversation", "action", "priority", "queue", "reasons", "emotion"):
            table.add_column(column, no_wrap=column != "reasons")
        table.add_column("negativity", no_wrap=True)
        table.add_column("customer said", ratio=2)
        table.add_column("opening line", ratio=2)
        table.add_column("holder", no_wrap=True)
        for row in list(reversed(self.rows.values()))[: self.max_rows]:
            table.add_row(*escalation_cells(row))
        return table

    def render(self) -> RenderableType:
        """A header line and the table."""
        queues = ", ".join(self.queues) or "the token's queues"
        header = Text.assemble(
            ("Warmline console", "bold"),
            f"  tenant {self.tenant_id or '-'}, queues {queues}: ",
            f"{len(self.rows)} conversations, {self.deliveries} deliveries",
        )
        lines: list[RenderableType] = [header]
        if self.pause.paused:
            lines.append(Text(pause_said(self.pause), style="bold magenta"))
        if paused := {q: n for q, n in self.paused_agents.items() if n}:
            counts = ", ".join(f"{q}: {n} paused" for q, n in sorted(paused.items()))
            lines.append(Text(f"high-intensity capacity down: {counts}", style="yellow"))
        for alert in self.alerts[-3:]:
            lines.append(Text(f"overload: {alert.suggestion}", style="bold magenta"))
        return Group(*lines, self.table())

    def summary(self) -> str:
        """One line for when the console stops."""
        actions = ", ".join(f"{n} {name}" for name, n in self.actions.most_common()) or "none"
        return (
            f"console stopped after {time.monotonic() - self._started:.0f} s: "
            f"{self.deliveries} deliveries ({actions}) for {len(self.rows)} conversations, "
            f"{self.claims} claimed by an agent"
        )


def escalation_cells(row: Row) -> list[RenderableType]:
    """The table cells of one row."""
    decision = row.decision
    closing = decision.action in _CLOSING
    action = action_name(decision) + (" (re-offer)" if row.reoffer else "")
    holder = (
        Text(f"held by {row.holder}", style="green")
        if row.holder
        else Text("-" if closing else "open", style="dim" if closing else "bold")
    )
    return [
        Text(decision.conversation_id, style="dim" if closing else "bold"),
        Text(action, style="dim" if closing else "bold red"),
        Text(priority_name(decision), style=_PRIORITY_STYLE.get(decision.priority, "")),
        decision.queue,
        ", ".join(r.code for r in decision.reasons),
        decision.dominant_emotion or "-",
        Text(negativity_trend(decision), style="red"),
        customer_said(decision),
        Text(decision.opening_line, style="italic cyan"),
        holder,
    ]


def announcement(delivery: notification_pb2.Delivery) -> RenderableType:
    """A delivery as a few scrolling lines (the demo prints these as they arrive)."""
    decision = delivery.decision
    header = Text.assemble(
        "  ",
        (f" {action_name(decision)} ", "bold white on red"),
        " ",
        (decision.conversation_id, "bold"),
        " -> queue ",
        (decision.queue, "bold"),
        f", priority {priority_name(decision)}, reasons: ",
        ", ".join(r.code for r in decision.reasons),
    )
    if delivery.reoffer:
        header.append(" (re-offered: nobody took it yet)", style="yellow")
    if delivery.holder_agent_id:
        header.append(f" (held by {delivery.holder_agent_id})", style="green")
    lines: list[RenderableType] = [header]
    lines += [Text(f"    - {r.explanation}", style="dim") for r in decision.reasons]
    lines.append(Text(f"    negativity {negativity_trend(decision)}", style="red"))
    if decision.abusive:
        lines.append(Text.assemble("    customer said: ", customer_said(decision)))
    lines.append(Text(f'    opening line: "{decision.opening_line}"', style="italic cyan"))
    return Group(*lines)


async def run_console(
    client: ConsoleClient,
    queues: Sequence[str],
    *,
    console: Console,
    stop: asyncio.Event,
    tenant_id: str = "",
    view: ConsoleView | None = None,
) -> ConsoleView:
    """Show the agent's escalations live until ``stop`` is set; returns the final view.

    Raises :class:`ConsoleRefused` when the service refuses the token or scope.
    """
    view = view or ConsoleView(tenant_id, queues)
    # Transient: the live area is cleared at the end and the final view printed
    # once, so a log file gets it too and a refused console prints no empty table.
    with Live(view.render(), console=console, auto_refresh=False, transient=True) as live:
        try:
            async for response in client.follow(queues, tenant_id=tenant_id, stop=stop):
                view.apply(response)
                live.update(view.render(), refresh=True)
        except grpc.aio.AioRpcError as exc:
            raise ConsoleRefused(
                f"the notification service refused the console ({exc.code().name}): {exc.details()}"
            ) from exc
    console.print(view.render())
    return view


def pause_said(state: notification_pb2.PauseState) -> str:
    """A pause state in words, for the agent."""
    if not state.paused:
        return "not paused: offers reach you"
    until = state.until.ToDatetime().strftime("%H:%M:%S UTC")
    held = "every offer" if state.all_offers else "high-intensity offers"
    return f"paused: {held} held back until {until} (warmline resume to end it now)"


async def change_pause(
    target: str, token: str, agent_id: str, duration_s: int | None, all_offers: bool
) -> str:
    """Pause (``duration_s``, 0 for the default) or resume (None); the new state in words.

    Raises :class:`ConsoleRefused` when the service refuses.
    """
    client = ConsoleClient(target, token, agent_id)
    try:
        if duration_s is None:
            await client.resume()
            return pause_said(notification_pb2.PauseState())
        return pause_said(await client.pause(duration_s, all_offers=all_offers))
    except grpc.aio.AioRpcError as exc:
        raise ConsoleRefused(
            f"the notification service refused ({exc.code().name}): {exc.details()}"
        ) from exc
    finally:
        await client.close()


async def console_until_interrupted(
    target: str, token: str, agent_id: str, tenant_id: str, queues: Sequence[str], console: Console
) -> ConsoleView:
    """:func:`run_console` until Ctrl-C or SIGTERM (what ``warmline console`` runs)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    client = ConsoleClient(target, token, agent_id)
    try:
        return await run_console(client, queues, console=console, stop=stop, tenant_id=tenant_id)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await client.close()
