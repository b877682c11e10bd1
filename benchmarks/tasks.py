"""The task registry behind `agents solve --task NAME` (the `benchmarks.Task` seam).

A task turns the common solve options into a run: its dataset, the environment of each
instance, the agent, the scorer and the report. Add yours at the bottom of this file with
one call (the run function imports its module lazily, as `_swe_bench` does):

    register_task(Task("game24", "Game of 24 with RAFA", run=lambda o: _lazy("benchmarks.game24.solve", "run", o)))

`run(options)` returns a summary dict and the process exit code is `summary["exit_code"]`
(0 when absent). Import heavy modules inside `run`, so `agents --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.errors import UserError


@dataclass(frozen=True)
class SolveOptions:
    """What `agents solve` passes to every task (tasks ignore what they do not use)."""

    model: str = "local:smollm2"
    dataset: str | None = None  # None: the task's default
    instances: tuple[str, ...] = ()
    limit: int | None = None  # None: the task's default
    search: str = "linear"  # linear | mcts
    max_iterations: int | None = None  # None: the task's default
    max_cost: float | None = None
    workers: int = 1
    sandbox: str = "auto"
    output: Path | None = None  # None: runs/<task>/<model>.<search>
    evaluate: bool = True
    base_url: str | None = None
    cache: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    run: Callable[[SolveOptions], dict[str, Any]]


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UserError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}") from None


def _lazy(module: str, function: str, options: SolveOptions) -> dict[str, Any]:
    """Import a task's module only when it runs (keeps `agents --help` fast)."""
    import importlib

    result: dict[str, Any] = getattr(importlib.import_module(module), function)(options)
    return result


def _swe_bench(options: SolveOptions) -> dict[str, Any]:
    return _lazy("benchmarks.swe_bench.solve", "run_swe_bench", options)


register_task(
    Task(
        "swe-bench",
        "Repair repositories (SWE-bench format; bundled swe-mini by default), graded by the harness.",
        _swe_bench,
    )
)


def _planning(name: str) -> Callable[[SolveOptions], dict[str, Any]]:
    return lambda o: _lazy("benchmarks.planning_tasks", f"solve_{name}", o)


register_task(
    Task(
        "game24", "Game of 24 (held-out set) with RAFA, ToT, ReAct or noplan.", _planning("game24")
    )
)
register_task(
    Task(
        "blocksworld",
        "BlocksWorld (seeded instances) with RAFA, ToT, ReAct or noplan.",
        _planning("blocksworld"),
    )
)
register_task(
    Task(
        "tictactoe",
        "Tic-tac-toe against an OpenSpiel bot with RAFA, ToT, ReAct or noplan.",
        _planning("tictactoe"),
    )
)
register_task(
    Task(
        "story",
        "COS(M+O)S story search from --prompt: story, tree HTML, step values.",
        lambda o: _lazy("benchmarks.stories", "solve_story", o),
    )
)
