"""``warmline practice``: practice rounds in the terminal, and what the agent shares.

It reads scenarios from the record service's practice API, shows each up to the
escalation, takes the agent's opening and prints the review: the same calls and
the same privacy as the practice page (the review comes back to this terminal
and is kept nowhere), unless the agent shares a round or a summary with their
supervisor, which ``warmline practice-shares`` lists and takes back; for a
supervisor it lists what agents shared with them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

#: How each check is named to the agent.
CHECK_NAMES = {
    "acknowledges_emotion": "Acknowledges the customer's emotion",
    "takes_ownership": "Takes ownership",
    "avoids_blame": "Avoids blame",
    "promises_only_what_it_can_keep": "Promises only what you can keep",
    "invites_next_step": "Invites the next step",
}


class PracticeRefused(Exception):
    """The record service refused the call, or could not be reached; the message says why."""


class PracticeClient:
    """The practice API of a record service, called with an agent token."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s

    def _call(self, path: str, body: dict[str, Any] | None = None, method: str = "") -> Any:
        request = urllib.request.Request(
            self._base + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
            method=method or None,
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                said = json.load(exc).get("message", exc.reason)
            except (json.JSONDecodeError, AttributeError):
                said = exc.reason
            raise PracticeRefused(f"{exc.code}: {said}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PracticeRefused(f"cannot reach {self._base}: {exc}") from exc

    def scenarios(self) -> list[dict[str, Any]]:
        """The scenarios this token may practise on, newest first."""
        return list(self._call("/v1/practice/scenarios")["scenarios"])

    def scenario(self, scenario_id: str) -> dict[str, Any]:
        """One scenario up to its escalation."""
        return dict(self._call("/v1/practice/scenarios/" + urllib.parse.quote(scenario_id, "")))

    def review(self, scenario_id: str, reply: str) -> dict[str, Any]:
        """The checks of ``reply`` as an opening for the scenario."""
        return dict(self._call("/v1/practice/review", {"scenario_id": scenario_id, "reply": reply}))

    def share(self, body: dict[str, Any]) -> dict[str, Any]:
        """Share a round or a summary with the agent's own supervisor, or without one
        with the supervisors of the queues practised."""
        return dict(self._call("/v1/practice/shares", body))

    def my_shares(self) -> list[dict[str, Any]]:
        """What this agent shares now, newest first."""
        return list(self._call("/v1/practice/shares")["shares"])

    def take_back(self, share_id: str) -> None:
        """Take back (delete) one of this agent's shares."""
        self._call("/v1/practice/shares/" + urllib.parse.quote(share_id, ""), method="DELETE")

    def shared_with_me(self) -> list[dict[str, Any]]:
        """For a supervisor: what agents shared with them, newest first."""
        return list(self._call("/v1/practice/shared")["shares"])


@dataclass(frozen=True, slots=True)
class Practised:
    """One round: the scenario, the agent's opening and its review."""

    scenario_id: str
    reply: str
    review: dict[str, Any]


def scenario_view(scenario: dict[str, Any]) -> RenderableType:
    """The conversation up to the escalation, one line per turn."""
    lines: list[RenderableType] = []
    for turn in scenario["turns"]:
        who = "bot" if turn["role"] == "bot" else "customer"
        line = Text(f"{who:>8}  ", style="dim")
        line.append(turn["text"], style="" if who == "customer" else "italic")
        lines.append(line)
    reasons = ", ".join(scenario["reasons"]) or "-"
    lines.append(Text(f"\nWarmline handed over to a person here ({reasons}).", style="magenta"))
    title = f"queue {scenario['queue']} · {scenario['dominant_emotion'] or '-'}"
    return Panel(Group(*lines), title=title, title_align="left")


def review_view(review: dict[str, Any]) -> RenderableType:
    """The checks, the example opening, and where the result goes."""
    lines: list[RenderableType] = [Text(f"{review['passed']} of {review['of']} checks", "bold")]
    for check in review["checks"]:
        mark, style = ("✓", "green") if check["passed"] else ("✗", "red")
        line = Text(f"{mark} ", style=style)
        line.append(CHECK_NAMES.get(check["check"], check["check"]))
        line.append(f"  ({check['note']})", style="dim")
        lines.append(line)
    if review.get("caring") is not None:
        lines.append(
            Text(
                f"The emotion model reads your words as caring with probability {review['caring']:.2f}."
            )
        )
    if review["example_opening"]:
        lines.append(Text(f"\nOne example: “{review['example_opening']}”", style="italic blue"))
    lines.append(Text(review["private"], style="dim"))
    return Panel(Group(*lines), title="Feedback on your opening", title_align="left")


def practice_rounds(
    client: PracticeClient,
    show: Callable[[RenderableType], None],
    ask: Callable[[], str],
    scenario_id: str = "",
    rounds: int = 1,
) -> list[Practised]:
    """Practise ``scenario_id``, or the ``rounds`` newest scenarios in turn: show each,
    ask for an opening, show its review; return the rounds."""
    if scenario_id:
        chosen = [scenario_id]
    else:
        chosen = [s["scenario_id"] for s in client.scenarios()[:rounds]]
        if not chosen:
            raise PracticeRefused(
                "no practice scenarios yet: they come from your team's conversations that "
                "ended well, for tenants that opted in"
            )
    practised = []
    for chosen_id in chosen:
        show(scenario_view(client.scenario(chosen_id)))
        reply = ask()
        review = client.review(chosen_id, reply)
        show(review_view(review))
        practised.append(Practised(chosen_id, reply, review))
    return practised


def share_practice(
    client: PracticeClient, practised: list[Practised], *, summary: bool
) -> list[dict[str, Any]]:
    """Share each round, or one ``summary`` of them; the shares."""
    rounds = [{"scenario_id": p.scenario_id, "reply": p.reply} for p in practised]
    if summary:
        return [client.share({"kind": "summary", "rounds": rounds})]
    return [client.share({"kind": "round", **r}) for r in rounds]


def share_view(share: dict[str, Any], *, with_agent: bool) -> RenderableType:
    """One share: what it is, when it was shared, and what the supervisor sees."""
    who = f"{share['agent_id']} shared " if with_agent else ""
    title = f"{who}{share['kind']} · {share['shared_at'][:16]} UTC · id {share['share_id']}"
    if not with_agent:
        title += f" · shared with {share['shared_with']}"
    lines: list[RenderableType] = []
    if share["kind"] == "round":
        shown = share["round"]
        lines.append(Text(f"queue {shown['queue']} · {shown['passed']} of {shown['of']} checks"))
        lines.append(Text(f"“{shown['reply']}”", style="italic"))
        for check in shown["checks"]:
            mark, style = ("✓", "green") if check["passed"] else ("✗", "red")
            line = Text(f"{mark} ", style=style)
            line.append(CHECK_NAMES.get(check["check"], check["check"]))
            lines.append(line)
    else:
        shown = share["summary"]
        lines.append(
            Text(f"{_counted(shown['rounds'], 'round')} on "
                 f"{_counted(shown['scenarios'], 'scenario')}, queues {', '.join(share['queues'])}")
        )  # fmt: skip
        for check in shown["checks"]:
            name = CHECK_NAMES.get(check["check"], check["check"])
            lines.append(Text(f"{name}: {check['passed']} of {shown['rounds']}"))
    return Panel(Group(*lines), title=title, title_align="left")


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
