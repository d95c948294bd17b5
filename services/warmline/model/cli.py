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

from warmline.model.paths import DEFAULT_DATA_DIR, DEFAULT_MODEL_DIR

app = typer.Typer(help="Train and evaluate the emotion model.", no_args_is_help=True)
_console = Console(stderr=True)


class SplitName(StrEnum):
    """Evaluation splits (test is for acceptance runs only)."""

    dev = "dev"
    test = "test"


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
) -> None:
    """Train head (+ top layers), calibrate on dev, write weights and model.json."""
    from warmline.model.train import TrainConfig, summarize, train

    config = TrainConfig(
        seed=seed,
        threads=threads,
        finetune_layers=finetune_layers,
        finetune_epochs=finetune_epochs,
        group_head=group_head,
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_console) as progress:
        card = train(data, out, config, _progress_factory(progress), progress.console.log)
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
) -> None:
    """Score a split and print macro/micro/Ekman/sentiment F1, per-label F1 and ECE."""
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


if __name__ == "__main__":
    app()
