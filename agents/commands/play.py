"""`agents play GAME`: play an OpenSpiel game against our agents in the terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import typer
from pydantic import field_validator, model_validator
from typing_extensions import Self

from agents.commands import CLI
from agents.commands.settings import CommandSettings, Count, spec_list
from foundation.errors import UserError


class PlaySettings(CommandSettings):
    """`agents play`'s options; `seat_specs(players)` says who plays each seat."""

    FLAGS: ClassVar[dict[str, str]] = {
        "game": "GAME",
        "human": "--seat/--human",
        "thinking": "--thinking/--no-thinking",
        "as_json": "--json",
    }

    game: str
    opponent: tuple[str, ...] = ()
    """() means the game's default bot (`games.play.default_bot`)."""
    human: tuple[int, ...] = (0,)
    """The human seats (`--seat N`, also spelled `--human N`)."""
    seed: int = 0
    trees: Path | None = None
    thinking: bool = True
    bots: str = ""
    """`--bots A,B`: bots play each other, no human (`spec_list`)."""
    games: Count = 1
    as_json: bool = False

    @field_validator("human")
    @classmethod
    def _seat_numbers(cls, human: tuple[int, ...]) -> tuple[int, ...]:
        bad = [h for h in human if h < 0]
        if bad:
            raise ValueError(f"--seat/--human {bad[0]}: seats are numbered from 0")
        return tuple(sorted(set(human)))

    @model_validator(mode="after")
    def _bots_or_human(self) -> Self:
        if self.bots and (self.opponent or self.trees is not None):
            raise ValueError(
                "--bots plays bots against each other; --opponent and --trees are for a "
                "game with a human"
            )
        if not self.bots and (self.games != 1 or self.as_json):
            raise ValueError("--games and --json go with --bots (bots against each other)")
        return self

    def seat_specs(self, players: int, default: str = "mcts:sims=1000") -> list[str | None]:
        """Each seat's bot spec, None for a human seat (the last --opponent repeats; no
        --opponent: `default`); a seat number or an --opponent count the game does not
        have is a `UserError`."""
        bad = [h for h in self.human if h >= players]
        if bad:
            raise UserError(f"--seat/--human {bad[0]}: {self.game} has seats 0-{players - 1}")
        bot_seats = [p for p in range(players) if p not in self.human]
        if len(self.opponent) > len(bot_seats):
            raise UserError(
                f"{len(self.opponent)} --opponent specs for {len(bot_seats)} bot seat(s) "
                f"in {self.game}"
            )
        bots = self.opponent or (default,)
        return [
            None if p in self.human else bots[min(bot_seats.index(p), len(bots) - 1)]
            for p in range(players)
        ]


def _read_line(prompt: str) -> str | None:
    """A line from the keyboard or a pipe; piped lines are echoed so transcripts read well."""
    if sys.stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            return None
    sys.stdout.write(prompt)
    line = sys.stdin.readline()
    if not line:
        sys.stdout.write("\n")
        return None
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    sys.stdout.flush()
    return line.rstrip("\n")


def _write(text: str) -> None:
    print(text, flush=True)


def play(
    game: str = typer.Argument(
        ..., help="Game name, e.g. tic_tac_toe, connect_four, leduc_poker, hearts, werewolf."
    ),
    opponent: list[str] = typer.Option(
        [],
        "--opponent",
        help="Bot spec for the non-human seats, in seat order (the last one repeats): "
        "random, mcts:sims=2000, mcts:seconds=1, cfr, rule (werewolf), llm:local:smollm2, "
        "... Default: rule for werewolf, else mcts:sims=1000.",
        show_default=False,
    ),
    human: list[int] = typer.Option(
        [0],
        "--seat",
        "--human",
        "-H",
        help="Seat(s) played by a human, numbered from 0 (repeat for several; werewolf "
        "takes one: --seat 0..6).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seeds chance and every bot."),
    trees: Path | None = typer.Option(
        None, "--trees", help="Write each MCTS move's search tree here (JSON and Graphviz DOT)."
    ),
    thinking: bool = typer.Option(
        True,
        "--thinking/--no-thinking",
        help="Show each bot's reasoning line (perfect-information games only, or with no "
        "human seat: elsewhere it can reveal hidden information).",
    ),
    bots: str = typer.Option(
        "",
        "--bots",
        help="Bots play each other, no human: one spec per seat, comma-separated (a spec "
        "keeps its own commas: mcts:sims=200,c=2,random). Prints a results table.",
        show_default=False,
    ),
    games: int = typer.Option(
        1, "--games", help="With --bots: games to play; the bots change seats every game."
    ),
    as_json: bool = typer.Option(False, "--json", help="With --bots: print the results as JSON."),
) -> None:
    """Play GAME in the terminal against search, CFR, rule or LLM agents; moves can be
    piped in.

    Werewolf (`agents play werewolf --seat 3`): you see only what your seat knows: your
    role, your own night results, the speeches, deaths and open votes. Speak in free
    English ("I think player 4 is a werewolf"); it is heard as the nearest statement of the
    game. Night actions and votes are picked from numbered lists. Roles are never revealed,
    not even at the end (the rules say so): you learn the winning side and your result.
    """
    from games.bots import make_bot
    from games.catalog import load_game
    from games.errors import GameError
    from games.play import PlaySession, Seat, default_bot

    settings = PlaySettings(
        game=game, opponent=tuple(opponent), human=tuple(human), seed=seed, trees=trees,
        thinking=thinking, bots=bots, games=games, as_json=as_json,
    )  # fmt: skip
    if settings.bots:
        _bot_match(settings)
        return
    try:
        loaded = load_game(settings.game)
        seats = [
            Seat("human")
            if spec is None
            else Seat(spec, make_bot(loaded, spec, seed=settings.seed + p))
            for p, spec in enumerate(settings.seat_specs(loaded.num_players(), default_bot(loaded)))
        ]
        result = PlaySession(
            loaded, seats, _read_line, _write, seed=settings.seed,
            show_thinking=settings.thinking, tree_dir=settings.trees,
        ).run()  # fmt: skip
    except GameError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        # typer turns Ctrl-C into a return value that the root CLI ignores; end here instead.
        print("\ninterrupted: game abandoned", file=sys.stderr, flush=True)
        sys.exit(130)
    if settings.trees is not None and any(settings.trees.glob("move*.json")):
        from benchmarks.report import write_report

        _write(f"search trees: {write_report(settings.trees)}")  # click through them
    if result.returns is None:
        raise typer.Exit(0)


def _bot_match(settings: PlaySettings) -> None:
    """`--bots`: the match, a rich table (or JSON) of each spec's results."""
    import json

    from rich.console import Console
    from rich.table import Table

    from agents.commands.progress import phase_bars
    from games.bots import make_bot
    from games.catalog import load_game
    from games.errors import GameError
    from games.match import check_specs, play_match

    specs = spec_list(settings.bots)
    try:
        loaded = load_game(settings.game)
        check_specs(loaded, specs)
        for spec in specs:  # a bad spec is one line before any game (and any bar)
            make_bot(loaded, spec, seed=0)
        with phase_bars(disable=settings.as_json) as progress:
            rows = play_match(
                loaded, specs, settings.games, settings.seed,
                lambda done, total: progress(f"{settings.game}: games", done, total),
            )  # fmt: skip
    except GameError as exc:
        raise UserError(str(exc)) from None
    if settings.as_json:
        typer.echo(json.dumps({"game": settings.game, "games": settings.games, "bots": rows}))
        return
    table = Table(title=f"{settings.game}: {settings.games} games, seats rotated")
    for col in ("bot", "games", "mean return [95% CI]", "W-D-L", "win rate"):
        table.add_column(col)
    for row in rows:
        low, high = row["ci95"]
        table.add_row(
            str(row["spec"]), str(row["games"]),
            f"{row['mean_return']:+.3f} [{low:+.3f}, {high:+.3f}]",
            f"{row['wins']}-{row['draws']}-{row['losses']}", f"{row['win_rate']:.2f}",
        )  # fmt: skip
    Console().print(table)


def register(cli: CLI) -> None:
    cli.app.command("play")(play)
