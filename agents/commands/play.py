"""`agents play GAME`: play an OpenSpiel game against our agents in the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from foundation.errors import UserError


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
        ..., help="Game name, e.g. tic_tac_toe, connect_four, leduc_poker, hearts."
    ),
    opponent: list[str] = typer.Option(
        ["mcts:sims=1000"],
        "--opponent",
        "-o",
        help="Bot spec for the non-human seats, in seat order (the last one repeats): "
        "random, mcts:sims=2000, mcts:seconds=1, cfr, llm:local:smollm2, ...",
    ),
    human: list[int] = typer.Option(
        [0], "--human", "-H", help="Seat(s) played by a human (repeat for several)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seeds chance and every bot."),
    trees: Path | None = typer.Option(
        None, "--trees", help="Write each MCTS move's search tree here (JSON and Graphviz DOT)."
    ),
    thinking: bool = typer.Option(
        True, "--thinking/--no-thinking", help="Show each bot's reasoning line."
    ),
) -> None:
    """Play GAME in the terminal against search, CFR or LLM agents; moves can be piped in."""
    from games.bots import make_bot
    from games.catalog import load_game
    from games.errors import GameError
    from games.play import PlaySession, Seat

    try:
        loaded = load_game(game)
        n = loaded.num_players()
        seats_human = sorted(set(human))
        bad = [h for h in seats_human if not 0 <= h < n]
        if bad:
            raise UserError(f"--human {bad[0]}: {game} has seats 0-{n - 1}")
        bot_seats = [p for p in range(n) if p not in seats_human]
        if len(opponent) > len(bot_seats):
            raise UserError(
                f"{len(opponent)} --opponent specs for {len(bot_seats)} bot seat(s) in {game}"
            )
        seats = []
        for p in range(n):
            if p in seats_human:
                seats.append(Seat("human"))
                continue
            spec = opponent[min(bot_seats.index(p), len(opponent) - 1)]
            seats.append(Seat(spec, make_bot(loaded, spec, seed=seed + p)))
        result = PlaySession(
            loaded, seats, _read_line, _write, seed=seed, show_thinking=thinking, tree_dir=trees
        ).run()
    except GameError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        # typer turns Ctrl-C into a return value that the root CLI ignores; end here instead.
        print("\ninterrupted: game abandoned", file=sys.stderr, flush=True)
        sys.exit(130)
    if result.returns is None:
        raise typer.Exit(0)


def register(cli) -> None:  # type: ignore[no-untyped-def]
    cli.app.command("play")(play)
