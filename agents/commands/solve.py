"""`agents solve --task NAME`: run an agent on a task's instances (tasks: benchmarks/tasks.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer
from pydantic import field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI, swe_data
from agents.commands.settings import (
    EXECUTOR_HELP,
    Count,
    Executor,
    NonNegative,
    Sandbox,
    Size,
    comma_list,
    one_of,
)
from agents.commands.swe_data import SweDataSettings
from foundation.errors import UserError

if TYPE_CHECKING:
    from benchmarks.tasks import SolveOptions

PLANNING = ("game24", "blocksworld", "tictactoe")
SWE_DATA = ("--split", "--specs", "--repos-dir", "--repo-url", "--images", "--task-repo")
USED_BY: dict[str, tuple[str, ...]] = {
    "--agent": PLANNING,
    "--prompt": ("story",),
    "--option": PLANNING,
    "--appworld-data": ("appworld",),
    "--max-calls": ("swe-bench",),
    "--executor": ("swe-bench",),
    "--no-prompts": ("swe-bench",),
}
"""The tasks that read each task-specific option; any other task refuses it."""
IGNORED_BY: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        PLANNING,
        ("--dataset", "--instances", "--search", "--workers", "--sandbox", "--no-eval",
         *SWE_DATA),
    ),
    "appworld": ("--dataset", "--search", "--sandbox", "--no-eval",
                 *(flag for flag in SWE_DATA if flag != "--split")),
    "story": (
        "--dataset", "--instances", "--limit", "--search", "--workers", "--sandbox",
        "--no-eval", "--max-cost", "--base-url", "--no-cache", *SWE_DATA,
    ),
}  # fmt: skip
"""The common options a task does not read: giving one is an error, not a silent no-op."""


def misplaced(task: str, given: list[str]) -> list[str]:
    """Why each option in `given` (flags the user passed) does not apply to `task`."""
    why = []
    for name in given:
        users = USED_BY.get(name)
        if users is not None and task not in users:
            why.append(f"{name} does not apply to --task {task}; it is for {', '.join(users)}")
        elif name in IGNORED_BY.get(task, ()):
            why.append(f"{name} does not apply to --task {task}")
    return why


class SolveSettings(SweDataSettings):
    """`agents solve`'s options; `options()` is what the task runs with."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    task: str = "swe-bench"
    model: str = "local:smollm2"
    dataset: str | None = None
    instances: str = ""
    limit: Size | None = None
    search: Annotated[str, one_of("linear", "mcts")] = "linear"
    max_iterations: Count | None = None
    max_calls: Count | None = None
    max_cost: NonNegative | None = None
    workers: Count = 1
    executor: Executor = "local"
    sandbox: Sandbox = "auto"
    output: Path | None = None
    no_eval: bool = False
    no_prompts: bool = False
    base_url: str | None = None
    no_cache: bool = False
    agent: str | None = None
    prompt: str | None = None
    option: str | None = None
    appworld_data: Path | None = None
    as_json: bool = False

    @field_validator("task")
    @classmethod
    def _known_task(cls, task: str) -> str:
        from benchmarks.tasks import get_task

        try:
            get_task(task)
        except UserError as exc:
            raise ValueError(str(exc)) from None
        return task

    @model_validator(mode="after")
    def _options_apply(self) -> Self:
        """An option the task would not read is an error (passed: not at its default)."""
        given = [
            self.flag(name)
            for name, info in type(self).model_fields.items()
            if getattr(self, name) != info.default
        ]
        why = misplaced(self.task, given)
        if why:
            raise ValueError("; ".join(why))
        return self

    def options(self) -> SolveOptions:
        from benchmarks.tasks import SolveOptions

        extra = {"agent": self.agent, "prompt": self.prompt, "option": self.option}
        extra["appworld_data"] = str(self.appworld_data) if self.appworld_data else None
        return SolveOptions(
            model=self.model,
            dataset=self.dataset,
            instances=comma_list(self.instances),
            limit=self.limit,
            search=self.search,
            max_iterations=self.max_iterations,
            max_calls=self.max_calls,
            max_cost=self.max_cost,
            workers=self.workers,
            executor=self.executor,
            sandbox=self.sandbox,
            output=self.output,
            evaluate=not self.no_eval,
            record_prompts=not self.no_prompts,
            base_url=self.base_url,
            cache=not self.no_cache,
            extra={k: v for k, v in extra.items() if v is not None},
            split=self.split,
            specs=self.specs,
            repos_dir=self.repos_dir,
            repo_url=self.repo_url,
            images=self.images,
            task_repo=self.task_repo,
        )


def solve(
    task: str = typer.Option(
        "swe-bench",
        "--task",
        help="swe-bench, game24, blocksworld, tictactoe, story or appworld (benchmarks/tasks.py).",
    ),
    model: str = typer.Option("local:smollm2", "--model", "-m", help="Model spec."),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", "--dataset_name", help="swe-bench: " + swe_data.DATASET_HELP
    ),
    split: str = swe_data.SPLIT,
    instances: str = typer.Option(
        "", "--instances", "-i", "--instance_ids", help="Comma-separated instance ids."
    ),
    limit: int | None = typer.Option(
        None,
        "--limit",
        "-k",
        help="First K instances (swe-bench: default 1, 0 = all; game24: default 10, "
        "0 = all 100; blocksworld/tictactoe: default 10; appworld: default all).",
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
        "(default 60; tictactoe 200); story: plot steps (default 5); appworld: turns per "
        "task (default 10).",
    ),
    max_calls: int | None = typer.Option(
        None,
        "--max-calls",
        min=1,
        help="swe-bench: model calls per instance, judge calls included (linear stops its "
        "trajectory, mcts its search, at the cap; default: no cap).",
    ),
    max_cost: float | None = typer.Option(
        None, "--max-cost", min=0, help="Dollar cap for the run's LLM calls."
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Instances solved at once."),
    executor: str = typer.Option(
        "local",
        "--executor",
        help="swe-bench: " + EXECUTOR_HELP + " On Ray, each node loads a local model once, "
        "--max-cost holds across the cluster, and an instance cut short restarts from its "
        "beginning.",
    ),
    sandbox: str = typer.Option("auto", "--sandbox", help="docker, local or auto."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Run directory (default runs/TASK/MODEL.SEARCH; planning tasks "
        "runs/TASK/AGENT-MODEL[-OPTION]); rerun resumes.",
    ),
    no_eval: bool = typer.Option(False, "--no-eval", help="Only write predictions; do not grade."),
    no_prompts: bool = typer.Option(
        False,
        "--no-prompts",
        help="swe-bench: leave the model calls (prompts and answers) out of the trajectories "
        "and the run report (they are kept by default).",
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI/Anthropic server URL."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the response cache."),
    repos_dir: Path | None = swe_data.REPOS_DIR,
    repo_url: str | None = swe_data.REPO_URL,
    images: str = swe_data.IMAGE_MODE,
    specs: list[Path] = swe_data.SPECS,
    task_repo: Path | None = swe_data.TASK_REPO,
    agent: str | None = typer.Option(
        None,
        "--agent",
        "-a",
        help="game24/blocksworld/tictactoe: rafa (default), tot, react or noplan "
        "(RAFA acting on the first proposal).",
    ),
    prompt: str | None = typer.Option(
        None, "--prompt", help="story: the premise to write a story from."
    ),
    option: str | None = typer.Option(
        None,
        "--option",
        help="game24: one puzzle, e.g. '4 4 10 10' (default: the held-out set); "
        "blocksworld: number of blocks, 2-6 (default 4); tictactoe: the opponent bot, "
        "random (default) or mcts:sims=N.",
    ),
    appworld_data: Path | None = typer.Option(
        None,
        "--appworld-data",
        help="appworld: the official data (the folder `appworld download data` fills, holding "
        "data/); --split train, dev, test_normal or test_challenge. Without it: appworld-mini.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the run's summary as JSON on stdout (not its path)."
    ),
) -> None:
    """Solve a task's instances with a model and an agent graph; write predictions,
    trajectories, search trees and usage; then grade. Rerun the same command to resume."""
    from benchmarks.tasks import get_task

    settings = SolveSettings(
        task=task, model=model, dataset=dataset, instances=instances, limit=limit,
        search=search, max_iterations=max_iterations, max_calls=max_calls, max_cost=max_cost,
        workers=workers, executor=executor,
        sandbox=sandbox, output=output, no_eval=no_eval, no_prompts=no_prompts,
        base_url=base_url, no_cache=no_cache,
        agent=agent, prompt=prompt, option=option, appworld_data=appworld_data, split=split,
        repos_dir=repos_dir,
        repo_url=repo_url, images=images, specs=tuple(specs), task_repo=task_repo,
        as_json=as_json,
    )  # fmt: skip
    summary = get_task(settings.task).run(settings.options())
    if settings.as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        typer.echo(summary.get("output", ""))
    code = int(summary.get("exit_code", 0))
    if code:
        raise typer.Exit(code)


def register(cli: CLI) -> None:
    cli.app.command("solve")(solve)
