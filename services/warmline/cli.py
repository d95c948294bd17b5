"""``warmline``: one command line for every service and tool."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from warmline.common.logging import configure_logging
from warmline.common.runtime import run_service
from warmline.common.settings import NotificationSettings, RecordSettings, Store, load_settings
from warmline.model import cli as model_cli
from warmline.model.contact_center import Part
from warmline.services import SERVICES, load_service

if TYPE_CHECKING:
    from warmline.record.database import Connection

T = TypeVar("T")
app = typer.Typer(
    help="Warmline: empathy-aware, real-time escalation for contact centers.",
    no_args_is_help=True,
    add_completion=False,
)

ServiceName = StrEnum("ServiceName", {name: name for name in SERVICES})  # type: ignore[misc]

# Options several commands share, defined once.
_AGENT_TOKEN = typer.Option(..., envvar="WARMLINE_AGENT_TOKEN", help="The agent token.")
_AGENT_ID = typer.Option("", help="Agent id (default: the token's agent).")
_RECORD_URL = typer.Option(
    f"http://localhost:{RecordSettings().http_port}", help="The record service's HTTP address."
)
_DATA_DIR = typer.Option(
    None,
    help="A SQLite record's data dir (default: the settings' database, "
    "WARMLINE_RECORD__DATABASE_URL, else WARMLINE_RECORD__DATA_DIR's file).",
)
_TO = typer.Option(None, "--to", help="ISO 8601 date or time (default: now).")


def _from_option(days: int) -> Any:
    """The ``--from`` option of a window that is ``days`` long unless given."""
    help_text = f"ISO 8601 date or time, UTC unless it says (default: {days} days before --to)."
    return typer.Option(None, "--from", help=help_text)


@app.command()
def serve(
    service: ServiceName = typer.Argument(..., help="Which service to run."),
    shadow: bool = typer.Option(
        False,
        "--shadow",
        help="decisioning only: run the shadow worker (WARMLINE_DECISIONING__SHADOW=true): "
        "the proposed overrides of DECISIONING__SHADOW_POLICY_DIR, recorded, never delivered.",
    ),
) -> None:
    """Run one service until SIGTERM/Ctrl-C (settings from WARMLINE_* variables)."""
    settings = load_settings()
    if shadow:
        if service.value != "decisioning":
            raise typer.BadParameter("--shadow is for `warmline serve decisioning` only")
        shadowed = settings.decisioning.model_copy(update={"shadow": True})
        settings = settings.model_copy(update={"decisioning": shadowed})
    configure_logging(service.value, settings.log_level, settings.log_format)
    main = load_service(service.value)(settings)
    run_service(main)


@app.command()
def replay(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="JSONL, one event a line."),
    target: str = typer.Option("localhost:50051", help="Ingestion gRPC address."),
    api_key: str = typer.Option(..., envvar="WARMLINE_API_KEY", help="The tenant's API key."),
    batch_size: int = typer.Option(100, min=1, max=1000, help="Events per stream message."),
) -> None:
    """Send a file of events through the ingestion gRPC stream, then print a summary."""
    from warmline.client.ingest import ReplayFileError
    from warmline.replay import replay_file

    try:
        summary, sent = asyncio.run(replay_file(file, target, api_key, batch_size))
    except ReplayFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps({"sent": sent, **summary.as_dict()}))
    if summary.outcomes.get("rejected") or summary.outcomes.get("retry"):
        raise typer.Exit(1)


@app.command()
def demo(
    sasl_ssl: bool = typer.Option(
        False, "--sasl-ssl", help="Connect every client over SASL_SSL (SCRAM-SHA-512)."
    ),
    insights_out: Path | None = typer.Option(
        None, help="Where the insights report of the demo goes (default: demo-results/)."
    ),
) -> None:
    """The main job on an embedded default: local Kafka, the services, sample conversations;
    it ends with the insights report of its own traffic."""
    from rich.console import Console

    from warmline.demo.runner import DEFAULT_INSIGHTS, print_summary, run_demo

    console = Console()
    configure_logging("demo", "WARNING", "text")
    # A fresh broker answers "coordinator not available" until its offsets topic
    # exists; aiokafka logs each retry as an error, which is noise in a demo.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        summary = asyncio.run(
            run_demo(
                console,
                os.environ.get("WARMLINE_KAFKA_VERSION"),
                sasl_ssl=sasl_ssl,
                insights_out=insights_out or DEFAULT_INSIGHTS,
            )
        )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: everything stopped[/yellow]")
        raise typer.Exit(130) from None
    print_summary(console, summary)


def _notification_target() -> str:
    return f"localhost:{NotificationSettings().grpc_port}"


@app.command("console")
def agent_console(
    tenant: str = typer.Option(..., help="The tenant; it must be the agent token's."),
    queue: list[str] = typer.Option(
        [], "--queue", help="A queue to watch (repeat); default: the token's queues."
    ),
    target: str = typer.Option(_notification_target(), help="Notification gRPC address."),
    token: str = _AGENT_TOKEN,
    agent: str = _AGENT_ID,
) -> None:
    """Watch escalations arrive live in the terminal until Ctrl-C, then print a summary."""
    from rich.console import Console

    from warmline.notification.terminal import ConsoleRefused, console_until_interrupted

    console = Console()
    configure_logging("console", "WARNING", "text")
    try:
        view = asyncio.run(console_until_interrupted(target, token, agent, tenant, queue, console))
    except ConsoleRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    console.print(view.summary(), highlight=False)


@app.command("pause")
def agent_pause(
    minutes: float = typer.Option(
        0.0, min=0.0, help="How long; default: the service's (5 minutes unless set)."
    ),
    all_offers: bool = typer.Option(
        False, "--all", help="Hold back every offer, not only high-intensity ones."
    ),
    target: str = typer.Option(_notification_target(), help="Notification gRPC address."),
    token: str = _AGENT_TOKEN,
    agent: str = _AGENT_ID,
) -> None:
    """I need a minute: hold high-intensity offers back from me for a while."""
    _change_pause(target, token, agent, round(minutes * 60), all_offers)


@app.command("resume")
def agent_resume(
    target: str = typer.Option(_notification_target(), help="Notification gRPC address."),
    token: str = _AGENT_TOKEN,
    agent: str = _AGENT_ID,
) -> None:
    """End my pause now: offers reach me again."""
    _change_pause(target, token, agent, None, False)


def _change_pause(
    target: str, token: str, agent: str, seconds: int | None, all_offers: bool
) -> None:
    """Pause (``seconds``) or resume (None) and print what the service said."""
    from warmline.notification.terminal import ConsoleRefused, change_pause

    try:
        said = asyncio.run(change_pause(target, token, agent, seconds, all_offers))
    except ConsoleRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(said)


class PracticeShare(StrEnum):
    """What ``warmline practice --share`` shares."""

    round = "round"
    summary = "summary"


@app.command("practice")
def agent_practice(
    url: str = _RECORD_URL,
    token: str = _AGENT_TOKEN,
    scenario: str = typer.Option("", help="A scenario id; default: the newest."),
    reply: str = typer.Option("", help="Your opening; asked for when not given."),
    rounds: int = typer.Option(
        1, min=1, max=50, help="Practise this many of the newest scenarios."
    ),
    share: PracticeShare | None = typer.Option(
        None,
        help="Share with your supervisor: each round (your opening and its checks) or a "
        "summary (how many rounds passed each check, no words).",
    ),
) -> None:
    """Empathy practice: read a scenario up to its escalation, write your opening, get
    feedback on what it says. Only you see it and nothing is kept, unless you --share."""
    from rich.console import Console

    from warmline.practice.terminal import (
        PracticeClient,
        PracticeRefused,
        practice_rounds,
        share_practice,
        share_view,
    )

    console = Console()
    client = PracticeClient(url, token)

    def ask() -> str:
        return reply or str(typer.prompt("Your opening to this customer"))

    try:
        practised = practice_rounds(client, console.print, ask, scenario, rounds)
        if share is not None:
            summary = share is PracticeShare.summary
            for shared in share_practice(client, practised, summary=summary):
                console.print(share_view(shared, with_agent=False))
            console.print("Shared. Take it back with: warmline practice-shares --take-back ID")
    except PracticeRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command("practice-shares")
def agent_practice_shares(
    url: str = _RECORD_URL,
    token: str = _AGENT_TOKEN,
    take_back: str = typer.Option("", help="Take back (delete) the share with this id."),
    shared_with_me: bool = typer.Option(
        False, "--shared-with-me", help="For supervisors: what agents shared with you."
    ),
) -> None:
    """What you share of your practice with your supervisor (and --take-back ID), or,
    for a supervisor, what agents shared with you (--shared-with-me)."""
    from rich.console import Console

    from warmline.practice.terminal import PracticeClient, PracticeRefused, share_view

    console = Console()
    client = PracticeClient(url, token)
    try:
        if take_back:
            client.take_back(take_back)
            console.print(f"Taken back: {take_back} is deleted; no supervisor sees it.")
            return
        listed = client.shared_with_me() if shared_with_me else client.my_shares()
    except PracticeRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for shared in listed:
        console.print(share_view(shared, with_agent=shared_with_me))
    console.print(f"{len(listed)} shared" + (" with you." if shared_with_me else " by you."))


def _read_record(data_dir: Path | None, read: Callable[[Connection], T]) -> T:
    """``read`` on a read-only connection to the record: the SQLite file under ``data_dir``
    when given, else the database of the settings (WARMLINE_RECORD__DATABASE_URL or the
    data dir's file); exits 2 with one line when it cannot be read."""
    from warmline.record.database import RecordDatabase, database_errors, database_path

    database = (
        RecordDatabase(path=database_path(data_dir))
        if data_dir is not None
        else RecordDatabase.from_settings(load_settings().record)
    )
    try:
        conn = database.connect(read_only=True)
        try:
            return read(conn)
        finally:
            conn.close()
    except database_errors() as exc:
        typer.echo(f"error: cannot read the record at {database}: {exc}", err=True)
        raise typer.Exit(2) from exc


def _window(start: str | None, end: str | None, days: int) -> tuple[float, float]:
    """``--from`` and ``--to`` as epoch seconds: to defaults to now, from to ``days``
    before it; an unreadable time or an empty window is a bad parameter."""
    import time

    from warmline.insights.aggregates import WindowError, parse_time

    try:
        to = parse_time(end, "to") if end else time.time()
        since = parse_time(start, "from") if start else to - days * 86_400
    except WindowError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if since >= to:
        raise typer.BadParameter("--from must be before --to")
    return since, to


class AuditFormat(StrEnum):
    """How ``warmline audit`` prints."""

    text = "text"
    json = "json"


@app.command()
def audit(
    conversation_id: str = typer.Argument(..., help="The conversation to audit."),
    tenant: str | None = typer.Option(None, help="Only this tenant's conversation of that id."),
    output: AuditFormat = typer.Option(AuditFormat.text, "--format", help="text or json."),
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """Every recorded decision of a conversation, in order: action, reasons, queue,
    priority, policy and model versions, trajectory, claims and verdicts."""
    from warmline.record.audit import as_text, conversation_audit

    decisions = _read_record(
        data_dir, lambda conn: conversation_audit(conn, conversation_id, tenant)
    )
    if output is AuditFormat.json:
        typer.echo(json.dumps({"conversation_id": conversation_id, "decisions": decisions}))
    else:
        typer.echo(as_text(conversation_id, decisions))
    if not decisions:
        raise typer.Exit(1)


class InsightsFormat(StrEnum):
    """What ``warmline insights`` writes."""

    html = "html"
    json = "json"


@app.command()
def insights(
    tenant: str = typer.Option(..., help="The tenant."),
    start: str | None = _from_option(7),
    end: str | None = _TO,
    out: Path = typer.Option(Path("insights.html"), help="Where the HTML report goes."),
    output: InsightsFormat = typer.Option(
        InsightsFormat.html, "--format", help="html (the report at --out) or json (printed)."
    ),
    bucket: str = typer.Option("auto", help="auto, hour, day or week."),
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """Insights for leaders, aggregates only: emotional climate per queue, escalations by
    reason and queue, time to claim, de-escalation and resolution, false-alarm rates, CSAT
    after an escalation and without. Groups smaller than WARMLINE_RECORD__INSIGHTS_MIN_GROUP
    conversations are suppressed."""
    import time

    from warmline.insights.aggregates import WindowError, make_window
    from warmline.insights.aggregates import insights as aggregate

    record = load_settings().record
    try:
        window = make_window(
            tenant, start, end, bucket=bucket, min_group=record.insights_min_group, now=time.time()
        )
    except WindowError as exc:
        raise typer.BadParameter(str(exc)) from exc
    numbers = _read_record(data_dir, lambda conn: aggregate(conn, window))
    if output is InsightsFormat.json:
        typer.echo(json.dumps(numbers))
        return
    try:
        from warmline.insights.report import render
    except ImportError as exc:  # matplotlib: the 'reports' extra, not in the services image
        typer.echo(
            "error: the HTML report needs matplotlib: pip install 'warmline[reports]' "
            "(or print the figures with --format json)",
            err=True,
        )
        raise typer.Exit(2) from exc

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(numbers), encoding="utf-8")
    typer.echo(f"insights report: {out.resolve()}")


class LabelKind(StrEnum):
    """Where a backtest's emotions come from."""

    emotion = "emotion"
    escalation = "escalation"


@app.command()
def backtest(
    input_file: Path | None = typer.Option(
        None, "--input", exists=True, dir_okay=False, help="Labelled JSONL."
    ),
    contact_center: Part | None = typer.Option(
        None,
        "--contact-center",
        help="Instead of --input: the packaged contact-center conversations (dev or test).",
    ),
    policy: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="Policy YAML (default: packaged)."
    ),
    labels: LabelKind = typer.Option(
        LabelKind.escalation, help="emotion: gold labels replace the model."
    ),
    report: Path | None = typer.Option(None, help="Write an HTML report with trajectories here."),
    model: Path | None = typer.Option(
        None,
        "--model",
        exists=True,
        file_okay=False,
        help="Model bundle directory (default: the packaged one), e.g. from `model adapt`.",
    ),
) -> None:
    """Replay labelled conversations through the policy; print precision, recall, lateness."""
    from warmline.decisioning.backtest import BacktestInputError, read_conversations, run_backtest
    from warmline.decisioning.backtest_report import render_report
    from warmline.decisioning.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy

    if (input_file is None) == (contact_center is None):
        typer.echo("error: give exactly one of --input and --contact-center", err=True)
        raise typer.Exit(2)
    if contact_center is not None:
        input_file = _contact_center_replay(contact_center.value)
    assert input_file is not None
    try:
        conversations = read_conversations(input_file)
        loaded = load_policy(policy or DEFAULT_POLICY_PATH)
    except (BacktestInputError, PolicyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    scorer = None
    if labels is LabelKind.escalation:
        from warmline.model.context import ContextualScorer
        from warmline.model.engine import EmotionEngine

        scorer = ContextualScorer(EmotionEngine(model)).score
    metrics, outcomes = run_backtest(conversations, loaded, scorer)
    if report is not None:
        report.write_text(render_report(metrics, outcomes))
    typer.echo(json.dumps(metrics))


def _contact_center_replay(part: str) -> Path:
    """The packaged contact-center conversations of ``part`` as a replay file."""
    import tempfile

    from warmline.model import contact_center as cc

    conversations = cc.part(cc.read_conversations(cc.EVAL_FILE), part)
    folder = Path(tempfile.mkdtemp(prefix="warmline-backtest-"))
    return cc.write_replay(conversations, folder / f"contact-center-{part}.jsonl")


policy_commands = typer.Typer(
    help="The escalation policy: proposals from agents' verdicts, shadow comparisons.",
    no_args_is_help=True,
)
app.add_typer(policy_commands, name="policy")


class TuneFormat(StrEnum):
    """How ``warmline policy tune`` prints."""

    text = "text"
    json = "json"


@policy_commands.command("tune")
def policy_tune(
    tenant: str = typer.Option(..., help="The tenant."),
    start: str | None = _from_option(30),
    end: str | None = _TO,
    policy: Path | None = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="The policy in force (default: DECISIONING__POLICY_FILE, else the packaged one).",
    ),
    min_conversations: int = typer.Option(
        20, min=1, help="Refuse with fewer conversations with verdicts than this."
    ),
    count_unescalated_as_calm: bool = typer.Option(
        False,
        "--count-unescalated-as-calm",
        help="Count conversations never escalated and without verdicts as needing no person.",
    ),
    output: TuneFormat = typer.Option(TuneFormat.text, "--format", help="text or json."),
    out: Path | None = typer.Option(
        None, help="Write the proposed tenant override (YAML) here; never the live policy's folder."
    ),
    shadow: bool = typer.Option(
        False,
        "--shadow",
        help="Also run the proposal as a shadow policy: its decisions are recorded next to "
        "the live ones and never delivered (see `warmline policy compare`).",
    ),
    shadow_dir: Path | None = typer.Option(
        None, help="Where shadow policies go (default: WARMLINE_DECISIONING__SHADOW_POLICY_DIR)."
    ),
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """Replay the recorded conversations with verdicts through a small grid of thresholds
    and propose a tenant override with precision, recall, alerts per 100 conversations
    and lateness before and after. Nothing is applied: a person reviews the proposal;
    with --shadow the shadow worker decides with it, recorded, never delivered."""
    from warmline.decisioning.policy import DEFAULT_POLICY_PATH, PolicyError
    from warmline.decisioning.tune import TooFewVerdicts, as_text, header, tune
    from warmline.record.tuning_set import read_tuning_set

    settings = load_settings()
    policy_path = policy or settings.decisioning.policy_file or DEFAULT_POLICY_PATH
    live = {p.resolve().parent for p in (policy_path, settings.decisioning.policy_file) if p}
    shadow_dir = shadow_dir or settings.decisioning.shadow_policy_dir
    writes = [out.resolve().parent] if out is not None else []
    writes += [shadow_dir.resolve()] if shadow else []
    if any(w.is_relative_to(d) for w in writes for d in live):
        typer.echo(
            f"error: {out if out is not None else shadow_dir} is in the folder of a live policy "
            "file: write the proposal elsewhere, for a person to review",
            err=True,
        )
        raise typer.Exit(2)
    since, to = _window(start, end, days=30)
    tuning_set = _read_record(
        data_dir,
        lambda conn: read_tuning_set(
            conn, tenant, since, to, unescalated_as_calm=count_unescalated_as_calm
        ),
    )
    try:
        proposal = tune(
            policy_path.read_text(encoding="utf-8"),
            str(policy_path),
            tuning_set,
            min_conversations=min_conversations,
            progress=_tune_progress(),
        )
    except (TooFewVerdicts, PolicyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(header(proposal) + proposal.override_yaml, encoding="utf-8")
    shadow_file = None
    if shadow:
        from warmline.decisioning.shadow import write_override

        shadow_file = write_override(
            shadow_dir, tenant, header(proposal) + proposal.override_yaml
        ).resolve()
    if output is TuneFormat.json:
        found = proposal.as_json()
        if shadow_file is not None:
            found["shadow_file"] = str(shadow_file)
        typer.echo(json.dumps(found))
    else:
        typer.echo(as_text(proposal))
        if out is not None:
            typer.echo(f"proposed override (not applied): {out.resolve()}")
        if shadow_file is not None:
            typer.echo(_shadow_started(tenant, shadow_file))


def _shadow_started(tenant: str, shadow_file: Path) -> str:
    """What to do once a proposal runs as a shadow policy."""
    return (
        f"shadow policy (recorded, never delivered to agents): {shadow_file}\n"
        "a running shadow worker picks it up within DECISIONING__POLICY_RELOAD_S; to start one:\n"
        f"  WARMLINE_DECISIONING__SHADOW_POLICY_DIR={shadow_file.parent} "
        "warmline serve decisioning --shadow\n"
        "then, once it has decided some traffic:\n"
        f"  warmline policy compare --tenant {tenant} --from <when it started>"
    )


def _tune_progress() -> Callable[[int, int], None]:
    """Candidates replayed so far, on stderr (a terminal only)."""
    from rich.console import Console

    console = Console(stderr=True)

    def show(done: int, total: int) -> None:
        if console.is_terminal:
            end = "\n" if done == total else "\r"
            console.print(f"candidates replayed: {done}/{total}", end=end, highlight=False)

    return show


@policy_commands.command("compare")
def policy_compare(
    tenant: str = typer.Option(..., help="The tenant."),
    start: str | None = _from_option(7),
    end: str | None = _TO,
    shadow_version: str | None = typer.Option(
        None, help="The shadow policy version to compare (default: the newest in the window)."
    ),
    output: TuneFormat = typer.Option(TuneFormat.text, "--format", help="text or json."),
    data_dir: Path | None = _DATA_DIR,
) -> None:
    """Where the shadow policy and the live one differ on the same conversations (those
    whose first turn is in the window): escalated by one only, sooner or later, another
    queue, priority or reasons; and against agents' verdicts, the false alarms the shadow
    would have avoided and the needed escalations it would have missed."""
    from warmline.decisioning.compare import as_text
    from warmline.record.shadow_comparison import NothingToCompare, read_comparison

    since, to = _window(start, end, days=7)
    try:
        comparison = _read_record(
            data_dir, lambda conn: read_comparison(conn, tenant, since, to, shadow_version)
        )
    except NothingToCompare as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if output is TuneFormat.json:
        typer.echo(json.dumps(comparison.as_json()))
    else:
        typer.echo(as_text(comparison))


keys = typer.Typer(help="Tenant API keys and agent tokens.", no_args_is_help=True)
app.add_typer(keys, name="keys")


@keys.command("new")
def keys_new(tenant: str = typer.Argument(..., help="Tenant id.")) -> None:
    """Create an API key; print it once, and the entry for the credentials file."""
    from warmline.common.credentials import hash_key

    key = f"wl_{tenant}_{secrets.token_urlsafe(24)}"
    typer.echo(f"api key (give it to the platform, it is not stored): {key}")
    typer.echo(
        f"credentials file entry:\ntenants:\n  {tenant}:\n    api_key_sha256: [{hash_key(key)}]"
    )


@keys.command("new-agent")
def keys_new_agent(
    agent: str = typer.Argument(..., help="Agent id."),
    tenant: str = typer.Option(..., help="The agent's tenant."),
    queue: list[str] = typer.Option(
        ..., "--queue", help="A queue the agent may watch (repeat); '*' for every queue."
    ),
) -> None:
    """Create an agent token; print it once, and the entry for the agent tokens file."""
    import yaml

    from warmline.common.credentials import hash_key

    token = f"wla_{tenant}_{secrets.token_urlsafe(24)}"
    entry = {"token_sha256": hash_key(token), "tenant": tenant, "agent_id": agent, "queues": queue}
    typer.echo(f"agent token (give it to the agent, it is not stored): {token}")
    typer.echo("agent tokens file entry:\n" + yaml.safe_dump({"agents": [entry]}, sort_keys=False))


bench = typer.Typer(help="Benchmarks; each writes its result as JSON.", no_args_is_help=True)
app.add_typer(bench, name="bench")


@bench.command("ingest")
def bench_ingest(
    out: Path = typer.Option(Path("bench/results/ingest.json"), help="Where the JSON goes."),
    seconds: float = typer.Option(10.0, min=1.0, help="Duration of each measurement."),
) -> None:
    """Ingestion events/s over one stream vs. a bare producer, and ack latency at 5,000/s."""
    from warmline.bench import ingest

    typer.echo(json.dumps(ingest.run(out, seconds), indent=2))


@bench.command("model")
def bench_model(
    out: Path = typer.Option(Path("bench/results/model.json"), help="Where the JSON goes."),
    quantize: bool = typer.Option(
        False, help="int8 dynamic quantization (no gain on AVX2-only CPUs)."
    ),
) -> None:
    """Emotion engine msgs/s and batch latency vs. one-message-at-a-time scoring."""
    from warmline.bench import model

    typer.echo(json.dumps(model.run(out, quantize=quantize), indent=2))


@bench.command("scoring")
def bench_scoring(
    out: Path = typer.Option(Path("bench/results/scoring.json"), help="Where the JSON goes."),
    messages: int = typer.Option(4096, min=64, help="Messages scored per measurement."),
) -> None:
    """Scoring service msgs/s vs. the bare model, and added latency at half of saturation."""
    from warmline.bench import scoring

    typer.echo(json.dumps(scoring.run(out, messages), indent=2))


@bench.command("decisioning")
def bench_decisioning(
    out: Path = typer.Option(Path("bench/results/decisioning.json"), help="Where the JSON goes."),
    events: int = typer.Option(50_000, min=1_000, help="Scored events in the topic."),
    conversations: int = typer.Option(2_000, min=1, help="Conversations they belong to."),
    passes: int = typer.Option(3, min=1, help="Passes over the records; rates are medians."),
) -> None:
    """Decisioning worker events/s vs. a bare aiokafka consume-produce-commit loop."""
    from warmline.bench import decisioning

    typer.echo(json.dumps(decisioning.run(out, events, conversations, passes=passes), indent=2))


@bench.command("record")
def bench_record(
    out: Path = typer.Option(Path("bench/results/record.json"), help="Where the JSON goes."),
    events: int = typer.Option(50_000, min=100, help="Scored events in the backlog."),
    conversations: int = typer.Option(2_000, min=1, help="Conversations (one decision each)."),
    live_rate: float = typer.Option(5_000.0, min=1.0, help="Scored events/s offered live."),
    live_seconds: float = typer.Option(10.0, min=1.0, help="Duration of the live phase."),
    database_url: str | None = typer.Option(
        None,
        help="An empty PostgreSQL database to write into (default: WARMLINE_RECORD__DATABASE_URL; "
        "neither: a new SQLite file); its password from WARMLINE_RECORD__DATABASE_PASSWORD[_FILE].",
    ),
) -> None:
    """The record service's write rate into SQLite or PostgreSQL through a backlog,
    and its lag while scored events and decisions arrive live."""
    from pydantic import ValidationError

    from warmline.bench import record
    from warmline.record.database import RecordDatabase

    configured = load_settings().record
    url = database_url or configured.database_url
    database = None
    if url is not None:
        try:
            chosen = RecordSettings.model_validate({**configured.model_dump(), "database_url": url})
        except ValidationError as exc:  # the messages only: the input holds the URL
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            typer.echo(f"error: --database-url: {reasons}", err=True)
            raise typer.Exit(2) from None
        database = RecordDatabase.from_settings(chosen)
    try:
        result = record.run(out, events, conversations, live_rate, live_seconds, database=database)
    except record.BenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(result, indent=2))


@bench.command("notification")
def bench_notification(
    out: Path = typer.Option(Path("bench/results/notification.json"), help="Where the JSON goes."),
    streams: int = typer.Option(2_000, min=10, help="Concurrent console streams."),
    rate: float = typer.Option(200.0, min=1.0, help="Decisions per second (10 consoles each)."),
    seconds: float = typer.Option(10.0, min=1.0, help="Duration of the measurement."),
) -> None:
    """Console streams per process, deliveries/s and fan-out latency from the record read."""
    from warmline.bench import notification

    typer.echo(json.dumps(notification.run(out, streams, rate, seconds), indent=2))


@bench.command("e2e")
def bench_e2e(
    out: Path = typer.Option(Path("bench/results/e2e.json"), help="Where the JSON goes."),
    rates: str = typer.Option(
        "100,200,300,400", help="Offered customer messages/s of the step search, in order."
    ),
    seconds: float = typer.Option(20.0, min=5.0, help="Duration of each step."),
    sasl_ssl: bool = typer.Option(
        False, "--sasl-ssl", help="Every client over the broker's SASL_SSL listener (SCRAM)."
    ),
) -> None:
    """The four services as processes: door-to-console latency, lost and duplicated
    events under a fixed offered rate, and the highest rate meeting the p99 target."""
    from warmline.bench import e2e

    try:
        steps = [float(rate) for rate in rates.split(",")]
    except ValueError as exc:
        raise typer.BadParameter(f"rates: numbers separated by commas ({exc})") from exc
    typer.echo(json.dumps(e2e.run(out, steps, seconds, sasl_ssl=sasl_ssl), indent=2))


@bench.command("chaos")
def bench_chaos(
    out: Path = typer.Option(Path("bench/results/chaos.json"), help="Where the JSON goes."),
    rate: float = typer.Option(50.0, min=1.0, help="Offered customer messages/s throughout."),
    store: str = typer.Option(
        "memory",
        help="Decisioning's DECISIONING__STORE: memory, or sqlite (each worker on its own "
        "file; a killed one restarts on it).",
    ),
) -> None:
    """Steady load while each service is killed and restarted, the broker restarts and
    decisioning scales 1 -> 3 -> 1: lost, duplicated, missing and recovery times."""
    from warmline.bench import chaos

    typer.echo(json.dumps(chaos.run(out, rate, store=_store(store)), indent=2))


def _store(value: str) -> Store:
    """A ``--store`` option's value, checked."""
    if value == "memory":
        return "memory"
    if value == "sqlite":
        return "sqlite"
    raise typer.BadParameter(f"store: memory or sqlite, not {value!r}")


@bench.command("restore")
def bench_restore(
    out: Path = typer.Option(Path("bench/results/restore.json"), help="Where the JSON goes."),
    sizes: str | None = typer.Option(
        None,
        help="CONVERSATIONS:CUSTOMERS pairs, in order, separated by commas (default: "
        "empty, 10k, 50k and 200k conversations, 1M customers, 200k with 1M).",
    ),
    store: str = typer.Option(
        "memory",
        help="The worker's DECISIONING__STORE: memory, or sqlite (then it starts twice per "
        "size, the second time on the local database the first start filled).",
    ),
) -> None:
    """A decisioning worker's start on full changelogs: time until it decides a probe
    with its restored state, and its peak resident memory, per size."""
    from warmline.bench import restore

    try:
        steps = [restore.Size.parse(size) for size in sizes.split(",")] if sizes else None
    except ValueError as exc:
        raise typer.BadParameter(f"sizes: CONVERSATIONS:CUSTOMERS pairs ({exc})") from exc
    result = restore.run(out, steps or restore.DEFAULT_SIZES, store=_store(store))
    typer.echo(json.dumps(result, indent=2))


@bench.command("all")
def bench_all(
    out_dir: Path = typer.Option(Path("bench/results"), help="Directory for the JSON files."),
) -> None:
    """Every benchmark, one JSON file each (what `make bench` runs)."""
    from warmline.bench import decisioning, e2e, ingest, model, record, scoring

    for name, run in (
        ("ingest", ingest.run),
        ("model", model.run),
        ("scoring", scoring.run),
        ("decisioning", decisioning.run),
        ("record", record.run),
        ("e2e", e2e.run),
    ):
        typer.echo(f"{name}: {json.dumps(run(out_dir / f'{name}.json'))}")


app.add_typer(model_cli.app, name="model")

pii = typer.Typer(help="Personal data redaction at the ingestion door.", no_args_is_help=True)
app.add_typer(pii, name="pii")


@pii.command("eval")
def pii_eval(
    part: str = typer.Option("test", help="dev (what the rules were tuned on), test or all."),
    data: Path | None = typer.Option(None, help="A labelled set (default: the shipped one)."),
    details: bool = typer.Option(False, help="Also list what was missed and redacted wrongly."),
) -> None:
    """Precision and recall of the redactor per kind, as JSON, on a labelled set."""
    from warmline.ingestion.pii_eval import DEFAULT_SET, PiiSetError, evaluate, read_set

    try:
        messages = read_set(data or DEFAULT_SET, part)
    except (PiiSetError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps({"part": part, **evaluate(messages).as_json(details)}, indent=2))


def main() -> None:
    """Entry point of ``python -m warmline``."""
    app(prog_name="warmline")
