"""`agents bench planning`: RAFA / ToT / ReAct / no-planning on Game of 24, BlocksWorld and
tic-tac-toe with equal LLM-call budgets (the runner `agents solve` will share)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import typer
from pydantic import field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.settings import CommandSettings, Count


class BenchPlanningSettings(CommandSettings):
    """`agents bench planning`'s options; `run_dir(agent)` is where each agent's run goes."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    task: str = "game24"
    agent: tuple[str, ...] = ("rafa",)
    model: str = "local:smollm2"
    limit: Count = 10
    max_calls: Count = 60
    option: str = ""
    out: Path = Path("runs/planning")
    as_json: bool = False

    @field_validator("task")
    @classmethod
    def _known_task(cls, task: str) -> str:
        from benchmarks.planning_tasks import TASKS

        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
        return task

    @field_validator("agent")
    @classmethod
    def _known_agents(cls, agent: tuple[str, ...]) -> tuple[str, ...]:
        from agents.graphs.episode import AGENTS

        bad = [a for a in agent if a not in AGENTS]
        if bad:
            raise ValueError(f"unknown agent {bad[0]!r}; valid: {', '.join(AGENTS)}")
        return agent

    @model_validator(mode="after")
    def _oracle_exists(self) -> Self:
        from benchmarks.planning_tasks import TASKS

        if self.model.startswith("oracle") and TASKS[self.task].oracle is None:
            raise ValueError(f"task {self.task} has no oracle model; give a model spec")
        return self

    def run_dir(self, agent: str) -> Path:
        """OUT/TASK/AGENT-MODEL[-OPTION]."""
        safe = self.model.replace("/", "_").replace(":", "_")
        return self.out / self.task / f"{agent}-{safe}{'-' + self.option if self.option else ''}"


def bench_planning(
    task: str = typer.Option("game24", help="game24 | blocksworld | tictactoe"),
    agent: list[str] = typer.Option(
        ["rafa"], "--agent", help="rafa | tot | react | noplan (repeatable)"
    ),
    model: str = typer.Option(
        "local:smollm2", "--model", "-m", help="Model spec, or `oracle` / `oracle:mislead`."
    ),
    limit: int = typer.Option(
        10, "--limit", "-k", help="Instances (the first N of the task's fixed set)."
    ),
    max_calls: int = typer.Option(60, help="LLM calls per instance, the same for every agent."),
    option: str = typer.Option(
        "", help="tictactoe: opponent bot spec (random, mcts:sims=N); blocksworld: blocks."
    ),
    out: Path = typer.Option(
        Path("runs/planning"),
        "--output",
        "--out",
        "-o",
        help="Trajectories go under OUT/TASK/AGENT-MODEL/.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Success rate, steps, LLM calls, tokens and cost per agent; resumable."""
    settings = BenchPlanningSettings(
        task=task, agent=tuple(agent), model=model, limit=limit, max_calls=max_calls,
        option=option, out=out, as_json=as_json,
    )  # fmt: skip
    from benchmarks.planning_tasks import run_task
    from benchmarks.progress import work_bar

    summaries = []
    for a in settings.agent:
        with work_bar(f"{settings.task} / {a}") as update:
            summary = run_task(
                settings.task, a, settings.model, settings.limit, settings.run_dir(a),
                max_calls=settings.max_calls, option=settings.option, progress=update,
            )  # fmt: skip
        summaries.append(summary)
        if not settings.as_json:
            for line in summary.lines():
                typer.echo(line)
    if settings.as_json:
        import json
        from dataclasses import asdict

        typer.echo(json.dumps([asdict(s) for s in summaries], indent=2))


def register(cli: CLI) -> None:
    cli.bench.command("planning")(bench_planning)
