"""`agents train loop`: its settings and one-line errors, --help, a run on a tiny model
(game24 and countdown through the CLI; appworld-mini with a fake world) that resumes, and
the experiment's helpers (paired interval, game24 answers, countdown puzzles)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_loop_envs import WordWorld
from tiny_models import build_tiny_llama
from typer.testing import CliRunner

from agents.cli import app, main
from agents.commands.train_loop import TrainLoopSettings, run_train_loop
from benchmarks.loop_experiment import (
    COUNTDOWN_SHOTS,
    Experiment,
    appworld_tasks,
    countdown_gold,
    countdown_prompt,
    countdown_puzzles,
    countdown_reward,
    countdown_tasks,
    game24_answer,
    game24_reward,
    game24_tasks,
    paired_interval,
)
from foundation.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    words = ["```", "\n", "do", "x", "y", "finish", "1", "2", "3", "4", "*", "+", "(", ")"]
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-loop-cli"), words=words)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 1}, "--k must be >= 2"),
        ({"model": "openai:gpt-4o"}, "LOOP trains a local model"),
        (
            {"task": "chess"},
            "--task must be appworld-mini, game24, countdown or swe-mini, not 'chess'",
        ),
        ({"task": "countdown", "numbers": 5}, "--numbers must be 2, 3 or 4 (got 5)"),
        ({"task": "swe-mini", "sandbox": "vm"}, "--sandbox must be docker, local or auto"),
        ({"partial": 1.5}, "--partial must be in [0, 1]"),
        ({"lr": 0}, "--lr must be > 0"),
        ({"iterations": 0}, "--iterations must be >= 1"),
    ],
)
def test_bad_options_are_one_line(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as caught:
        TrainLoopSettings(**options)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_cli_prints_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message, code in (
        (["train", "loop", "--k", "1"], "--k must be >= 2", 2),
        (["train", "loop", "--task", "swe-mini", "--instances", "nope"], "no instance 'nope'", 2),
        (["train", "loop", "--templates", "venmo-balance"], "unknown train template", 2),
        (["train", "loop", "--model", "local:/no/such/model"], "no such file", 1),
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == code, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_help_explains() -> None:
    result = CliRunner().invoke(app, ["train", "loop", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for phrase in ("leave-one-out", "--k", "--lora-rank", "--max-turns", "resum", "no KL"):
        assert phrase in text, phrase


def test_settings_build_the_trainers_config() -> None:
    config = TrainLoopSettings(k=4, lora_rank=8, lr=1e-4, max_tokens=64, seed=3).config()
    assert (config.k, config.lora_rank, config.lora_alpha, config.lr) == (4, 8, 16, 1e-4)
    assert (config.max_tokens, config.seed, config.iterations) == (64, 3, 10)
    assert TrainLoopSettings().run_dir() == Path("runs/loop/appworld-mini")


def test_game24_through_the_cli_and_a_rerun_resumes(tiny_dir: Path, tmp_path: Path) -> None:
    argv = [
        "train", "loop", "--task", "game24", "--model", f"local:{tiny_dir}", "--k", "2",
        "--iterations", "2", "--tasks-per-iteration", "2", "--max-tokens", "4",
        "--puzzles", "4", "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    first = CliRunner().invoke(app, argv)
    assert first.exit_code == 0, first.output
    assert "LOOP: 2 iterations (0 resumed)" in first.output
    assert (tmp_path / "run" / "iter1" / "log.json").is_file()
    argv[argv.index("--iterations") + 1] = "3"
    again = CliRunner().invoke(app, argv)
    assert again.exit_code == 0, again.output
    assert "LOOP: 3 iterations (2 resumed)" in again.output


def test_appworld_mini_with_a_fake_world(tiny_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    class MiniWorld(WordWorld):
        def reset(self, task: Any) -> str:  # an AppWorldTask
            self.resets += 1
            self.task, self.done, self.completed = (task.instruction, "x"), [], False
            return str(task.instruction)

    settings = TrainLoopSettings(
        k=2, iterations=1, tasks_per_iteration=2, max_tokens=6, max_turns=2,
        templates="phone-alarm", per_template=2, workers=2, out=tmp_path / "run",
    )  # fmt: skip
    phases: list[str] = []
    start = (
        AutoModelForCausalLM.from_pretrained(tiny_dir),
        AutoTokenizer.from_pretrained(tiny_dir),
    )
    report = run_train_loop(settings, lambda p, d, t: phases.append(p), start, MiniWorld)
    assert report.logs[0].rollouts == 4 and report.logs[0].tasks == 2
    assert "iteration 0: rollouts" in phases and "iterations" in phases


def test_the_experiments_tasks_and_numbers() -> None:
    trained = appworld_tasks("train", ("phone-alarm",), range(3))
    held = Experiment(templates=("phone-alarm",), eval_tasks=2).heldout()
    assert {t.name for t in trained}.isdisjoint(t.name for t in held)
    assert all(t.demo and "Task:" in t.demo for t in held)
    demo_task = trained[0].demo
    assert demo_task is not None and all(t.name not in demo_task for t in trained)
    with pytest.raises(ValueError, match="unknown train template"):
        appworld_tasks("train", ("venmo-balance",))
    assert set(game24_tasks("train", 20)).isdisjoint(game24_tasks("test", 100))
    assert game24_answer("Answer: `(10 * 10 - 4) / 4` = 24\nmore") == "(10 * 10 - 4) / 4"
    assert game24_reward((4, 4, 10, 10), " (10 * 10 - 4) / 4") == 1.0
    assert game24_reward((4, 4, 10, 10), "__import__('os')") == 0.0
    ci = paired_interval([0.0, 0.25, 0.5, 0.0], [0.5, 0.25, 1.0, 0.25])
    assert ci["mean"] == pytest.approx(0.3125)
    assert ci["boot_low"] <= ci["mean"] <= ci["boot_high"]
    assert ci["normal_low"] < ci["mean"] < ci["normal_high"]


@pytest.mark.parametrize("numbers", [2, 3, 4])
def test_countdown_puzzles_splits_and_checker(numbers: int) -> None:
    from benchmarks.game24.puzzles import check_target

    for shown, answer in COUNTDOWN_SHOTS[numbers]:  # the prompt's examples are right
        assert len(shown) == numbers + 1 and check_target(shown[1:], shown[0], answer).ok
    test = countdown_tasks("test", 50, numbers=numbers)
    train = countdown_tasks("train", 200, seed=7, numbers=numbers)
    assert test == countdown_tasks("test", 50, numbers=numbers)  # fixed for every run
    assert len(train) == 200 and set(train).isdisjoint(
        countdown_tasks("test", 100, numbers=numbers)
    )
    assert set(train).isdisjoint(p for p, _ in COUNTDOWN_SHOTS[numbers])
    for puzzle in train[:40]:
        assert puzzle[0] > 0 and all(1 <= x <= 12 for x in puzzle[1:])
        assert countdown_reward(puzzle, f"Answer: {countdown_gold(puzzle)} = {puzzle[0]}") == 1.0
    target, *nums = train[0]
    assert countdown_reward(train[0], " + ".join(map(str, [*nums, 1]))) == 0.0  # extra number
    assert countdown_reward((7, 3, 4), "3 + 4") == 1.0
    assert countdown_reward((7, 3, 4), "3 * 4") == 0.0  # 12, not 7
    assert countdown_reward((7, 3, 4), "__import__('os')") == 0.0
    messages = countdown_prompt(train[0])
    assert messages[0]["role"] == "system" and [m["role"] for m in messages[1:]] == (
        ["user", "assistant"] * 3 + ["user"]
    )
    assert messages[-1]["content"] == f"Numbers: {' '.join(map(str, nums))}. Target: {target}."
    with pytest.raises(ValueError, match="must be 2, 3 or 4"):
        countdown_puzzles(3, 0, numbers=5)
    if numbers == 2:  # about 350 exist: asking for more is an error, not an endless loop
        with pytest.raises(ValueError, match="distinct puzzles of 2 numbers exist"):
            countdown_tasks("train", 400, numbers=2)


def test_countdown_through_the_cli(tiny_dir: Path, tmp_path: Path) -> None:
    argv = [
        "train", "loop", "--task", "countdown", "--model", f"local:{tiny_dir}", "--k", "3",
        "--iterations", "1", "--tasks-per-iteration", "2", "--max-tokens", "4",
        "--puzzles", "4", "--numbers", "3", "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    log = (tmp_path / "run" / "iter0" / "log.json").read_text()
    assert '"rollouts": 6' in log and '"tasks": 2' in log
    assert TrainLoopSettings(task="countdown").config().micro_batch == 8
    assert TrainLoopSettings(task="appworld-mini").config().micro_batch == 1


class PlanPolicy:
    """A scripted LOOP policy: answers the repository agent's prompts with a fixed plan,
    one step per call (the number of assistant turns so far picks the step)."""

    def __init__(self, plan: list[str]) -> None:
        self.plan, self.calls = plan, 0

    def sample(self, contexts: Any, n: int, seed: int) -> list[list[Any]]:
        from agents.training.loop import Turn

        self.calls += 1
        out = []
        for messages in contexts:
            step = min(self.calls - 1, len(self.plan) - 1)
            text = self.plan[step]
            out.append([Turn(list(messages), [1, 2], [3] * (i + 1), [-0.5] * (i + 1), text, 0)
                        for i in range(n)])  # fmt: skip
        return out


@pytest.mark.parametrize(("plan", "reward"), [("correct", 1.0), ("broken", 0.0)])
def test_swe_mini_episodes_are_graded_by_the_harness(plan: str, reward: float) -> None:
    from swe_plans import BROKEN_PLAN, CORRECT_PLAN, IID

    from benchmarks.swe_bench.loop_env import SweLoopEnv

    env = SweLoopEnv(sandbox="local", max_iterations=6)
    policy = PlanPolicy(CORRECT_PLAN if plan == "correct" else BROKEN_PLAN)
    rollout = env.run(policy, IID, seed=0)
    assert rollout.reward == reward and rollout.success == (reward == 1.0)
    assert len(rollout.turns) == policy.calls >= 3  # every model turn kept for the update
    assert rollout.info["graded"] == ("resolved" if reward else "unresolved")
    assert "ACTION: finish" in rollout.turns[-1].text


def test_swe_mini_settings_build_its_env() -> None:
    from agents.commands.train_loop import build
    from agents.swe.env import STOP
    from benchmarks.swe_bench.loop_env import SweLoopEnv

    settings = TrainLoopSettings(
        task="swe-mini", instances="tkem__cachetools-1", sandbox="local", max_turns=5
    )
    env, tasks = build(settings)
    assert isinstance(env, SweLoopEnv) and tasks == ["tkem__cachetools-1"]
    assert env.agent.max_iterations == 5 and env.run_config.sandbox == "local"
    assert settings.config().stop == tuple(STOP) and settings.config().micro_batch == 1
    assert len(build(TrainLoopSettings(task="swe-mini", sandbox="local"))[1]) == 14
