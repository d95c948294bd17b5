"""``warmline``: one command line for every service and tool."""

from __future__ import annotations

from enum import StrEnum

import typer

from warmline.common.logging import configure_logging
from warmline.common.runtime import run_service
from warmline.common.settings import load_settings
from warmline.services import SERVICES, load_service

app = typer.Typer(
    help="Warmline: empathy-aware, real-time escalation for contact centers.",
    no_args_is_help=True,
    add_completion=False,
)

ServiceName = StrEnum("ServiceName", {name: name for name in SERVICES})  # type: ignore[misc]


@app.command()
def serve(
    service: ServiceName = typer.Argument(..., help="Which service to run."),  # noqa: B008
) -> None:
    """Run one service until SIGTERM/Ctrl-C (settings from WARMLINE_* variables)."""
    settings = load_settings()
    configure_logging(service.value, settings.log_level, settings.log_format)
    main = load_service(service.value)(settings)
    run_service(main)


def main() -> None:
    """Entry point of ``python -m warmline``."""
    app(prog_name="warmline")
