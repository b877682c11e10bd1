"""Each CLI command's settings model (agents/commands/*): the same option names and defaults
as its typer signature, frozen, and bad values as one `UserError` line naming the flags."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import typer
from typer.models import ParameterInfo

from agents.cli import app, main
from agents.commands.bench_hanabi import BenchHanabiSettings
from agents.commands.bench_mcts import BenchMctsSettings
from agents.commands.bench_planning import BenchPlanningSettings
from agents.commands.bench_stories import BenchStoriesSettings
from agents.commands.bench_swe_search import BenchSweSearchSettings
from agents.commands.bench_werewolf import BenchWerewolfSettings
from agents.commands.eval_swe_bench import EvalSweBenchSettings
from agents.commands.llm import AskSettings, BenchLlmSettings, ModelsSettings
from agents.commands.play import PlaySettings
from agents.commands.run_report import ReportSettings
from agents.commands.sandbox import SandboxGcSettings, SandboxStatusSettings
from agents.commands.serve import ServeSettings
from agents.commands.settings import CommandSettings
from agents.commands.solve import SolveSettings
from agents.commands.train import TrainOrpoSettings
from agents.commands.train_loop import TrainLoopSettings
from agents.commands.train_lspo import TrainLspoSettings
from benchmarks.tasks import SolveOptions
from foundation.errors import UserError

SETTINGS: dict[str, type[CommandSettings]] = {
    "solve": SolveSettings,
    "eval swe-bench": EvalSweBenchSettings,
    "bench hanabi": BenchHanabiSettings,
    "bench mcts": BenchMctsSettings,
    "bench planning": BenchPlanningSettings,
    "bench stories": BenchStoriesSettings,
    "bench swe-search": BenchSweSearchSettings,
    "bench llm": BenchLlmSettings,
    "play": PlaySettings,
    "train orpo": TrainOrpoSettings,
    "train lspo": TrainLspoSettings,
    "train loop": TrainLoopSettings,
    "bench werewolf": BenchWerewolfSettings,
    "models": ModelsSettings,
    "ask": AskSettings,
    "sandbox gc": SandboxGcSettings,
    "sandbox status": SandboxStatusSettings,
    "report": ReportSettings,
    "serve": ServeSettings,
}
NO_OPTIONS: set[str] = set()


def commands(group: typer.Typer, prefix: str = "") -> Iterator[tuple[str, Callable[..., Any]]]:
    """(full name, callback) of every command registered under `group`."""
    for command in group.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__.replace("_", "-")
        yield f"{prefix}{name}", command.callback
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        yield from commands(sub.typer_instance, f"{prefix}{sub.name} ")


REQUIRED = object()


def cli_defaults(callback: Callable[..., Any]) -> dict[str, Any]:
    """Parameter -> its default as typer gives it (repeatable options as tuples)."""
    out = {}
    for name, param in inspect.signature(callback).parameters.items():
        default = param.default
        if isinstance(default, ParameterInfo):
            default = default.default
        if default is ... or default is inspect.Parameter.empty:
            default = REQUIRED
        out[name] = tuple(default) if isinstance(default, list) else default
    return out


def test_every_command_with_options_has_a_settings_model() -> None:
    found = dict(commands(app))
    assert set(found) == set(SETTINGS) | NO_OPTIONS
    assert all(not cli_defaults(found[name]) for name in NO_OPTIONS)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_settings_fields_are_the_commands_options_with_the_same_defaults(name: str) -> None:
    settings = SETTINGS[name]
    options = cli_defaults(dict(commands(app))[name])
    fields = settings.model_fields
    # The same names (shared groups of options, such as the SWE-bench dataset flags, come
    # first in a model that inherits them, wherever --help lists them).
    assert sorted(fields) == sorted(options)
    for field, default in options.items():
        if default is REQUIRED:
            assert fields[field].is_required(), field
        else:
            assert fields[field].default == default, field
    assert settings.model_config.get("frozen") and settings.model_config.get("extra") == "forbid"


def test_settings_are_frozen() -> None:
    settings = BenchMctsSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.sims = 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SolveSettings(search="bfs"), "--search must be linear or mcts, not 'bfs'"),
        (lambda: SolveSettings(task="chess"), "unknown task 'chess'; known: "),
        (lambda: SolveSettings(task="game24", workers=2), "--workers does not apply to --task"),
        (lambda: SolveSettings(agent="rafa"), "--agent does not apply to --task swe-bench"),
        (lambda: SolveSettings(task="story", executor="ray"), "--executor does not apply to"),
        (lambda: SolveSettings(executor="ray:/x"), "--executor must be local, ray, ray://"),
        (lambda: TrainLoopSettings(executor="ray"), "--executor: appworld-mini's worlds run"),
        (lambda: SolveSettings(sandbox="vm"), "--sandbox must be docker, local or auto"),
        (lambda: EvalSweBenchSettings(predictions=Path("p"), run_id=".."), "run id '..'"),
        (lambda: BenchHanabiSettings(games=0), "--games must be >= 1 (got 0)"),
        (lambda: BenchHanabiSettings(players=6), "players=6"),
        (lambda: BenchHanabiSettings(bot=("deepblue",)), "unknown bot 'deepblue'"),
        (lambda: BenchMctsSettings(pairing=("vs_human",)), "valid: sims_python, sims_cpp"),
        (lambda: BenchMctsSettings(game="chesss"), "unknown game 'chesss'"),
        (lambda: BenchMctsSettings(seconds=0), "--seconds must be > 0"),
        (lambda: BenchPlanningSettings(agent=("mcts",)), "unknown agent 'mcts'"),
        (lambda: BenchPlanningSettings(task="tictactoe", model="oracle"), "no oracle model"),
        (lambda: BenchStoriesSettings(premises=99), "--premises must be in 1..6"),
        (lambda: BenchStoriesSettings(orpo_lr=0), "--orpo-lr must be > 0"),
        (lambda: BenchSweSearchSettings(max_cost=-1), "--max-cost must be >= 0"),
        (lambda: PlaySettings(game="x", human=(-1,)), "--human -1: seats are numbered from 0"),
        (lambda: TrainOrpoSettings(pairs=Path("/no/such")), "no such pairs file: /no/such"),
        (lambda: AskSettings(prompt=" "), "the prompt is empty"),
        (lambda: AskSettings(prompt="hi", n=-2), "--n must be at least 1 (got -2)"),
        (lambda: AskSettings(prompt="hi", timeout=0), "--timeout must be > 0"),
        (lambda: BenchLlmSettings(model="openai:x"), "measures a local: model"),
        (
            lambda: BenchMctsSettings(sims=cast(int, "many")),
            "--sims: Input should be a valid integer",
        ),
        (lambda: AskSettings(prompt="hi", as_json=cast(bool, "maybe")), "--json: Input should be"),
    ],
)
def test_bad_values_are_one_user_error_naming_the_option(
    make: Callable[[], CommandSettings], message: str
) -> None:
    with pytest.raises(UserError) as caught:
        make()
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_every_bad_option_is_named_in_the_one_line() -> None:
    with pytest.raises(UserError) as caught:
        BenchMctsSettings(sims=0, games=0, pairing=("x",))
    assert str(caught.value) == (
        "--sims must be >= 1 (got 0); --games must be >= 1 (got 0); "
        "unknown pairing 'x'; valid: sims_python, sims_cpp, time_python, time_cpp"
    )


def test_solve_settings_build_the_tasks_options() -> None:
    settings = SolveSettings(
        task="game24", instances="", agent="tot", option="4 4 10 10", max_iterations=9
    )
    assert settings.options() == SolveOptions(
        max_iterations=9, extra={"agent": "tot", "option": "4 4 10 10"}
    )
    swe = SolveSettings(instances=" a, b,,", no_eval=True, no_cache=True, output=Path("o"))
    assert swe.options() == SolveOptions(
        instances=("a", "b"), evaluate=False, cache=False, output=Path("o")
    )


def test_lower_layer_configs_are_built_from_the_settings(tmp_path: Path) -> None:
    from benchmarks.hanabi import HanabiBench
    from benchmarks.mcts_speed import PAIRINGS, BenchConfig

    hanabi = BenchHanabiSettings(bot=("random", "random", "hanabi_rules"), out=tmp_path)
    assert hanabi.config() == HanabiBench(
        bots=("random", "hanabi_rules"), games=100, out=str(tmp_path)
    )
    assert BenchMctsSettings().config() == BenchConfig(pairings=PAIRINGS)
    assert BenchMctsSettings(pairing=("sims_cpp",)).config().pairings == ("sims_cpp",)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("")
    orpo = TrainOrpoSettings(pairs=pairs, fold="1/5", max_minutes=2).config()
    assert (orpo.fold, orpo.folds, orpo.max_seconds) == (1, 5, 120)
    assert BenchStoriesSettings().orpo() is None
    lora = BenchStoriesSettings(orpo_steps=3, lora=True).orpo()
    assert lora is not None and lora.top_layers == 0 and lora.lora
    gold = EvalSweBenchSettings(predictions=Path("gold"), dataset="org/data")
    assert gold.gold and gold.run_name() == "org__data.gold"
    assert gold.run_config("local").test_timeout == 900.0


def test_play_seats_follow_human_and_opponent_options() -> None:
    settings = PlaySettings(game="hearts", human=(2, 0, 2), opponent=("mcts", "random"))
    assert settings.seat_specs(4) == [None, "mcts", None, "random"]
    with pytest.raises(UserError, match="--human 2: hearts has seats 0-1"):
        settings.seat_specs(2)
    with pytest.raises(UserError, match="2 --opponent specs for 1 bot seat"):
        PlaySettings(game="g", opponent=("a", "b")).seat_specs(2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "mcts", "--sims", "0"], "--sims must be >= 1 (got 0)"),
        (["bench", "hanabi", "--games", "0"], "--games must be >= 1 (got 0)"),
        (["bench", "planning", "--limit", "0"], "--limit must be >= 1 (got 0)"),
        (["bench", "llm", "--prompts", "0"], "--prompts must be >= 1 (got 0)"),
        (["ask", "--timeout", "0", "hi"], "--timeout must be > 0 (got 0.0)"),
        (["train", "orpo", "--pairs", "/no/such"], "no such pairs file: /no/such"),
        (["solve", "--task", "story", "--workers", "2"], "--workers does not apply"),
    ],
)
def test_the_cli_prints_a_settings_error_as_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
