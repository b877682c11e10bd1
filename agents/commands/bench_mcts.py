"""`agents bench mcts`: our MCTS vs OpenSpiel's Python and C++ MCTS (speed and strength)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import typer
from pydantic import field_validator

from agents.commands import CLI
from agents.commands.options import status_line
from agents.commands.settings import EXECUTOR_HELP, CommandSettings, Count, Executor, Positive

if TYPE_CHECKING:
    from benchmarks.mcts_speed import BenchConfig


class BenchMctsSettings(CommandSettings):
    """`agents bench mcts`'s options; `config()` is the benchmark's `BenchConfig`."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    game: str = "connect_four"
    sims: Count = 1000
    games: Count = 200
    seconds: Positive = 0.05
    positions: Count = 4
    reps: Count = 3
    workers: Count = 2
    seed: int = 0
    reuse: bool = False
    pairing: tuple[str, ...] = ()
    out: Path = Path("benchmarks/results")
    note: str = ""
    as_json: bool = False
    executor: Executor = "local"

    @field_validator("game")
    @classmethod
    def _known_game(cls, game: str) -> str:
        import pyspiel

        if game.split("(")[0] not in pyspiel.registered_names():
            raise ValueError(f"unknown game {game!r}; try connect_four or tic_tac_toe")
        return game

    @field_validator("pairing")
    @classmethod
    def _known_pairings(cls, pairing: tuple[str, ...]) -> tuple[str, ...]:
        from benchmarks.mcts_speed import PAIRINGS

        bad = [p for p in pairing if p not in PAIRINGS]
        if bad:
            raise ValueError(f"unknown pairing {bad[0]!r}; valid: {', '.join(PAIRINGS)}")
        return pairing

    def config(self) -> BenchConfig:
        from benchmarks.mcts_speed import PAIRINGS, BenchConfig

        return BenchConfig(
            game=self.game, sims=self.sims, games=self.games, seconds=self.seconds,
            positions=self.positions, reps=self.reps, workers=self.workers, seed=self.seed,
            reuse=self.reuse, pairings=self.pairing or PAIRINGS, out=str(self.out),
            note=self.note,
        )  # fmt: skip


def bench_mcts(
    game: str = typer.Option("connect_four", help="OpenSpiel game (two-player, sequential)."),
    sims: int = typer.Option(1000, help="Simulations per move: speed test and equal-sims games."),
    games: int = typer.Option(200, help="Games per pairing, sides swapped every game."),
    seconds: float = typer.Option(0.05, help="Seconds per move in the equal-time games."),
    positions: int = typer.Option(4, help="Seeded positions for the speed test."),
    reps: int = typer.Option(3, help="Timed searches per engine and position."),
    workers: int = typer.Option(
        2, "--workers", "-w", help="Processes playing games in parallel (local only)."
    ),
    seed: int = typer.Option(0),
    reuse: bool = typer.Option(
        False, "--reuse/--no-reuse", help="Let our MCTS keep its subtree between moves."
    ),
    pairing: list[str] = typer.Option(
        [],
        "--pairing",
        help="Only these: sims_python, sims_cpp, time_python, time_cpp (repeatable).",
    ),
    out: Path = typer.Option(
        Path("benchmarks/results"),
        "--output",
        "--out",
        "-o",
        help="Where the reports and the game log go.",
    ),
    note: str = typer.Option(
        "", help="A line for the report, e.g. which seeds development used (no effect on the run)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
    executor: str = typer.Option(
        "local",
        "--executor",
        help=EXECUTOR_HELP + " On Ray only the games move (one Ray task each): the speed "
        "test (sims/s, profile) still runs here, alone, first; the equal-sims results are a "
        "local run's, but ms/move and the equal-time games are timed on the workers' "
        "clocks (the Python bot's equal-time sims still come from this machine's rate), "
        "so compare equal-time scores only across like machines.",
    ),
) -> None:
    """Simulations per second at equal simulations, and win rates at equal simulations and
    equal wall-clock time; writes mcts_speed.{json,md,png} under --out (resumable)."""
    settings = BenchMctsSettings(
        game=game, sims=sims, games=games, seconds=seconds, positions=positions, reps=reps,
        workers=workers, seed=seed, reuse=reuse, pairing=tuple(pairing), out=out,
        note=note, as_json=as_json, executor=executor,
    )  # fmt: skip
    from benchmarks.mcts_speed import Progress, markdown, run, write_reports

    say = (lambda _: None) if settings.as_json else status_line
    result = run(settings.config(), Progress(say), executor=settings.executor)
    from benchmarks.report import write_report

    paths = write_reports(result, settings.out)
    paths.append(write_report(settings.out / "mcts_speed.games.jsonl"))  # the games' page
    if settings.as_json:
        slim = {**result, "speed": {k: v for k, v in result["speed"].items() if k != "samples"}}
        typer.echo(json.dumps(slim, indent=2))
    else:
        typer.echo(markdown(result))
        typer.echo("wrote " + ", ".join(str(p) for p in paths))


def register(cli: CLI) -> None:
    cli.bench.command("mcts")(bench_mcts)
