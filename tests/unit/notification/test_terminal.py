"""The terminal console's rendering, and the agent token it runs with."""

from __future__ import annotations

import io
import re

import yaml
from rich.console import Console, RenderableType
from typer.testing import CliRunner

from tests.unit.notification import support
from warmline.cli import app
from warmline.notification.terminal import (
    ConsoleView,
    announcement,
    negativity_trend,
    sparkline,
)
from warmline.notification.tokens import AgentDirectory
from warmline.v1 import escalation_pb2, notification_pb2, scoring_pb2

ESCALATE = escalation_pb2.DECISION_ACTION_ESCALATE


def decision(
    conversation: str = "billing-dispute",
    *,
    action: escalation_pb2.DecisionAction.ValueType = ESCALATE,
    negativity: tuple[float, ...] = (0.0, 0.5, 1.0),
    abusive: bool = False,
    text: str = "I was charged twice",
) -> escalation_pb2.EscalationDecision:
    return support.decision(
        conversation,
        f"{conversation}-{action}",
        action=action,
        priority=escalation_pb2.PRIORITY_HIGH,
        reasons=[escalation_pb2.Reason(code="peak_anger", explanation="Very angry.")],
        trajectory=[
            escalation_pb2.TrajectoryPoint(signals=scoring_pb2.Signals(negativity=n))
            for n in negativity
        ],
        dominant_emotion="anger",
        opening_line="I can hear how frustrating this has been.",
        last_customer_text=text,
        abusive=abusive,
    )


def delivered(
    d: escalation_pb2.EscalationDecision, holder: str = ""
) -> notification_pb2.SubscribeResponse:
    return notification_pb2.SubscribeResponse(
        delivery=notification_pb2.Delivery(decision=d, cursor="v1.x", holder_agent_id=holder)
    )


def claimed(conversation: str, agent: str) -> notification_pb2.SubscribeResponse:
    return notification_pb2.SubscribeResponse(
        claimed=notification_pb2.ClaimNotice(
            decision_id="d", conversation_id=conversation, holder_agent_id=agent
        )
    )


def shown(renderable: RenderableType) -> str:
    out = io.StringIO()
    Console(file=out, width=240, color_system=None).print(renderable)
    return out.getvalue()


def test_the_sparkline_rises_with_negativity_from_the_lowest_to_the_highest_block() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"
    assert sparkline([-0.2, 1.7]) == "▁█"  # out-of-range values are clamped
    assert negativity_trend(decision(negativity=(0.1, 0.3, 0.6, 0.95))) == "▂▃▅█"
    assert negativity_trend(decision(negativity=())) == "-"


def test_a_delivery_becomes_a_row_with_everything_the_agent_needs() -> None:
    view = ConsoleView("acme", ["billing"])
    view.apply(delivered(decision()))
    text = shown(view.render())
    for expected in (
        "billing-dispute",
        "ESCALATE",
        "HIGH",
        "billing",
        "peak_anger",
        "anger",
        "▁▅█",
        "I was charged twice",
        "I can hear how frustrating this has been.",
        "open",
    ):
        assert expected in text, expected


def test_abusive_text_is_shown_masked_and_labelled() -> None:
    view = ConsoleView("acme", ["supervisor"])
    masked = decision("abusive", abusive=True, text="you ******* idiot")
    view.apply(delivered(masked))
    for text in (shown(view.render()), shown(announcement(delivered(masked).delivery))):
        assert "(abusive, masked) you ******* idiot" in text


def test_a_claim_notice_names_the_holder_and_an_update_keeps_it() -> None:
    view = ConsoleView("acme", ["billing"])
    view.apply(delivered(decision("a")))
    view.apply(delivered(decision("b"), holder="bob"))
    view.apply(claimed("a", "alice"))
    assert {c: r.holder for c, r in view.rows.items()} == {"a": "alice", "b": "bob"}
    view.apply(delivered(decision("a", action=escalation_pb2.DECISION_ACTION_UPDATE)))
    assert view.rows["a"].holder == "alice"
    assert "held by alice" in shown(view.render())
    # A new escalation of the same conversation is open again.
    view.apply(delivered(decision("a")))
    assert view.rows["a"].holder == ""


def test_the_newest_change_is_on_top_and_the_summary_counts_what_arrived() -> None:
    view = ConsoleView("acme", ["billing"])
    view.apply(delivered(decision("first")))
    view.apply(delivered(decision("second")))
    view.apply(delivered(decision("first", action=escalation_pb2.DECISION_ACTION_RESOLVED)))
    text = shown(view.render())
    assert text.index("first") < text.index("second")
    view.apply(claimed("second", "alice"))
    summary = view.summary()
    assert "\n" not in summary
    assert re.search(r"3 deliveries \(2 ESCALATE, 1 RESOLVED\) for 2 conversations", summary)
    assert "1 claimed" in summary


def test_keys_new_agent_prints_a_token_and_an_entry_that_grants_exactly_its_scope() -> None:
    result = CliRunner().invoke(
        app,
        [
            "keys",
            "new-agent",
            "alice",
            "--tenant",
            "acme",
            "--queue",
            "billing",
            "--queue",
            "general",
        ],
    )
    assert result.exit_code == 0, result.output
    token = re.search(r"agent token .*: (\S+)", result.output)
    assert token is not None
    entry = yaml.safe_load(result.output.split("agent tokens file entry:\n", 1)[1])
    scope = AgentDirectory.from_mapping(entry).scope_for(token.group(1))
    assert scope is not None
    assert (scope.tenant_id, scope.agent_id, scope.queues) == (
        "acme",
        "alice",
        frozenset({"billing", "general"}),
    )
    assert token.group(1) not in result.output.split("entry:", 1)[1]  # only its digest is stored


def test_the_view_shows_the_agents_pause_and_a_supervisors_counts_and_alerts() -> None:
    view = ConsoleView("acme", ["supervisor", "billing"])
    paused = notification_pb2.SubscribeResponse(
        pause=notification_pb2.PauseState(paused=True, all_offers=False)
    )
    paused.pause.until.FromSeconds(int(support.NOW) + 300)
    view.apply(paused)
    view.apply(
        notification_pb2.SubscribeResponse(
            capacity=notification_pb2.QueueCapacity(queue="billing", paused_agents=2)
        )
    )
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(view.render())
    shown = out.getvalue()
    assert "paused: high-intensity offers held back until " in shown
    assert "(warmline resume to end it now)" in shown
    assert "high-intensity capacity down: billing: 2 paused" in shown
    alert = notification_pb2.OverloadAlert(queue="billing", suggestion="Queue billing: breaks?")
    view.apply(notification_pb2.SubscribeResponse(overload=alert))
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(view.render())
    assert "overload: Queue billing: breaks?" in out.getvalue()
    view.apply(notification_pb2.SubscribeResponse(pause=notification_pb2.PauseState()))
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(view.render())
    assert "held back" not in out.getvalue()
