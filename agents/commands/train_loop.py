"""`agents train loop`: LOOP (leave-one-out PPO) on a task with a reward.

K rollouts per task with the current weights (the fast local engine), each rollout's
advantage its return minus the mean of the other K - 1, PPO's clipped per-token loss on
LoRA adapters; no value network, no reference model, no KL: one copy of the model
(`agents.training.loop`). The tasks: appworld-mini (multi-turn episodes in AppWorld's
apps, `agents.training.loop_envs`), game24 or countdown (one prompt, one answer), or
swe-mini (the linear repository agent in a sandbox, `benchmarks.swe_bench.loop_env`); see
`benchmarks.loop_experiment`. OUT/iter{i}/ holds each iteration's adapter, optimizer state
and log; a rerun with the same options skips finished iterations.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.settings import (
    EXECUTOR_HELP,
    CommandSettings,
    Count,
    Executor,
    Positive,
    Sandbox,
    Size,
    comma_list,
    one_of,
)
from foundation.errors import UserError

if TYPE_CHECKING:
    from agents.training.loop import LoopConfig

TASKS = ("appworld-mini", "game24", "countdown", "swe-mini")


class TrainLoopSettings(CommandSettings):
    """`agents train loop`'s options; `config()` is the trainer's `LoopConfig`."""

    task: Annotated[str, one_of(*TASKS)] = "appworld-mini"
    model: str = "local:smollm2"
    k: int = 6
    iterations: Count = 10
    tasks_per_iteration: Count = 8
    lr: Positive = 5e-5
    lora_rank: Count = 16
    clip: Positive = 0.2
    minibatch: Size = 0
    epochs: Count = 1
    temperature: Positive = 1.0
    max_tokens: Count = 256
    max_turns: Count = 4
    templates: str = ""
    per_template: Count = 8
    demo: bool = True
    partial: float = 1.0
    workers: Count = 6
    puzzles: Count = 64
    easy: bool = False
    numbers: int = 2
    instances: str = ""
    sandbox: Sandbox = "auto"
    out: Path | None = None
    seed: int = 0
    executor: Executor = "local"

    @field_validator("k")
    @classmethod
    def _k(cls, k: int) -> int:
        if k < 2:
            raise ValueError(f"--k must be >= 2: the leave-one-out baseline needs 2 (got {k})")
        return k

    @field_validator("model")
    @classmethod
    def _model(cls, model: str) -> str:
        if not model.startswith("local:"):
            raise ValueError(
                f"--model: LOOP trains a local model (local:smollm2 or local:PATH), not {model!r}"
            )
        return model

    @field_validator("partial")
    @classmethod
    def _partial(cls, partial: float) -> float:
        if not 0 <= partial <= 1:
            raise ValueError(f"--partial must be in [0, 1] (got {partial})")
        return partial

    @model_validator(mode="after")
    def _executor_applies(self) -> Self:
        if self.executor != "local" and self.task == "appworld-mini":
            raise ValueError(
                "--executor: appworld-mini's worlds run in processes of this machine "
                "(--workers); Ray runs game24, countdown and swe-mini rollouts"
            )
        return self

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, numbers: int) -> int:
        if not 2 <= numbers <= 4:
            raise ValueError(f"--numbers must be 2, 3 or 4 (got {numbers})")
        return numbers

    def run_dir(self) -> Path:
        return self.out if self.out is not None else Path("runs") / "loop" / self.task

    def config(self) -> LoopConfig:
        from agents.swe.env import STOP
        from agents.training.loop import LoopConfig
        from benchmarks.loop_experiment import micro_batch

        return LoopConfig(
            k=self.k,
            clip=self.clip,
            minibatch=self.minibatch,
            epochs=self.epochs,
            lr=self.lr,
            lora_rank=self.lora_rank,
            lora_alpha=2 * self.lora_rank,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            iterations=self.iterations,
            tasks_per_iteration=self.tasks_per_iteration,
            seed=self.seed,
            micro_batch=micro_batch(self.task),
            stop=tuple(STOP) if self.task == "swe-mini" else None,
        )


def build(settings: TrainLoopSettings, progress: Any = None) -> tuple[Any, list[Any]]:
    """(env, training tasks) for `settings.task`; the env may need closing (`close()`)."""
    from benchmarks.loop_experiment import TaskSpec, countdown_env, game24_env, training_tasks

    spec = TaskSpec(
        task=settings.task,
        templates=comma_list(settings.templates),
        per_template=settings.per_template,
        demo=settings.demo,
        puzzles=settings.puzzles,
        easy=settings.easy,
        numbers=settings.numbers,
        instances=comma_list(settings.instances),
        seed=settings.seed,
    )
    tasks = training_tasks(spec)
    if settings.task == "game24":
        return game24_env(easy=settings.easy), tasks
    if settings.task == "countdown":
        return countdown_env(), tasks
    if settings.task == "swe-mini":
        from benchmarks.swe_bench.loop_env import SweLoopEnv

        return SweLoopEnv(settings.sandbox, settings.max_turns, settings.max_tokens), tasks
    from agents.training.loop_envs import AppWorldLoopEnv

    env = AppWorldLoopEnv(
        workers=settings.workers,
        max_turns=settings.max_turns,
        partial=settings.partial,
        progress=progress,
    )
    return env, tasks


def run_train_loop(
    settings: TrainLoopSettings,
    progress: Any,
    start: tuple[Any, Any] | None = None,
    make_env: Any = None,
) -> Any:
    """Train (resumable in `settings.run_dir()`); returns the `LoopReport`. `start`: the
    (model, tokenizer) when already loaded; `make_env`: an AppWorld-like env factory
    (tests)."""
    from agents.training.loop import IterationLog, train_loop
    from agents.training.orpo import load_trainable
    from foundation.executors import executor_session, parse_executor
    from foundation.runs import run_lock

    out = settings.run_dir()
    config = settings.config()
    current = {"iteration": 0}

    def rollouts(done: int, total: int) -> None:
        progress(f"iteration {current['iteration']}: rollouts", done, total)

    env, tasks = build(settings, rollouts)
    if make_env is not None:
        env.make_env = make_env
    spec = parse_executor(settings.executor)
    played = None
    if spec.kind != "local":
        from agents.training.loop_ray import RayRollouts

        played = RayRollouts(settings.model, spec, out)
    with run_lock(out), executor_session(spec):
        model, tokenizer = start or load_trainable(settings.model)
        progress("iterations", 0, config.iterations)

        def after(log: IterationLog) -> None:
            current["iteration"] = log.iteration + 1
            progress("iterations", log.iteration + 1, config.iterations)

        try:
            return train_loop(model, tokenizer, env, tasks, config, out, after, played)
        finally:
            close = getattr(env, "close", None)
            if close is not None:
                close()


def train_loop_cmd(
    task: str = typer.Option(
        "appworld-mini",
        help="appworld-mini (multi-turn, AppWorld's apps), game24, countdown (make a target "
        "from 2-4 numbers: the one SmolLM2-135M solves sometimes) or swe-mini (the linear "
        "repository agent, reward 1 when the instance resolves).",
    ),
    model: str = typer.Option(
        "local:smollm2", "--model", "-m", help="local:smollm2 or local:PATH to start from."
    ),
    k: int = typer.Option(6, help="Rollouts per task: the leave-one-out group (>= 2)."),
    iterations: int = typer.Option(10, help="LOOP iterations (rollouts, then one update)."),
    tasks_per_iteration: int = typer.Option(8, help="Tasks per iteration (K rollouts each)."),
    lr: float = typer.Option(5e-5, help="Learning rate of the LoRA adapters (AdamW)."),
    lora_rank: int = typer.Option(16, help="LoRA rank (alpha = 2 x rank)."),
    clip: float = typer.Option(0.2, help="PPO clip: ratios kept to [1 - clip, 1 + clip]."),
    minibatch: int = typer.Option(
        0,
        help="Model turns per optimizer step (0: all of an iteration's in one step); "
        "smaller makes several clipped steps per iteration.",
    ),
    epochs: int = typer.Option(1, help="Passes over each iteration's rollouts."),
    temperature: float = typer.Option(1.0, help="Sampling temperature of the rollouts."),
    max_tokens: int = typer.Option(256, help="Tokens per model turn."),
    max_turns: int = typer.Option(
        4, help="appworld-mini, swe-mini: model turns (agent steps) per episode."
    ),
    templates: str = typer.Option(
        "", help="appworld-mini: train templates to use, comma-separated (default: all)."
    ),
    per_template: int = typer.Option(8, help="appworld-mini: tasks per template (0..N-1)."),
    demo: bool = typer.Option(
        True,
        "--demo/--no-demo",
        help="appworld-mini: open each prompt with a solved task of the same template "
        "(its task 99, never trained or evaluated on).",
    ),
    partial: float = typer.Option(
        1.0,
        help="appworld-mini: reward of a failed episode = PARTIAL x the share of the task's "
        "checks passed (0: binary reward).",
    ),
    workers: int = typer.Option(
        6, "--workers", "-w", help="appworld-mini: worlds (processes) played at once."
    ),
    puzzles: int = typer.Option(
        64, help="game24, countdown: training puzzles (never the held-out ones)."
    ),
    easy: bool = typer.Option(
        False,
        "--easy/--no-easy",
        help="game24: the easy variant: puzzles whose numbers sum to 24, sums among the "
        "examples (a third of them held out).",
    ),
    numbers: int = typer.Option(2, help="countdown: numbers per puzzle (2-4)."),
    instances: str = typer.Option(
        "",
        "--instances",
        "-i",
        help="swe-mini: instance ids to train on, comma-separated (default: all 14).",
    ),
    sandbox: str = typer.Option(
        "auto", help="swe-mini: where episodes and grading run: docker, local or auto."
    ),
    out: Path | None = typer.Option(
        None,
        "--output",
        "--out",
        "-o",
        help="Run directory (default runs/loop/TASK); a rerun resumes it.",
    ),
    seed: int = typer.Option(0, help="Seeds the task schedule, the sampling and the updates."),
    executor: str = typer.Option(
        "local",
        "--executor",
        help="Where rollouts are played (game24, countdown, swe-mini): "
        + EXECUTOR_HELP
        + " Each task's K rollouts are a unit; each worker loads the model once and gets "
        "the adapters each iteration.",
    ),
) -> None:
    """LOOP (leave-one-out PPO, Chen et al. 2025): K rollouts per task, advantage = return
    minus the mean of the other K-1, PPO-clip per token on LoRA adapters; no value
    network, no KL, one model copy. Prints the mean reward per iteration; the adapter of
    the last iteration is OUT/iter{N-1}."""
    settings = TrainLoopSettings(
        task=task, model=model, k=k, iterations=iterations,
        tasks_per_iteration=tasks_per_iteration, lr=lr, lora_rank=lora_rank, clip=clip,
        minibatch=minibatch, epochs=epochs,
        temperature=temperature, max_tokens=max_tokens, max_turns=max_turns,
        templates=templates, per_template=per_template, demo=demo, partial=partial,
        workers=workers, puzzles=puzzles, easy=easy, numbers=numbers,
        instances=instances, sandbox=sandbox, out=out, seed=seed, executor=executor,
    )  # fmt: skip
    from agents.training.orpo import load_trainable

    try:  # the tasks and the model before any progress bar: a bad value is one line
        build(settings)
        start = load_trainable(settings.model)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from agents.commands.progress import phase_bars

    with phase_bars() as progress:
        try:
            report = run_train_loop(settings, progress, start)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    for line in report.lines():
        typer.echo(line)


def register(cli: CLI) -> None:
    from agents.commands.train import train_app

    train_app.command("loop")(train_loop_cmd)
