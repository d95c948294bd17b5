"""``warmline practice``: rounds in the terminal against a record's practice door, and
``warmline practice-shares``: what an agent shares, and what a supervisor sees."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from typer.testing import CliRunner

from tests.practice_support import (
    AGENT_TOKEN,
    GOOD_REPLY,
    OWN_SUPERVISOR_TOKEN,
    SUPERVISED_AGENT_TOKEN,
    SUPERVISOR_TOKEN,
    practice_door,
)
from warmline.cli import app
from warmline.practice.terminal import PracticeClient, Practised, practice_rounds

SCENARIO = {
    "scenario_id": "s1",
    "queue": "billing",
    "dominant_emotion": "anger",
    "reasons": ["sustained_negativity"],
    "turns": [{"role": "customer", "text": "Person A is not happy."}, {"role": "bot", "text": "Sorry."}],
}  # fmt: skip
REVIEW = {
    "scenario_id": "s1",
    "checks": [
        {"check": "acknowledges_emotion", "passed": True, "note": "'sorry'"},
        {"check": "takes_ownership", "passed": False, "note": "Say what you will do yourself"},
    ],
    "passed": 1,
    "of": 5,
    "example_opening": "Let me look into this now.",
    "private": "Only you see this.",
}


class StubClient(PracticeClient):
    def __init__(self) -> None:
        super().__init__("http://unused", "t")
        self.calls: list[tuple[str, Any]] = []

    def _call(self, path: str, body: dict[str, Any] | None = None, method: str = "") -> Any:
        self.calls.append((path, body))
        if path == "/v1/practice/scenarios":
            return {"scenarios": [{"scenario_id": "s1"}]}
        return SCENARIO if body is None else REVIEW


def shown(renderables: list[RenderableType]) -> str:
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None)
    for r in renderables:
        console.print(r)
    return out.getvalue()


def test_a_round_shows_the_scenario_asks_for_an_opening_and_shows_the_review() -> None:
    client, printed = StubClient(), []
    practised = practice_rounds(client, printed.append, lambda: "my opening")
    assert practised == [Practised("s1", "my opening", REVIEW)]
    assert [c[0] for c in client.calls] == [
        "/v1/practice/scenarios", "/v1/practice/scenarios/s1", "/v1/practice/review",
    ]  # fmt: skip
    assert client.calls[-1][1] == {"scenario_id": "s1", "reply": "my opening"}
    text = shown(printed)
    assert "Person A is not happy." in text and "handed over to a person" in text
    assert "✓ Acknowledges the customer's emotion" in text and "✗ Takes ownership" in text
    assert "One example: “Let me look into this now.”" in text and "Only you see this." in text


def test_warmline_practice_runs_a_round_against_the_record(tmp_path: Path) -> None:
    with practice_door(tmp_path) as door:
        result = CliRunner().invoke(
            app,
            ["practice", "--url", door.http_base],
            input=GOOD_REPLY + "\n",
            env={"WARMLINE_AGENT_TOKEN": AGENT_TOKEN, "COLUMNS": "200"},
        )
        assert result.exit_code == 0, result.output
        assert "Person A" in result.output and "Anna" not in result.output
        assert "5 of 5 checks" in result.output
        refused = CliRunner().invoke(
            app, ["practice", "--url", door.http_base, "--reply", "hi"],
            env={"WARMLINE_AGENT_TOKEN": "wrong"},
        )  # fmt: skip
        assert refused.exit_code == 2
        assert "401" in refused.output


def test_an_agent_shares_a_round_the_supervisor_sees_it_until_it_is_taken_back(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    with practice_door(tmp_path) as door:
        url = ["--url", door.http_base]
        agent = {"WARMLINE_AGENT_TOKEN": AGENT_TOKEN, "COLUMNS": "200"}
        supervisor = {"WARMLINE_AGENT_TOKEN": SUPERVISOR_TOKEN, "COLUMNS": "200"}
        before = runner.invoke(app, ["practice-shares", *url, "--shared-with-me"], env=supervisor)
        assert before.exit_code == 0, before.output
        assert "0 shared with you." in before.output

        shared = runner.invoke(
            app, ["practice", *url, "--share", "round"], input=GOOD_REPLY + "\n", env=agent
        )

        assert shared.exit_code == 0, shared.output
        assert "5 of 5 checks" in shared.output and "Shared." in shared.output
        assert "shared with the supervisors of billing" in shared.output
        seen = runner.invoke(app, ["practice-shares", *url, "--shared-with-me"], env=supervisor)
        assert "alice shared round" in seen.output and "5 of 5 checks" in seen.output
        assert "1 shared with you." in seen.output
        mine = runner.invoke(app, ["practice-shares", *url], env=agent)
        assert "1 shared by you." in mine.output
        share_id = mine.output.split("id ")[1].split()[0]

        back = runner.invoke(app, ["practice-shares", *url, "--take-back", share_id], env=agent)

        assert back.exit_code == 0, back.output
        assert f"Taken back: {share_id}" in back.output
        after = runner.invoke(app, ["practice-shares", *url, "--shared-with-me"], env=supervisor)
        assert "0 shared with you." in after.output
        refused = runner.invoke(app, ["practice-shares", *url, "--shared-with-me"], env=agent)
        assert refused.exit_code == 2 and "403" in refused.output


def test_a_summary_of_two_rounds_shares_counts_and_no_words(tmp_path: Path) -> None:
    runner = CliRunner()
    with practice_door(tmp_path) as door:
        url = ["--url", door.http_base]
        agent = {"WARMLINE_AGENT_TOKEN": AGENT_TOKEN, "COLUMNS": "200"}
        shared = runner.invoke(
            app,
            ["practice", *url, "--scenario", door.scenario_id, "--share", "summary"],
            input=GOOD_REPLY + "\n",
            env=agent,
        )
        assert shared.exit_code == 0, shared.output
        seen = runner.invoke(
            app,
            ["practice-shares", *url, "--shared-with-me"],
            env={"WARMLINE_AGENT_TOKEN": SUPERVISOR_TOKEN, "COLUMNS": "200"},
        )
        assert "alice shared summary" in seen.output
        assert "1 round on 1 scenario" in seen.output and "Takes ownership: 1 of 1" in seen.output
        assert "frustrating" not in seen.output


def test_an_agent_with_a_supervisor_is_told_the_share_went_to_them_alone(tmp_path: Path) -> None:
    runner = CliRunner()
    with practice_door(tmp_path) as door:
        url = ["--url", door.http_base]

        def as_agent(token: str, *args: str) -> str:
            env = {"WARMLINE_AGENT_TOKEN": token, "COLUMNS": "200"}
            result = runner.invoke(app, [*args, *url], input=GOOD_REPLY + "\n", env=env)
            assert result.exit_code == 0, result.output
            return result.output

        shared = as_agent(SUPERVISED_AGENT_TOKEN, "practice", "--share", "summary")

        assert "shared with your supervisor sue" in shared
        assert "carol shared summary" in as_agent(
            OWN_SUPERVISOR_TOKEN, "practice-shares", "--shared-with-me"
        )
        assert "0 shared with you." in as_agent(
            SUPERVISOR_TOKEN, "practice-shares", "--shared-with-me"
        )
