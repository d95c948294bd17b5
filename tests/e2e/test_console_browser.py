"""The agent console in a real browser: Debian's chromium, driven by Playwright,
against a notification service on the session broker.

Each test asserts what an agent sees on the page and saves screenshots to
``$WARMLINE_TEST_ARTIFACTS`` (default ``test-artifacts/`` at the repository root).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect

from tests.insights_support import AGENT, DAY_S, T0, Floor, floor, insights_door
from tests.integration.notification.conftest import decision, publish, token, write_agents
from tests.practice_support import AGENT_TOKEN, GOOD_REPLY, practice_door
from tests.record_support import stored_values
from tests.support import read_topic, wait_until
from warmline.common.credentials import hash_key
from warmline.insights.aggregates import Window
from warmline.insights.report import write_report
from warmline.localkafka.broker import free_port
from warmline.notification.tokens import AgentDirectory
from warmline.record.store import connect, database_path
from warmline.v1 import escalation_pb2, feedback_pb2, scoring_pb2

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("WARMLINE_CHROMIUM", "/usr/bin/chromium"))
# Headless and quiet: no sandbox (containers run as root), no calls home.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("WARMLINE_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
# Generous: two cores host the broker, the service and the browser at once.
SEEN_WITHIN_MS = 20_000
NEGATIVITY = [0.1, 0.25, 0.4, 0.7, 0.9]

OpenConsole = Callable[..., Awaitable[Page]]


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt-get when missing (as root, or with sudo)."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if apt is None or (sudo and shutil.which("sudo") is None):
        pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (needs apt-get as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, apt, "install", "-y", "chromium"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        # A fresh image has no package lists yet.
        subprocess.run([*sudo, apt, "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    if not CHROMIUM.exists():
        pytest.skip(f"installing chromium did not provide {CHROMIUM}")
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless chromium for the module."""
    executable = await asyncio.to_thread(ensure_chromium)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def open_console(browser: Browser) -> AsyncIterator[OpenConsole]:
    """Opens the console of a replica (or another of its pages, ``path``) in a fresh
    browser context (one per agent).

    Afterwards it checks that no page threw an uncaught error or hit the
    content security policy.
    """
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )

    async def open_page(replica: Any, path: str = "/") -> Page:
        context = await browser.new_context(viewport={"width": 1100, "height": 800})
        contexts.append(context)
        context.on("page", watch)  # pages the console opens (its links) too
        page = await context.new_page()
        await page.goto(replica.http_base + path)
        return page

    yield open_page
    for context in contexts:
        await context.close()
    assert problems == []


async def sign_in(page: Page, agent: str, queues: str = "billing", secret: str = "") -> None:
    """Fill in the sign-in form as an agent would."""
    await page.get_by_label("Token").fill(secret or token(agent))
    await page.get_by_label("Queues").fill(queues)
    await page.get_by_role("button", name="Connect").click()


async def signed_in(page: Page, agent: str, queues: str = "billing") -> None:
    """Sign in and wait until the console says it is live."""
    await sign_in(page, agent, queues)
    await expect(page.locator("#status")).to_contain_text(
        f"live as {agent}", timeout=SEEN_WITHIN_MS
    )


def card(page: Page, conversation: str) -> Locator:
    """The card of one conversation."""
    return page.locator(f'section.card[data-conversation="{conversation}"]')


async def screenshot(page: Page, name: str) -> None:
    """Keep what the agent saw, for whoever reads the test run (Playwright makes the folder)."""
    await page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def with_trajectory(d: escalation_pb2.EscalationDecision) -> escalation_pb2.EscalationDecision:
    """The decision with one trajectory point per customer turn, more negative each time."""
    d.priority = escalation_pb2.PRIORITY_HIGH
    d.reasons[0].explanation = "Negativity rose over the last five customer turns."
    for n, value in enumerate(NEGATIVITY, start=1):
        d.trajectory.append(
            escalation_pb2.TrajectoryPoint(
                event_id=f"turn-{n}",
                signals=scoring_pb2.Signals(negativity=value, anger=value),
                dominant_emotion="anger",
            )
        )
    return d


async def test_an_escalation_appears_live_with_what_the_agent_needs(
    make_notification: Any, open_console: OpenConsole
) -> None:
    replica = make_notification()
    page = await open_console(replica)
    await expect(page.get_by_text("No escalations yet.")).to_be_visible()
    await signed_in(page, "alice", "billing,general")

    await publish(replica.settings, [with_trajectory(decision("live-1", "general"))])

    shown = card(page, "live-1")
    await expect(shown).to_be_visible(timeout=SEEN_WITHIN_MS)
    await expect(page.get_by_text("No escalations yet.")).to_be_hidden()
    await expect(shown.locator(".reason")).to_contain_text(
        "Negativity rose over the last five customer turns."
    )
    await expect(shown.locator(".priority")).to_have_text("priority HIGH")
    await expect(shown.locator(".queue")).to_have_text("queue general")
    await expect(shown.locator(".opening")).to_contain_text("I can see this has been frustrating.")
    await expect(shown.locator(".text")).to_have_text("I was charged twice")
    points = shown.locator("svg.spark circle")
    await expect(points).to_have_count(len(NEGATIVITY))
    # Higher negativity sits higher on the chart (smaller y).
    heights = [float(await p.get_attribute("cy") or "nan") for p in await points.all()]
    assert heights == sorted(heights, reverse=True) and len(set(heights)) == len(NEGATIVITY)
    await expect(points.last.locator("title")).to_have_text("turn 5: negativity 0.90")
    # This replica does not know where the record's pages are: no link to them.
    await expect(page.locator("#links")).to_be_hidden()
    await expect(page.get_by_role("link", name="Practice")).to_have_count(0)
    await screenshot(page, "live-escalation")


async def test_abusive_text_stays_masked_until_the_agent_reveals_it(
    make_notification: Any, open_console: OpenConsole
) -> None:
    replica = make_notification()
    page = await open_console(replica)
    await signed_in(page, "bob")
    abusive = decision(
        "abuse-1",
        abusive=True,
        text="You are a **** useless ****",
        unmasked="You are a damn useless idiot",
    )
    await publish(replica.settings, [abusive])

    shown = card(page, "abuse-1")
    await expect(shown.locator(".text")).to_have_text(
        "You are a **** useless ****", timeout=SEEN_WITHIN_MS
    )
    await expect(shown).to_contain_text("abusive language masked")
    await expect(shown).not_to_contain_text("idiot")
    await screenshot(page, "abusive-masked")

    await shown.get_by_role("button", name="Reveal text").click()
    await expect(shown.locator(".text")).to_have_text("You are a damn useless idiot")
    await expect(shown.get_by_role("button", name="Reveal text")).to_be_disabled()
    await screenshot(page, "abusive-revealed")


async def test_a_claim_shows_on_the_claimants_console_and_on_everyone_elses(
    make_notification: Any, open_console: OpenConsole
) -> None:
    replica = make_notification()
    alice = await open_console(replica)
    bob = await open_console(replica)
    await signed_in(alice, "alice")
    await signed_in(bob, "bob")
    await publish(replica.settings, [decision("claim-1")])
    await expect(card(bob, "claim-1")).to_be_visible(timeout=SEEN_WITHIN_MS)

    await card(alice, "claim-1").get_by_role("button", name="Claim").click()

    await expect(card(bob, "claim-1").locator(".holder")).to_have_text(
        "taken by alice", timeout=SEEN_WITHIN_MS
    )
    await expect(card(bob, "claim-1").get_by_role("button", name="Claim")).to_be_disabled()
    # Alice's console heard the same notice by now; it still knows she holds it.
    await expect(card(alice, "claim-1").locator(".holder")).to_have_text("you have it")
    await expect(card(alice, "claim-1").get_by_role("button", name="Claim")).to_be_disabled()
    await screenshot(alice, "claim-claimant")
    await screenshot(bob, "claim-other-agent")


async def test_false_alarm_feedback_reaches_the_feedback_topic(
    make_notification: Any, open_console: OpenConsole
) -> None:
    replica = make_notification()
    page = await open_console(replica)
    await signed_in(page, "carol")
    sent = decision("feedback-1")
    await publish(replica.settings, [sent])

    await card(page, "feedback-1").get_by_role("button", name="False alarm").click()

    await expect(card(page, "feedback-1").locator(".note")).to_have_text(
        "Feedback sent: false alarm", timeout=SEEN_WITHIN_MS
    )
    settings = replica.settings
    records = await read_topic(
        settings.kafka.bootstrap_servers, settings.topics.name("feedback"), 1
    )
    feedback = feedback_pb2.Feedback.FromString(records[0].value or b"")
    assert feedback.verdict == feedback_pb2.VERDICT_FALSE_ALARM
    assert (feedback.decision_id, feedback.agent_id) == (sent.decision_id, "carol")
    await screenshot(page, "feedback-sent")


async def test_a_wrong_token_is_told_and_the_right_one_connects(
    make_notification: Any, open_console: OpenConsole
) -> None:
    replica = make_notification()
    page = await open_console(replica)

    await sign_in(page, "bob", secret="not-a-token")

    status = page.locator("#status")
    await expect(status).to_contain_text("unknown agent token", timeout=SEEN_WITHIN_MS)
    await expect(status).to_have_class("down")
    await screenshot(page, "wrong-token")
    await signed_in(page, "bob")


async def test_a_reloaded_console_keeps_its_cards_and_gets_what_came_meanwhile(
    make_notification: Any, open_console: OpenConsole
) -> None:
    replica = make_notification()
    page = await open_console(replica)
    await signed_in(page, "alice")
    await publish(replica.settings, [decision("before-1"), decision("before-2")])
    await expect(card(page, "before-2")).to_be_visible(timeout=SEEN_WITHIN_MS)
    await expect(card(page, "before-1")).to_be_visible(timeout=SEEN_WITHIN_MS)
    await card(page, "before-1").get_by_role("button", name="Claim").click()
    await expect(card(page, "before-1").locator(".holder")).to_have_text(
        "you have it", timeout=SEEN_WITHIN_MS
    )
    # The console acknowledges what it showed; the service keeps that for the agent.
    board = replica.service.board
    await asyncio.to_thread(
        wait_until,
        lambda: board.acked("acme", "alice") == dict(board.positions),
        SEEN_WITHIN_MS / 1000,
        "alice's acknowledgement",
    )

    await page.reload()
    await expect(page.locator("section.card")).to_have_count(0)
    await publish(replica.settings, [decision("meanwhile-1")])
    await signed_in(page, "alice")

    for conversation in ("before-1", "before-2", "meanwhile-1"):
        await expect(card(page, conversation)).to_be_visible(timeout=SEEN_WITHIN_MS)
    await expect(page.locator("section.card")).to_have_count(3)
    await expect(card(page, "before-1").locator(".holder")).to_have_text("you have it")
    await screenshot(page, "after-reload")


async def test_an_agent_pauses_intense_offers_and_the_supervisor_sees_only_a_count(
    make_notification: Any, open_console: OpenConsole
) -> None:
    replica = make_notification()
    alice = await open_console(replica)
    sam = await open_console(replica)
    await signed_in(alice, "alice")
    await signed_in(sam, "sam", "supervisor,billing")
    await expect(sam.locator("#capacity-billing")).to_have_text(
        "Queue billing: every agent takes high-intensity offers", timeout=SEEN_WITHIN_MS
    )

    await alice.get_by_label("Pause length").select_option("10")
    await alice.get_by_role("button", name="I need a minute").click()
    await expect(alice.locator("#pause-state")).to_contain_text(
        "Paused: high-intensity offers held back for 9:5", timeout=SEEN_WITHIN_MS
    )
    await expect(sam.locator("#capacity-billing")).to_have_text(
        "Queue billing: high-intensity capacity down, 1 agent paused", timeout=SEEN_WITHIN_MS
    )
    await expect(sam.locator("#supervisor")).not_to_contain_text("alice")

    urgent = escalation_pb2.PRIORITY_URGENT
    rough = decision("rough-p")
    rough.priority = urgent
    await publish(replica.settings, [rough, decision("calm-p")])
    await expect(card(alice, "calm-p")).to_be_visible(timeout=SEEN_WITHIN_MS)
    await expect(card(sam, "rough-p")).to_be_visible(timeout=SEEN_WITHIN_MS)
    await expect(card(alice, "rough-p")).to_have_count(0)
    await screenshot(alice, "pause-agent")
    await screenshot(sam, "pause-supervisor")

    # The pause outlives the page: a reload is told again.
    await alice.reload()
    await signed_in(alice, "alice")
    await expect(alice.locator("#pause-state")).to_contain_text(
        "Paused: high-intensity offers held back", timeout=SEEN_WITHIN_MS
    )
    await expect(card(alice, "rough-p")).to_have_count(0)

    await alice.get_by_role("button", name="Resume now").click()
    await expect(alice.locator("#pause-state")).to_have_text(
        "Offers reach you.", timeout=SEEN_WITHIN_MS
    )
    await expect(card(alice, "rough-p")).to_be_visible(timeout=SEEN_WITHIN_MS)
    await expect(card(alice, "rough-p")).to_contain_text("re-offered")
    await expect(sam.locator("#capacity-billing")).to_have_text(
        "Queue billing: every agent takes high-intensity offers", timeout=SEEN_WITHIN_MS
    )
    await screenshot(alice, "pause-resumed")


async def test_a_supervisor_is_alerted_to_an_overloaded_agent_named_only_to_their_own(
    make_notification: Any, open_console: OpenConsole
) -> None:
    replica = make_notification(
        overload_check_s=0.2, overload_agent_reveals=2, overload_queue_agents_over=5
    )
    alice = await open_console(replica)
    sam = await open_console(replica)  # alice's own supervisor
    sue = await open_console(replica)  # supervises billing too
    await signed_in(alice, "alice")
    await signed_in(sam, "sam", "supervisor")
    await signed_in(sue, "sue", "supervisor")
    rough = [
        decision(f"rough-{n}", abusive=True, text="you ****", unmasked="you idiot") for n in (1, 2)
    ]
    await publish(replica.settings, rough)
    for n in (1, 2):
        await (
            card(alice, f"rough-{n}")
            .get_by_role("button", name="Reveal text")
            .click(timeout=SEEN_WITHIN_MS)
        )
        await expect(card(alice, f"rough-{n}").locator(".text")).to_have_text("you idiot")

    alert = sue.locator("#overloads .overload")
    await expect(alert).to_have_count(1, timeout=SEEN_WITHIN_MS)
    await expect(alert).to_contain_text("Queue billing: an agent passed the exposure threshold")
    await expect(alert.locator(".suggestion")).to_contain_text(
        "An agent on billing: 2 abusive messages revealed in the last 2 h."
    )
    await expect(alert.locator(".suggestion")).to_contain_text("offering a break or rotation")
    await expect(sue.locator("#supervisor")).not_to_contain_text("alice")
    await expect(alice.locator("#overloads .overload")).to_have_count(0)
    await screenshot(sue, "overload-alert")

    named = sam.locator("#overloads .overload")
    await expect(named).to_have_count(1, timeout=SEEN_WITHIN_MS)
    await expect(named.locator(".suggestion")).to_contain_text(
        "alice on billing: 2 abusive messages revealed in the last 2 h."
    )
    await screenshot(sam, "overload-alert-own-supervisor")


async def test_an_agent_practises_an_opening_and_the_feedback_stays_with_them(
    open_console: OpenConsole, tmp_path: Path
) -> None:
    reply = "I'm sorry about this. I guarantee it arrives by tomorrow."
    with practice_door(tmp_path) as door:
        page = await open_console(door, "/practice")
        await page.get_by_label("Token").fill(AGENT_TOKEN)
        await page.get_by_role("button", name="Start").click()
        await expect(page.locator("#status")).to_have_text("1 scenario")
        await page.locator("button.pick").click()
        # The conversation up to the escalation, anonymised.
        turns = page.locator("#transcript .turn")
        await expect(turns).to_have_count(4)
        await expect(turns.first).to_contain_text("Hi, I'm Person A. My order Reference 1")
        await expect(page.locator("#transcript")).not_to_contain_text("Anna")
        await expect(page.locator("#escalated")).to_contain_text("handed over to a person here")
        await page.get_by_label("Your opening to this customer").fill(reply)
        await screenshot(page, "practice-scenario")
        await page.get_by_role("button", name="Get feedback").click()

        await expect(page.locator("#score")).to_have_text("2 of 5 checks")
        checks = page.locator("li.check")
        await expect(checks).to_have_count(5)
        acknowledged = page.locator('li.check[data-check="acknowledges_emotion"]')
        await expect(acknowledged).to_have_class("check passed")
        promised = page.locator('li.check[data-check="promises_only_what_it_can_keep"]')
        await expect(promised).to_have_class("check missed")
        await expect(promised).to_contain_text("guarantee")
        await expect(page.locator("#example")).to_contain_text("One example: “I'm sorry, Person A")
        await expect(page.locator("#private")).to_contain_text("Only you see this")
        await screenshot(page, "practice-feedback")
    # Nothing of the round was kept where anyone else could read it.
    conn = connect(database_path(tmp_path), read_only=True)
    try:
        assert not [v for v in stored_values(conn) if isinstance(v, str) and "guarantee" in v]
    finally:
        conn.close()


async def test_the_insights_report_opens_with_its_charts_and_suppressed_groups(
    browser: Browser, tmp_path: Path
) -> None:
    floor(tmp_path / "record.sqlite3")
    report = write_report(
        tmp_path / "record.sqlite3", Window("acme", T0, T0 + DAY_S, "hour"), tmp_path / "r.html"
    )
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        page = await context.new_page()
        await page.goto(report.as_uri())
        await expect(page.locator("h1")).to_have_text("Warmline insights: acme")
        # matplotlib's charts, drawn: each an SVG with its title as text.
        charts = page.locator("figure.chart svg")
        assert await charts.count() >= 6
        await expect(charts.first).to_be_visible()
        await expect(page.locator("figure.chart").first).to_contain_text("negative customer turns")
        await expect(page.locator("td.suppressed").first).to_have_text("suppressed")
        await expect(page.locator("#privacy")).to_contain_text("fewer than 5 conversations")
        await expect(page.locator("body")).not_to_contain_text(AGENT)
        await page.screenshot(path=str(ARTIFACTS / "insights-report.png"), full_page=True)
    finally:
        await context.close()


async def test_a_supervisor_sees_the_insights_of_their_queues_live(
    open_console: OpenConsole, tmp_path: Path
) -> None:
    tokens = AgentDirectory.from_mapping(
        {"agents": [{"token_sha256": hash_key("floor-lead"), "tenant": "acme",
                     "agent_id": "lea", "queues": ["*"]}]}
    )  # fmt: skip
    with insights_door(tmp_path, tokens) as door:
        # Four more alerts about an agent on general: five there, six on billing.
        conn = connect(database_path(tmp_path))
        try:
            more = Floor(conn)
            for _ in range(4):
                more.overload_alert("general", "agent", time.time() - 600)
        finally:
            conn.close()
        page = await open_console(door, "/insights")
        await page.get_by_label("Token").fill("floor-lead")
        await page.get_by_role("button", name="Show").click()
        await expect(page.locator("#status")).to_contain_text("live, updated")
        climate = page.locator("#climate")
        await expect(climate.locator('tr[data-row="billing"]')).to_contain_text("0.50")
        # general has 2 conversations: suppressed; and the never-escalated beside
        # it too, or general could be worked out from the total.
        await expect(climate.locator('tr[data-row="general"]')).to_contain_text("suppressed")
        await expect(climate.locator('tr[data-row="(not escalated)"]')).to_contain_text(
            "suppressed"
        )
        await expect(page.locator("#climate-strip .col").first).to_be_attached()
        await expect(page.locator("#about")).to_contain_text("acme, every queue")
        overload = page.locator("#overload")
        # alerts, about the queue, about an agent (never who), about a team
        await expect(overload.locator('tr[data-row="billing"] td')).to_have_text(
            ["billing", "6", "4", "2", "0"]
        )
        await expect(overload.locator('tr[data-row="general"] td')).to_have_text(
            ["general", "5", "0", "5", "0"]
        )
        await expect(overload.locator('tr[data-row="all"] td')).to_have_text(
            ["all", "11", "4", "7", "0"]
        )
        await expect(page.locator("#overload-strip .col").first).to_be_attached()
        await expect(page.locator("main")).not_to_contain_text(AGENT)
        await screenshot(page, "insights-supervisor")


async def test_from_the_console_an_agent_practises_and_shares_and_the_supervisor_sees_it(
    make_notification: Any, open_console: OpenConsole, tmp_path: Path
) -> None:
    tokens = AgentDirectory.from_file(write_agents(tmp_path / "agents.yaml"))
    console_port = free_port()
    console_url = f"http://127.0.0.1:{console_port}"
    with practice_door(tmp_path / "record", tokens, console_url) as door:
        replica = make_notification(record_url=door.http_base, http_port=console_port)
        alice = await open_console(replica)
        sam = await open_console(replica)
        await signed_in(alice, "alice")
        await signed_in(sam, "sam", "supervisor,billing")
        # An agent is linked to practice; a supervisor queue's console to insights too.
        await expect(alice.get_by_role("link", name="Practice")).to_be_visible()
        await expect(alice.get_by_role("link", name="Insights")).to_be_hidden()
        await expect(sam.get_by_role("link", name="Insights")).to_be_visible()
        await screenshot(sam, "links-supervisor")

        # Sam's practice page, signed in by his console: nothing shared with him yet.
        async with sam.expect_popup() as opened:
            await sam.get_by_role("link", name="Practice").click()
        sam_practice = await opened.value
        shared = sam_practice.locator("#shared")
        await expect(shared).to_contain_text("Nothing shared with you yet.")

        # Alice practises from her console without typing her token again.
        async with alice.expect_popup() as opened:
            await alice.get_by_role("link", name="Practice").click()
        practice = await opened.value
        await expect(practice.locator("#status")).to_have_text("1 scenario")
        await practice.locator("button.pick").click()
        await practice.get_by_label("Your opening to this customer").fill(GOOD_REPLY)
        await practice.get_by_role("button", name="Get feedback").click()
        await expect(practice.locator("#score")).to_have_text("5 of 5 checks")
        await sam_practice.get_by_role("button", name="Refresh").click()
        await expect(shared).to_contain_text("Nothing shared with you yet.")

        await practice.get_by_role("button", name="Share this round with my supervisor").click()
        await expect(practice.locator("#my-shares li.share")).to_have_count(1)
        await expect(practice.locator("#my-shares")).to_contain_text("a round · queue billing")
        # Sam is her own supervisor (the tokens file says so): it went to him alone.
        await expect(practice.locator("#share-round")).to_have_text(
            "Shared with your supervisor sam"
        )
        await expect(practice.locator("#my-shares")).to_contain_text(
            "shared with your supervisor sam"
        )
        await screenshot(practice, "practice-shared-round")

        await sam_practice.get_by_role("button", name="Refresh").click()
        round_ = shared.locator("li.share.round")
        await expect(round_).to_have_count(1)
        await expect(round_).to_contain_text("alice shared a round · queue billing · 5 of 5 checks")
        await expect(round_.locator(".reply")).to_contain_text("I can see how frustrating")
        await screenshot(sam_practice, "practice-shared-with-supervisor")

        # She takes it back: it is gone for him.
        await practice.get_by_role("button", name="Take back").click()
        await expect(practice.locator("#mine")).to_be_hidden()
        await sam_practice.get_by_role("button", name="Refresh").click()
        await expect(shared).to_contain_text("Nothing shared with you yet.")
        await expect(shared).not_to_contain_text("frustrating")

        # His insights page, signed in by his console too.
        async with sam.expect_popup() as opened:
            await sam.get_by_role("link", name="Insights").click()
        insights = await opened.value
        await expect(insights.locator("#status")).to_contain_text("live, updated")
        await screenshot(insights, "insights-from-console")


#: A page on another site that opens the practice page and keeps posting it a token.
IMPOSTOR_PAGE = """<!doctype html><html><body>
<button id="open">open</button><span id="posted">0</span>
<script>
document.getElementById("open").onclick = () => {
  const practice = window.open(PRACTICE, "practice");
  let posted = 0;
  const timer = setInterval(() => {
    practice.postMessage({ warmline: "token", token: TOKEN }, "*");
    document.getElementById("posted").textContent = String(++posted);
    if (posted === 20) clearInterval(timer);
  }, 100);
};
</script></body></html>"""


@pytest.mark.parametrize("console_url", ["http://127.0.0.1:9", None], ids=["elsewhere", "unset"])
async def test_a_page_that_is_not_the_console_cannot_sign_the_practice_page_in(
    open_console: OpenConsole, tmp_path: Path, console_url: str | None
) -> None:
    # Another site opens the practice page and posts it a token (its own, say, so
    # that the agent's practice and shares would go to someone else): refused,
    # whether the console is elsewhere or not configured at all.
    from aiohttp import web

    with practice_door(tmp_path / "record", console_url=console_url) as door:
        page = IMPOSTOR_PAGE.replace("PRACTICE", repr(door.http_base + "/practice")).replace(
            "TOKEN", repr(AGENT_TOKEN)
        )
        app = web.Application()

        async def impostor(_: web.Request) -> web.Response:
            return web.Response(text=page, content_type="text/html")

        app.router.add_get("/", impostor)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:

            class Site:
                http_base = f"http://127.0.0.1:{runner.addresses[0][1]}"

            opener = await open_console(Site)
            async with opener.expect_popup() as opened:
                await opener.locator("#open").click()
            practice = await opened.value
            await expect(practice.get_by_label("Token")).to_be_visible()
            # Twenty tokens posted after the page loaded: none was taken.
            await expect(opener.locator("#posted")).to_have_text("20", timeout=10_000)
            await expect(practice.get_by_label("Token")).to_have_value("")
            await expect(practice.locator("#status")).not_to_have_text("1 scenario")
        finally:
            await runner.cleanup()
