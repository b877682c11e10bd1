"""`agents solve --task NAME`: run an agent on a task's instances (tasks: benchmarks/tasks.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from foundation.errors import UserError

PLANNING = ("game24", "blocksworld", "tictactoe")
USED_BY: dict[str, tuple[str, ...]] = {
    "--agent": PLANNING,
    "--prompt": ("story",),
    "--option": PLANNING,
}
"""The tasks that read each task-specific option; any other task refuses it."""
IGNORED_BY: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        PLANNING, ("--dataset", "--instances", "--search", "--workers", "--sandbox", "--no-eval")
    ),
    "story": (
        "--dataset", "--instances", "--limit", "--search", "--workers", "--sandbox",
        "--no-eval", "--max-cost", "--base-url", "--no-cache",
    ),
}  # fmt: skip
"""The common options a task does not read: giving one is an error, not a silent no-op."""


def check_options(task: str, given: dict[str, bool]) -> None:
    """Refuse options that `task` would ignore (`given`: option name -> passed or not)."""
    for name, passed in given.items():
        if not passed:
            continue
        users = USED_BY.get(name)
        if users is not None and task not in users:
            raise UserError(f"{name} does not apply to --task {task}; it is for {', '.join(users)}")
        if name in IGNORED_BY.get(task, ()):
            raise UserError(f"{name} does not apply to --task {task}")


def solve(
    task: str = typer.Option(
        "swe-bench",
        "--task",
        help="swe-bench, game24, blocksworld, tictactoe or story (benchmarks/tasks.py).",
    ),
    model: str = typer.Option("local:smollm2", "--model", "-m", help="Model spec."),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="Dataset (swe-bench: swe-mini, or a .json/.jsonl file)."
    ),
    instances: str = typer.Option("", "--instances", "-i", help="Comma-separated instance ids."),
    limit: int | None = typer.Option(
        None,
        "--limit",
        "-k",
        help="First K instances (swe-bench: default 1, 0 = all; game24: default 10, "
        "0 = all 100; blocksworld/tictactoe: default 10).",
    ),
    search: str = typer.Option(
        "linear", "--search", help="swe-bench: linear (ReAct) or mcts (SWE-Search)."
    ),
    max_iterations: int | None = typer.Option(
        None,
        "--max-iterations",
        "-n",
        min=1,
        help="swe-bench: actions per instance (mcts: simulations = 2x this; default 8); "
        "game24/blocksworld/tictactoe: LLM calls per instance, the same for every agent "
        "(default 60; tictactoe 200); story: plot steps (default 5).",
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
        help="Run directory (default runs/TASK/MODEL.SEARCH; planning tasks "
        "runs/TASK/AGENT-MODEL[-OPTION]); rerun resumes.",
    ),
    no_eval: bool = typer.Option(False, "--no-eval", help="Only write predictions; do not grade."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI/Anthropic server URL."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the response cache."),
    agent: str | None = typer.Option(
        None,
        "--agent",
        "-a",
        help="game24/blocksworld/tictactoe: rafa (default), tot, react or noplan "
        "(RAFA acting on the first proposal).",
    ),
    prompt: str | None = typer.Option(
        None, "--prompt", "-p", help="story: the premise to write a story from."
    ),
    option: str | None = typer.Option(
        None,
        "--option",
        help="game24: one puzzle, e.g. '4 4 10 10' (default: the held-out set); "
        "blocksworld: number of blocks, 2-6 (default 4); tictactoe: the opponent bot, "
        "random (default) or mcts:sims=N.",
    ),
) -> None:
    """Solve a task's instances with a model and an agent graph; write predictions,
    trajectories, search trees and usage; then grade. Rerun the same command to resume."""
    from benchmarks.tasks import SolveOptions, get_task

    found = get_task(task)
    check_options(
        task,
        {
            "--agent": agent is not None,
            "--prompt": prompt is not None,
            "--option": option is not None,
            "--dataset": dataset is not None,
            "--instances": bool(instances),
            "--limit": limit is not None,
            "--search": search != "linear",
            "--workers": workers != 1,
            "--sandbox": sandbox != "auto",
            "--no-eval": no_eval,
            "--max-cost": max_cost is not None,
            "--base-url": base_url is not None,
            "--no-cache": no_cache,
        },
    )
    extra = {"agent": agent, "prompt": prompt, "option": option}
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
        extra={k: v for k, v in extra.items() if v is not None},
    )
    summary = found.run(options)
    typer.echo(summary.get("output", ""))
    code = int(summary.get("exit_code", 0))
    if code:
        raise typer.Exit(code)


def register(cli) -> None:
    cli.app.command("solve")(solve)
