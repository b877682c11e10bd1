"""`agents solve --task NAME`: run an agent on a task's instances (tasks: benchmarks/tasks.py)."""

from __future__ import annotations

from pathlib import Path

import typer


def solve(
    task: str = typer.Option("swe-bench", "--task", help="Task name (see benchmarks/tasks.py)."),
    model: str = typer.Option("local:smollm2", "--model", "-m", help="Model spec."),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="Dataset (swe-bench: swe-mini, or a .json/.jsonl file)."
    ),
    instances: str = typer.Option("", "--instances", "-i", help="Comma-separated instance ids."),
    limit: int | None = typer.Option(
        None, "--limit", "-k", help="First K instances (swe-bench default 1; 0 = all)."
    ),
    search: str = typer.Option("linear", "--search", help="linear (ReAct) or mcts (SWE-Search)."),
    max_iterations: int | None = typer.Option(
        None,
        "--max-iterations",
        "-n",
        min=1,
        help="Actions per instance (mcts: simulations = 2x this). Default 8.",
    ),
    max_cost: float | None = typer.Option(
        None, "--max-cost", min=0, help="Dollar cap for the run's LLM calls."
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Instances solved at once."),
    sandbox: str = typer.Option("auto", "--sandbox", help="docker, local or auto."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Run directory (default runs/TASK/MODEL.SEARCH); rerun resumes.",
    ),
    no_eval: bool = typer.Option(False, "--no-eval", help="Only write predictions; do not grade."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI/Anthropic server URL."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the response cache."),
) -> None:
    """Solve a task's instances with a model and an agent graph; write predictions,
    trajectories, search trees and usage; then grade. Rerun the same command to resume."""
    from benchmarks.tasks import SolveOptions, get_task

    options = SolveOptions(
        model=model,
        dataset=dataset,
        instances=tuple(i.strip() for i in instances.split(",") if i.strip()),
        limit=limit,
        search=search,
        max_iterations=max_iterations,
        max_cost=max_cost,
        workers=workers,
        sandbox=sandbox,
        output=output,
        evaluate=not no_eval,
        base_url=base_url,
        cache=not no_cache,
    )
    summary = get_task(task).run(options)
    typer.echo(summary.get("output", ""))
    code = int(summary.get("exit_code", 0))
    if code:
        raise typer.Exit(code)


def register(cli) -> None:
    cli.app.command("solve")(solve)
