"""`agents bench planning`: RAFA / ToT / ReAct / no-planning on Game of 24, BlocksWorld and
tic-tac-toe with equal LLM-call budgets (the runner `agents solve` will share)."""

from __future__ import annotations

from pathlib import Path

import typer

from foundation.errors import UserError


def bench_planning(
    task: str = typer.Option("game24", help="game24 | blocksworld | tictactoe"),
    agent: list[str] = typer.Option(
        ["rafa"], "--agent", help="rafa | tot | react | noplan (repeatable)"
    ),
    model: str = typer.Option("local:smollm2", help="Model spec, or `oracle` / `oracle:mislead`."),
    limit: int = typer.Option(10, help="Instances (the first N of the task's fixed set)."),
    max_calls: int = typer.Option(60, help="LLM calls per instance, the same for every agent."),
    option: str = typer.Option(
        "", help="tictactoe: opponent bot spec (random, mcts:sims=N); blocksworld: blocks."
    ),
    out: Path = typer.Option(
        Path("runs/planning"), help="Trajectories go under OUT/TASK/AGENT-MODEL/."
    ),
) -> None:
    """Success rate, steps, LLM calls, tokens and cost per agent; resumable."""
    from benchmarks.planning_tasks import AGENTS, TASKS, run_task

    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    bad = [a for a in agent if a not in AGENTS]
    if bad:
        raise UserError(f"unknown agent {bad[0]!r}; valid: {', '.join(AGENTS)}")
    if limit < 1 or max_calls < 1:
        raise UserError("--limit and --max-calls must be >= 1")
    if model.startswith("oracle") and TASKS[task].oracle is None:
        raise UserError(f"task {task} has no oracle model; give a model spec")
    safe = model.replace("/", "_").replace(":", "_")
    for a in agent:
        summary = run_task(
            task, a, model, limit, out / task / f"{a}-{safe}{'-' + option if option else ''}",
            max_calls=max_calls, option=option, progress=lambda s: typer.echo(s, err=True),
        )  # fmt: skip
        for line in summary.lines():
            typer.echo(line)


def register(cli: object) -> None:
    cli.bench.command("planning")(bench_planning)  # type: ignore[attr-defined]
