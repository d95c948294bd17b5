"""``warmline model``: train and evaluate the emotion model.

Mounted by the main CLI as a sub-app (``app.add_typer(model.cli.app, name="model")``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from warmline.decisioning.policy import Policy
from warmline.model.contact_center import TRAIN_FILE as DEFAULT_CC_TRAIN
from warmline.model.contact_center import Part
from warmline.model.paths import DEFAULT_DATA_DIR, DEFAULT_MODEL_DIR

app = typer.Typer(help="Train and evaluate the emotion model.", no_args_is_help=True)
_console = Console(stderr=True)


class SplitName(StrEnum):
    """Evaluation splits (test is for acceptance runs only)."""

    dev = "dev"
    test = "test"


class Suite(StrEnum):
    """What ``model eval`` measures."""

    goemotions = "goemotions"
    contact_center = "contact-center"


class BackendName(StrEnum):
    """Engine backends (``warmline.model.engine.Backend``)."""

    auto = "auto"
    torch = "torch"
    onnx = "onnx"
    onnx_fp32 = "onnx-fp32"


class OutputFormat(StrEnum):
    """How ``eval`` prints its metrics."""

    json = "json"
    text = "text"


def _progress_factory(progress: Progress) -> Callable[[str, int], Callable[[int], None]]:
    def factory(description: str, total: int) -> Callable[[int], None]:
        task = progress.add_task(description, total=total)
        return lambda n: progress.advance(task, n)

    return factory


@app.command("train")
def train_command(
    data: Path = typer.Option(DEFAULT_DATA_DIR, "--data", help="GoEmotions directory."),
    out: Path = typer.Option(DEFAULT_MODEL_DIR, "--out", help="Where to write the bundle."),
    seed: int = typer.Option(13, "--seed", help="Seed for every random choice."),
    finetune_layers: int = typer.Option(
        6, "--finetune-layers", min=0, max=6, help="Top encoder layers to fine-tune (0: head only)."
    ),
    finetune_epochs: int = typer.Option(2, "--finetune-epochs", min=0),
    group_head: bool = typer.Option(
        True,
        "--group-head/--no-group-head",
        help="Also train a head on the Ekman/sentiment groups.",
    ),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads."),
    contact_center: Path = typer.Option(
        DEFAULT_CC_TRAIN,
        "--contact-center",
        help="Labelled contact-center conversations (JSONL) fine-tuned alongside GoEmotions.",
    ),
    contact_center_weight: float = typer.Option(
        1.0,
        "--contact-center-weight",
        min=0.0,
        help="Loss weight of the contact-center batches (0: GoEmotions only).",
    ),
) -> None:
    """Train head (+ top layers), calibrate on dev, write weights and model.json."""
    from warmline.model import contact_center as cc
    from warmline.model.train import TrainConfig, summarize, train

    config = TrainConfig(
        seed=seed,
        threads=threads,
        finetune_layers=finetune_layers,
        finetune_epochs=finetune_epochs,
        group_head=group_head,
        contact_center_weight=contact_center_weight,
    )
    conversations = None
    if contact_center_weight > 0 and finetune_layers > 0:
        try:
            train_conversations = cc.read_conversations(contact_center)
        except (OSError, cc.DataError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--contact-center") from exc
        dev = cc.part(cc.read_conversations(cc.EVAL_FILE), "dev")
        conversations = (cc.fitting_part(train_conversations), dev)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_console) as progress:
        card = train(
            data, out, config, _progress_factory(progress), progress.console.log, conversations
        )
    typer.echo(json.dumps(summarize(card), indent=2))


@app.command("eval")
def eval_command(
    data: Path = typer.Option(DEFAULT_DATA_DIR, "--data", help="GoEmotions directory."),
    split: SplitName = typer.Option(SplitName.dev, "--split"),
    output: OutputFormat = typer.Option(OutputFormat.json, "--format"),
    report: Path | None = typer.Option(None, "--report", help="Write an HTML report here."),
    model: Path = typer.Option(DEFAULT_MODEL_DIR, "--model", help="Model bundle directory."),
    quantize: bool = typer.Option(False, "--quantize", help="int8 (torch backend)."),
    backend: BackendName = typer.Option(
        BackendName.auto,
        "--backend",
        help="auto: ONNX Runtime int8 on CPU when installed; torch/onnx-fp32: fp32.",
    ),
    threads: int | None = typer.Option(None, "--threads", min=1),
    suite: Suite = typer.Option(
        Suite.goemotions,
        "--suite",
        help="goemotions: a GoEmotions split; contact-center: Warmline's own set "
        "(--split test or dev), turn and escalation metrics.",
    ),
    contact_set: Path | None = typer.Option(
        None,
        "--set",
        exists=True,
        dir_okay=False,
        help="contact-center suite: a labelled set of your own, in the shipped set's "
        "format (JSONL conversations, signals on customer turns); all of it is scored.",
    ),
) -> None:
    """Score a split and print macro/micro/Ekman/sentiment F1, per-label F1 and ECE
    (GoEmotions), or the contact-center suite's metrics."""
    if suite is Suite.contact_center:
        figures = _contact_center(model, Part(split.value), contact_set)
        typer.echo(json.dumps(figures, indent=2))
        return
    if contact_set is not None:
        raise typer.BadParameter(
            "--set is a contact-center set: use it with --suite contact-center"
        )
    from warmline.model.evaluate import evaluate_split, summary
    from warmline.model.report import render_report

    evaluation = evaluate_split(
        data,
        split.value,
        model,
        threads=threads,
        quantize=quantize,
        backend=backend.value,
    )
    result = summary(evaluation.metrics)
    if output is OutputFormat.json:
        typer.echo(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            if isinstance(value, dict):
                typer.echo(f"{key}:")
                for name, score in value.items():
                    typer.echo(f"  {name:<16} {score:.4f}")
            elif isinstance(value, float):
                typer.echo(f"{key:<20} {value:.4f}")
            else:
                typer.echo(f"{key:<20} {value}")
    if report is not None:
        report.write_text(render_report(evaluation.metrics, evaluation.reliability), "utf-8")
        _console.log(f"report written to {report}")


def _load_policy(policy: Path | None) -> Policy:
    from warmline.decisioning.policy import DEFAULT_POLICY_PATH, load_policy

    return load_policy(policy or DEFAULT_POLICY_PATH)


def _contact_center(model: Path, part: Part, own_set: Path | None) -> dict[str, object]:
    """The suite's report on ``part`` of the shipped set, or on all of ``own_set``: a
    user's own labelled set, which has no parts."""
    import tempfile

    from warmline.model import contact_center as cc
    from warmline.model.contact_center_eval import evaluate
    from warmline.model.engine import EmotionEngine

    if own_set is None:
        conversations = cc.part(cc.read_conversations(cc.EVAL_FILE), part.value)
    else:
        try:
            conversations = cc.read_conversations(own_set)
        except cc.DataError as exc:
            raise typer.BadParameter(str(exc), param_hint="--set") from exc
        if not any(t.signals is not None for c in conversations for t in c.customer_turns):
            raise typer.BadParameter(
                f"{own_set}: no customer turn with `signals`: the suite scores labelled turns",
                param_hint="--set",
            )
    engine = EmotionEngine(model)
    with tempfile.TemporaryDirectory() as tmp:
        result = evaluate(engine, conversations, _load_policy(None), Path(tmp) / "replay.jsonl")
    result["part"] = part.value if own_set is None else "all"
    if own_set is not None:
        result["set"] = str(own_set)
    return result


@app.command("train-signals")
def train_signals_command(
    data: Path = typer.Option(DEFAULT_DATA_DIR, "--data", help="GoEmotions directory."),
    base: Path = typer.Option(DEFAULT_MODEL_DIR, "--base", help="Bundle to add the head to."),
    out: Path = typer.Option(DEFAULT_MODEL_DIR, "--out", help="Where to write the bundle."),
    seed: int = typer.Option(13, "--seed"),
    epochs: int = typer.Option(30, "--epochs", min=1),
) -> None:
    """Train the contact-center heads: the signal head (GoEmotions train plus the
    project's training conversations), the situation head and the lexical model;
    early stopping and calibration on the evaluation set's dev part."""
    from warmline.model import contact_center as cc
    from warmline.model.signal_training import (
        FitConfig,
        train_lexical,
        train_signal_head,
        train_situation_head,
    )

    train = cc.read_conversations(cc.TRAIN_FILE)
    dev = cc.part(cc.read_conversations(cc.EVAL_FILE), "dev")
    card = train_signal_head(
        base,
        out,
        data,
        train,
        dev,
        config=FitConfig(seed=seed, epochs=epochs),
        log=_console.log,
        cache_dir=Path.home() / ".cache" / "warmline" / "model-features",
    )
    _console.log("situation head")
    train_situation_head(out, train, dev, log=_console.log)
    _console.log("lexical model")
    card = train_lexical(out, train, dev)
    typer.echo(json.dumps({"model_version": card.model_version}, indent=2))


@app.command("export-serving")
def export_serving_command(
    out: Path = typer.Option(..., "--out", help="The serving directory to write."),
    model: Path = typer.Option(DEFAULT_MODEL_DIR, "--model", help="The bundle to export."),
) -> None:
    """Export the bundle's encoder and heads as the int8 ONNX graph the scoring service
    runs without torch (WARMLINE_SCORING__SERVING_DIR); run where the image is built."""
    from warmline.model.serving_export import export_serving

    manifest = export_serving(model, out)
    typer.echo(json.dumps({"out": str(out), "model_version": manifest.model_version}))


@app.command("agreement")
def agreement_command() -> None:
    """Cohen's kappa per signal between the evaluation set's two labellings."""
    from warmline.model.annotation import agreement, disagreements, read_labelling
    from warmline.model.contact_center import DATA_DIR

    folder = DATA_DIR / "annotations"
    first = read_labelling(sorted(folder.glob("labeller_a_*.jsonl")))
    second = read_labelling(sorted(folder.glob("labeller_b_*.jsonl")))
    report = agreement(first, second)
    report["disagreements"] = len(disagreements(first, second))
    typer.echo(json.dumps(report, indent=2))


@app.command("adapt")
def adapt_command(
    data: Path = typer.Option(
        ..., "--data", exists=True, dir_okay=False, help="Labelled conversations (backtest JSONL)."
    ),
    out: Path = typer.Option(..., "--out", help="Directory for the adapted bundle."),
    base: Path = typer.Option(DEFAULT_MODEL_DIR, "--model", help="Bundle to adapt."),
    policy: Path | None = typer.Option(None, "--policy", exists=True, dir_okay=False),
    holdout: float = typer.Option(0.3, "--holdout", min=0.1, max=0.9),
    seed: int = typer.Option(13, "--seed"),
    output: OutputFormat = typer.Option(OutputFormat.json, "--format"),
) -> None:
    """Fine-tune the signal head on a tenant's labelled conversations, recalibrate on
    part of them and report before/after on the rest; write a loadable bundle."""
    from warmline.decisioning.backtest import BacktestInputError
    from warmline.model.adapt import AdaptError, adapt

    try:
        report = adapt(base, data, out, _load_policy(policy), holdout, seed, _console.log)
    except (AdaptError, BacktestInputError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if output is OutputFormat.json:
        typer.echo(json.dumps(report, indent=2))
    else:
        for stage in ("before", "after"):
            typer.echo(f"{stage}: {json.dumps(report[stage])}")


if __name__ == "__main__":
    app()
