"""`agents bench hanabi`: bots' self-play scores on paired decks, beside published numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import typer
from pydantic import model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.options import status_line
from agents.commands.settings import EXECUTOR_HELP, CommandSettings, Count, Executor

if TYPE_CHECKING:
    from benchmarks.hanabi import HanabiBench


class BenchHanabiSettings(CommandSettings):
    """`agents bench hanabi`'s options; `config()` is the benchmark's `HanabiBench`."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    bot: tuple[str, ...] = ("hanabi_rules",)
    games: Count = 100
    seed: int | None = None
    """The first deck; None: the first evaluation seed, or the first tuning seed."""
    tuning: bool = False
    players: int = 2
    partner: str | None = None
    out: Path = Path("benchmarks/results")
    as_json: bool = False
    workers: Count = 1
    executor: Executor = "local"

    @model_validator(mode="after")
    def _playable(self) -> Self:
        """The game loads with --players, and every bot spec builds (before any game runs)."""
        from games.bots import make_bot
        from games.errors import GameError
        from games.hanabi.game import HanabiConfig

        try:
            game = HanabiConfig(players=self.players).load()
            for spec in [*self.bot, *([self.partner] if self.partner else [])]:
                make_bot(game, spec, seed=0)
        except GameError as exc:
            raise ValueError(str(exc)) from None
        return self

    def config(self) -> HanabiBench:
        from benchmarks.hanabi import HanabiBench
        from benchmarks.protocol import HANABI

        first = (HANABI.tuning if self.tuning else HANABI.evaluation).start
        return HanabiBench(
            bots=tuple(dict.fromkeys(self.bot)),
            games=self.games,
            seed=first if self.seed is None else self.seed,
            players=self.players,
            out=str(self.out),
            partner=self.partner,
        )


def bench_hanabi(
    bot: list[str] = typer.Option(
        ["hanabi_rules"],
        "--bot",
        help="Bot spec (repeat to compare on the same decks; differences are vs the first): "
        "hanabi_rules, mds:eta=5,rollouts=200, mds:seconds=2,alpha=0.5 (MMDS), random.",
    ),
    games: int = typer.Option(100, help="Games per bot (seeds SEED..SEED+N-1)."),
    seed: int | None = typer.Option(
        None,
        help="First deck seed (default: the first evaluation seed, 1000000; with --tuning, 0).",
    ),
    tuning: bool = typer.Option(
        False,
        "--tuning",
        help="Play tuning seeds (0..999999): choose configurations there, report gains on "
        "the evaluation seeds (1000000..1999999, the default).",
    ),
    players: int = typer.Option(2, help="Players, 2-5."),
    partner: str | None = typer.Option(
        None, help="Seat 0 plays --bot, the other seats this spec (default: self-play)."
    ),
    out: Path = typer.Option(
        Path("benchmarks/results"), "--output", "--out", "-o", help="Where reports and the log go."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    workers: int = typer.Option(
        1, "--workers", "-w", min=1, help="Processes playing games at once (local only)."
    ),
    executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
) -> None:
    """Mean score ± SE, share of 25s, histogram and seconds per move for each bot; writes
    hanabi_<P>p.{json,md,png} and appends games to hanabi_games.jsonl (resumable)."""
    settings = BenchHanabiSettings(
        bot=tuple(bot), games=games, seed=seed, tuning=tuning, players=players, partner=partner,
        out=out,
        as_json=as_json, workers=workers, executor=executor,
    )  # fmt: skip
    from benchmarks.hanabi import markdown, run, summarize, write_reports

    cfg = settings.config()
    say = (lambda _: None) if settings.as_json else status_line
    from benchmarks.hanabi import protocol_line

    say(protocol_line(cfg.seed, cfg.games))
    summary = summarize(cfg, run(cfg, say, settings.executor, settings.workers))
    from benchmarks.hanabi import log_path
    from benchmarks.report import write_report

    paths = [*write_reports(summary, settings.out), write_report(log_path(cfg))]  # + its page
    if settings.as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(markdown(summary))
        typer.echo("wrote " + ", ".join(str(p) for p in paths))


def register(cli: CLI) -> None:
    cli.bench.command("hanabi")(bench_hanabi)
