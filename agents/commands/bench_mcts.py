"""`agents bench mcts`: our MCTS vs OpenSpiel's Python and C++ MCTS (speed and strength)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from foundation.errors import UserError


def bench_mcts(
    game: str = typer.Option("connect_four", help="OpenSpiel game (two-player, sequential)."),
    sims: int = typer.Option(1000, help="Simulations per move: speed test and equal-sims games."),
    games: int = typer.Option(200, help="Games per pairing, sides swapped every game."),
    seconds: float = typer.Option(0.05, help="Seconds per move in the equal-time games."),
    positions: int = typer.Option(4, help="Seeded positions for the speed test."),
    reps: int = typer.Option(3, help="Timed searches per engine and position."),
    workers: int = typer.Option(2, help="Processes playing games in parallel."),
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
        Path("benchmarks/results"), help="Where the reports and the game log go."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Simulations per second at equal simulations, and win rates at equal simulations and
    equal wall-clock time; writes mcts_speed.{json,md,png} under --out (resumable)."""
    from benchmarks.mcts_speed import PAIRINGS, BenchConfig, Progress, markdown, run, write_reports

    if game.split("(")[0] not in __import__("pyspiel").registered_names():
        raise UserError(f"unknown game {game!r}; try connect_four or tic_tac_toe")
    bad = [p for p in pairing if p not in PAIRINGS]
    if bad:
        raise UserError(f"unknown pairing {bad[0]!r}; valid: {', '.join(PAIRINGS)}")
    if min(sims, games, positions, reps, workers) < 1 or seconds <= 0:
        raise UserError("sims, games, positions, reps and workers must be >= 1, seconds > 0")
    cfg = BenchConfig(
        game=game, sims=sims, games=games, seconds=seconds, positions=positions, reps=reps,
        workers=workers, seed=seed, reuse=reuse, pairings=tuple(pairing) or PAIRINGS, out=str(out),
    )  # fmt: skip
    say = (lambda _: None) if as_json else (lambda s: typer.echo(s, err=True))
    result = run(cfg, Progress(say))
    paths = write_reports(result, out)
    if as_json:
        slim = {**result, "speed": {k: v for k, v in result["speed"].items() if k != "samples"}}
        typer.echo(json.dumps(slim, indent=2))
    else:
        typer.echo(markdown(result))
        typer.echo("wrote " + ", ".join(str(p) for p in paths))


def register(cli) -> None:  # type: ignore[no-untyped-def]
    cli.bench.command("mcts")(bench_mcts)
