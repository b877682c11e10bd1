"""`agents bench hanabi`: bots' self-play scores on paired decks, beside published numbers."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from foundation.errors import UserError


def bench_hanabi(
    bot: list[str] = typer.Option(
        ["hanabi_rules"],
        "--bot",
        help="Bot spec (repeat to compare on the same decks; differences are vs the first): "
        "hanabi_rules, mds:eta=5,rollouts=200, mds:seconds=2,alpha=0.5 (MMDS), random.",
    ),
    games: int = typer.Option(100, help="Games per bot (seeds SEED..SEED+N-1)."),
    seed: int = typer.Option(0, help="First deck seed."),
    players: int = typer.Option(2, help="Players, 2-5."),
    partner: str | None = typer.Option(
        None, help="Seat 0 plays --bot, the other seats this spec (default: self-play)."
    ),
    out: Path = typer.Option(Path("benchmarks/results"), help="Where reports and the log go."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
) -> None:
    """Mean score ± SE, share of 25s, histogram and seconds per move for each bot; writes
    hanabi_<P>p.{json,md,png} and appends games to hanabi_games.jsonl (resumable)."""
    from benchmarks.hanabi import HanabiBench, markdown, run, summarize, write_reports
    from games.bots import make_bot
    from games.errors import GameError
    from games.hanabi.game import HanabiConfig

    if games < 1:
        raise UserError("--games must be >= 1")
    try:
        game = HanabiConfig(players=players).load()
        for spec in [*bot, *([partner] if partner else [])]:
            make_bot(game, spec, seed=0)  # validate every spec before playing
    except GameError as exc:
        raise UserError(str(exc)) from None
    cfg = HanabiBench(
        bots=tuple(dict.fromkeys(bot)),
        games=games,
        seed=seed,
        players=players,
        out=str(out),
        partner=partner,
    )
    say = (lambda _: None) if as_json else (lambda s: typer.echo(s, err=True))
    summary = summarize(cfg, run(cfg, say))
    paths = write_reports(summary, out)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(markdown(summary))
        typer.echo("wrote " + ", ".join(str(p) for p in paths))


def register(cli) -> None:  # type: ignore[no-untyped-def]
    cli.bench.command("hanabi")(bench_hanabi)
