"""`agents play GAME`: play an OpenSpiel game against our agents in the terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import typer
from pydantic import field_validator

from agents.commands import CLI
from agents.commands.settings import CommandSettings
from foundation.errors import UserError


class PlaySettings(CommandSettings):
    """`agents play`'s options; `seat_specs(players)` says who plays each seat."""

    FLAGS: ClassVar[dict[str, str]] = {
        "game": "GAME",
        "human": "--seat/--human",
        "thinking": "--thinking/--no-thinking",
    }

    game: str
    opponent: tuple[str, ...] = ()
    """() means the game's default bot (`games.play.default_bot`)."""
    human: tuple[int, ...] = (0,)
    """The human seats (`--seat N`, also spelled `--human N`)."""
    seed: int = 0
    trees: Path | None = None
    thinking: bool = True

    @field_validator("human")
    @classmethod
    def _seat_numbers(cls, human: tuple[int, ...]) -> tuple[int, ...]:
        bad = [h for h in human if h < 0]
        if bad:
            raise ValueError(f"--seat/--human {bad[0]}: seats are numbered from 0")
        return tuple(sorted(set(human)))

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
        thinking=thinking,
    )  # fmt: skip
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
    if result.returns is None:
        raise typer.Exit(0)


def register(cli: CLI) -> None:
    cli.app.command("play")(play)
