"""`agents report RUN_DIR`: a solve run as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from agents.commands import CLI
from agents.commands.settings import CommandSettings


class ReportSettings(CommandSettings):
    """`agents report`'s options."""

    run_dir: Path
    output: Path | None = None


def report(
    run_dir: Path = typer.Argument(
        ...,
        help="A run directory (-o of agents solve, any task; agents play --trees DIR) or "
        "a bench game log (hanabi_games.jsonl, werewolf.jsonl, mcts_speed.games.jsonl).",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Where the page goes (default: RUN_DIR/report.html)."
    ),
) -> None:
    """Render a run's page: per instance its model calls (prompts and answers, token
    counts), steps and tool outputs, the search tree (click a node for its state and the
    calls that proposed it), the final diff, the test results, usage and timings. One
    HTML file, no network needed to open it. `agents solve` writes it at the end of a run."""
    settings = ReportSettings(run_dir=run_dir, output=output)
    from benchmarks.report import write_report

    typer.echo(str(write_report(settings.run_dir, settings.output)))


def register(cli: CLI) -> None:
    cli.app.command("report")(report)
