"""`agents bench swe-search`: linear ReAct vs SWE-Search, same instances, model and budget."""

from __future__ import annotations

from pathlib import Path

import typer


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
    from benchmarks.swe_search import compare, table
    from benchmarks.tasks import SolveOptions

    options = SolveOptions(
        model=model,
        limit=limit,
        instances=tuple(i for i in instances.split(",") if i),
        max_iterations=max_iterations,
        max_cost=max_cost,
        sandbox=sandbox,
        base_url=base_url,
    )
    typer.echo(table(compare(options, output), options))


def register(cli) -> None:
    cli.bench.command("swe-search")(swe_search)
