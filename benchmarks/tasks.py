"""The task registry behind `agents solve --task NAME`, and the `Task` seam.

A `Task` turns the options every `agents solve` shares (`SolveOptions`) into a whole run:
it picks its instances (dataset), builds each instance's environment, runs the agent on
it through the run primitive (`foundation.runs`), scores the result and returns a summary
dict whose "output" the CLI prints and whose "exit_code" becomes the process's (0 when
absent). The registered tasks: swe-bench (benchmarks/swe_bench/solve.py), game24,
blocksworld and tictactoe (benchmarks/planning_tasks.py), story (benchmarks/stories.py),
appworld (benchmarks/appworld/solve.py).

Add one at the bottom of this file with one call; its module is imported only when the
task runs, so `agents --help` stays fast:

    register_task(RegisteredTask("mytask", "what it does", _lazy_run("mypackage.solve", "run")))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

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
    max_calls: int | None = None  # swe-bench: model calls per instance (None: no cap)
    max_cost: float | None = None
    workers: int = 1
    executor: str = "local"  # swe-bench: local, ray, ray://HOST:PORT, HOST:PORT
    sandbox: str = "auto"
    output: Path | None = None  # None: runs/<task>/<model>.<search>
    evaluate: bool = True
    record_prompts: bool = True  # swe-bench: keep the model calls in the trajectories
    base_url: str | None = None
    cache: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    # swe-bench's dataset flags (the same in solve, eval and validate; README "SWE-bench")
    split: str = "test"
    specs: tuple[Path, ...] = ()
    repos_dir: Path | None = None
    repo_url: str | None = None
    images: str = "auto"
    task_repo: Path | None = None


@runtime_checkable
class Task(Protocol):
    """What `agents solve --task` runs: a name, a one-line description, and `run`."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def run(self, options: SolveOptions) -> dict[str, Any]:
        """The whole run on `options`; the summary dict ("output", "exit_code", ...)."""
        ...


@dataclass(frozen=True)
class RegisteredTask:
    """A `Task` made of a name, a description and a run function."""

    name: str
    description: str
    runner: Callable[[SolveOptions], dict[str, Any]]

    def run(self, options: SolveOptions) -> dict[str, Any]:
        return self.runner(options)


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UserError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}") from None


def _lazy_run(module: str, function: str) -> Callable[[SolveOptions], dict[str, Any]]:
    """`module.function`, imported only when the task runs (keeps `agents --help` fast)."""

    def run(options: SolveOptions) -> dict[str, Any]:
        import importlib

        result: dict[str, Any] = getattr(importlib.import_module(module), function)(options)
        return result

    return run


register_task(
    RegisteredTask(
        "swe-bench",
        "Repair repositories (SWE-bench format; bundled swe-mini by default), graded by the harness.",
        _lazy_run("benchmarks.swe_bench.solve", "run_swe_bench"),
    )
)


def _planning(name: str) -> Callable[[SolveOptions], dict[str, Any]]:
    return _lazy_run("benchmarks.planning_tasks", f"solve_{name}")


register_task(
    RegisteredTask(
        "game24", "Game of 24 (held-out set) with RAFA, ToT, ReAct or noplan.", _planning("game24")
    )
)
register_task(
    RegisteredTask(
        "blocksworld",
        "BlocksWorld (seeded instances) with RAFA, ToT, ReAct or noplan.",
        _planning("blocksworld"),
    )
)
register_task(
    RegisteredTask(
        "tictactoe",
        "Tic-tac-toe against an OpenSpiel bot with RAFA, ToT, ReAct or noplan.",
        _planning("tictactoe"),
    )
)
register_task(
    RegisteredTask(
        "story",
        "COS(M+O)S story search from --prompt: story, tree HTML, step values.",
        _lazy_run("benchmarks.stories", "solve_story"),
    )
)
register_task(
    RegisteredTask(
        "appworld",
        "AppWorld's apps: appworld-mini (--split train|dev|test) or the official data "
        "(--appworld-data DIR) with a ReAct agent writing Python; TGC/SGC per level.",
        _lazy_run("benchmarks.appworld.solve", "run_appworld"),
    )
)
