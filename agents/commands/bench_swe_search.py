"""`agents bench swe-search`: linear ReAct vs SWE-Search, same instances, model and budget."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from agents.commands import CLI
from agents.commands.settings import CommandSettings, Count, NonNegative, Sandbox, Size, comma_list

if TYPE_CHECKING:
    from benchmarks.tasks import SolveOptions


class BenchSweSearchSettings(CommandSettings):
    """`agents bench swe-search`'s options; `options()` is what both arms solve with."""

    model: str = "local:smollm2"
    limit: Size = 3
    instances: str = ""
    max_iterations: Count | None = None
    max_cost: NonNegative | None = None
    sandbox: Sandbox = "auto"
    base_url: str | None = None
    output: Path = Path("runs/bench_swe_search")

    def options(self) -> SolveOptions:
        from benchmarks.tasks import SolveOptions

        return SolveOptions(
            model=self.model,
            limit=self.limit,
            instances=comma_list(self.instances),
            max_iterations=self.max_iterations,
            max_cost=self.max_cost,
            sandbox=self.sandbox,
            base_url=self.base_url,
        )


def swe_search(
    model: str = typer.Option("local:smollm2", "--model", "-m", help="Model spec."),
    limit: int = typer.Option(3, "--limit", "-k", help="First K swe-mini instances."),
    instances: str = typer.Option("", "--instances", "-i", help="Comma-separated ids."),
    max_iterations: int | None = typer.Option(None, "--max-iterations", "-n", min=1),
    max_cost: float | None = typer.Option(None, "--max-cost", min=0, help="Dollars per arm."),
    sandbox: str = typer.Option("auto", "--sandbox", help="docker, local or auto."),
    base_url: str | None = typer.Option(None, "--base-url"),
    output: Path = typer.Option(Path("runs/bench_swe_search"), "--output", "-o"),
) -> None:
    """Resolve rate, cost, wall time and LLM calls of both agents, in one table."""
    settings = BenchSweSearchSettings(
        model=model, limit=limit, instances=instances, max_iterations=max_iterations,
        max_cost=max_cost, sandbox=sandbox, base_url=base_url, output=output,
    )  # fmt: skip
    from benchmarks.swe_search import compare, table

    options = settings.options()
    typer.echo(table(compare(options, settings.output), options))


def register(cli: CLI) -> None:
    cli.bench.command("swe-search")(swe_search)
