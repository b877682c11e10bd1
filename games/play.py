"""Play an OpenSpiel game in the terminal: human seats read moves line by line (a
keyboard or a pipe), bot seats are `make_bot` bots that explain each move in a line.

Commands at a human move: a move name or its number, `undo` (take back your last
move and the replies since), `help`, `quit`. After the end, `undo` still works.

A bot's reasoning line (`thinking`) is shown in perfect-information games, and in others
only when no human is seated: it can reveal what the bot alone knows. A game may have its
own table (`table_for`): werewolf (games/werewolf/play.py) shows its one human seat only
what that seat may know and reads speech as free text.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyspiel

from games.errors import GameError, UnsupportedGameError
from games.render import legal_move_names
from games.views import player_moves, player_view

ReadLine = Callable[[str], "str | None"]
"""Shows a prompt, returns the next input line, or None when input has ended."""
Write = Callable[[str], None]


@dataclass(frozen=True)
class Seat:
    """Who plays a seat: a human (bot None) or a bot with the spec it was made from."""

    label: str
    bot: pyspiel.Bot | None = None


@dataclass(frozen=True)
class PlayResult:
    returns: tuple[float, ...] | None
    """Final returns, or None when the game was abandoned."""
    reason: str
    """"finished", "quit" or "input ended"."""
    history: tuple[int, ...]


def parse_human_move(text: str, moves: list[tuple[int, str]]) -> int | None:
    """A legal action from a move name (case-insensitive) or its number in the list."""
    t = text.strip().lower()
    for action, name in moves:
        if name.lower() == t:
            return action
    if t.isdigit() and 1 <= int(t) <= len(moves):
        return moves[int(t) - 1][0]
    return None


DEFAULT_BOT = "mcts:sims=1000"
GAME_BOTS: dict[str, str] = {"werewolf": "rule"}
"""The bot that takes the non-human seats by default, by game (else DEFAULT_BOT)."""


def default_bot(game: pyspiel.Game) -> str:
    """The bot spec for seats nobody chose a bot for."""
    return GAME_BOTS.get(game.get_type().short_name, DEFAULT_BOT)


class Table(Protocol):
    """A game's own terminal for its one human seat: what that seat sees, how it moves."""

    def show(self, state: pyspiel.State) -> None:
        """Write what became visible to the seat since the last call (after every move)."""

    def human_move(self, state: pyspiel.State, read_line: ReadLine) -> int | str:
        """The seat's action, or why play stops: "quit" or "input ended"."""

    def game_over(self, state: pyspiel.State) -> None:
        """Write the end of the game as the seat may know it."""


def table_for(game: pyspiel.Game, humans: list[int], write: Write) -> Table | None:
    """The game's own table when it has one (werewolf) and a human is seated, else None
    (the generic terminal). A game whose table keeps secrets takes one human seat."""
    name = game.get_type().short_name
    if name != "werewolf" or not humans:
        return None
    if len(humans) > 1:
        raise UnsupportedGameError(
            f"werewolf keeps each seat's role secret: one human seat per terminal, "
            f"not {len(humans)}"
        )
    from games.werewolf.play import WerewolfTable

    return WerewolfTable(game, humans[0], write)


def move_list(moves: list[tuple[int, str]]) -> str:
    """Numbered moves, `1) name`, in columns."""
    items = [f"{i}) {name}" for i, (_, name) in enumerate(moves, 1)]
    width = max(len(s) for s in items) + 2
    per_line = max(1, 78 // width)
    rows = [items[i : i + per_line] for i in range(0, len(items), per_line)]
    return "\n".join("  " + "".join(s.ljust(width) for s in row).rstrip() for row in rows)


class PlaySession:
    """One game between the seats; `run` returns when it ends, is quit, or input ends."""

    def __init__(
        self,
        game: pyspiel.Game,
        seats: list[Seat],
        read_line: ReadLine,
        write: Write,
        seed: int = 0,
        show_thinking: bool = True,
        tree_dir: Path | None = None,
    ) -> None:
        if len(seats) != game.num_players():
            raise ValueError(f"{len(seats)} seats for a {game.num_players()}-player game")
        if game.get_type().dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
            raise UnsupportedGameError(
                f"{game.get_type().short_name} has simultaneous moves; terminal play takes "
                "turn-based games only"
            )
        self.game = game
        self.seats = seats
        self.read_line = read_line
        self.write = write
        self.rng = random.Random(seed)
        self.tree_dir = tree_dir
        self.perfect = (
            game.get_type().information == pyspiel.GameType.Information.PERFECT_INFORMATION
        )
        self.humans = [p for p, s in enumerate(seats) if s.bot is None]
        # A bot's reasoning can tell what it alone knows (a wolf's "same victim as 0").
        self.show_thinking = show_thinking and (self.perfect or not self.humans)
        self.table = table_for(game, self.humans, write)
        self.treeless = [
            p for p, s in enumerate(seats) if s.bot is not None and not _builds_trees(s.bot)
        ]
        if tree_dir is not None and len(self.treeless) == len(seats) - len(self.humans):
            raise GameError(
                "--trees: no bot here builds a search tree ("
                + ", ".join(sorted({seats[p].label for p in self.treeless}))
                + "); trees come from search bots such as mcts:sims=N"
            )
        self.state = game.new_initial_state()
        self._checkpoints: list[pyspiel.State] = []  # states where a human was to move

    @property
    def can_undo(self) -> bool:
        return bool(self._checkpoints)

    def _who(self, player: int) -> str:
        seat = self.seats[player]
        you = " (you)" if seat.bot is None and len(self.humans) == 1 else ""
        return f"player {player} [{seat.label}]{you}"

    def _restart_bots(self) -> None:
        for seat in self.seats:
            if seat.bot is not None:
                seat.bot.restart_at(self.state)

    def _undo(self) -> bool:
        if not self._checkpoints:
            self.write("nothing to undo yet")
            return False
        self.state = self._checkpoints.pop()
        self._restart_bots()
        self.write(f"undone: back to move {player_moves(self.state) + 1}")
        return True

    def run(self) -> PlayResult:
        g = self.game.get_type()
        self.write(
            f"{g.long_name}: " + ", ".join(self._who(p) for p in range(self.game.num_players()))
        )
        self._restart_bots()
        if self.tree_dir is not None and self.treeless:
            self.write(
                "--trees: "
                + ", ".join(self._who(p) for p in self.treeless)
                + " builds no search tree; the other bots' trees are written"
            )
        while True:
            state = self.state
            if state.is_terminal():
                result = self._finish()
                if result is not None:
                    return result
                continue
            if state.is_chance_node():
                outcomes, probs = zip(*state.chance_outcomes(), strict=True)
                outcome = self.rng.choices(outcomes, probs)[0]
                if self.perfect:
                    self.write(
                        f"chance: {state.action_to_string(pyspiel.PlayerId.CHANCE, outcome)}"
                    )
                self._apply(pyspiel.PlayerId.CHANCE, outcome)
                continue
            player = state.current_player()
            if player < 0:
                raise ValueError(f"{g.short_name}: player {player} to move is not supported")
            bot = self.seats[player].bot
            if bot is not None:
                action = bot.step(state)
                if self.table is None:  # a table shows moves as the human seat sees them
                    self.write(
                        f"{self._who(player)} plays {state.action_to_string(player, action)}"
                    )
                    thinking = getattr(bot, "thinking", "")
                    if self.show_thinking and thinking:
                        self.write(f"  thinking: {thinking}")
                self._save_tree(bot, player)
                self._apply(player, action)
                continue
            if self.table is not None:
                move = self.table.human_move(state, self.read_line)
                if isinstance(move, str):
                    return PlayResult(None, move, tuple(state.history()))
                self._apply(player, move)
                continue
            outcome = self._human_turn(player)
            if isinstance(outcome, PlayResult):
                return outcome

    def _save_tree(self, bot: pyspiel.Bot, player: int) -> None:
        if self.tree_dir is None:
            return
        root = getattr(bot, "last_root", None)  # SearchBot builds it when asked
        if root is None:
            return
        from games.search_bot import spiel_label
        from search import tree_to_dot, tree_to_json

        self.tree_dir.mkdir(parents=True, exist_ok=True)
        stem = self.tree_dir / f"move{player_moves(self.state) + 1:03d}-p{player}"
        stem.with_suffix(".json").write_text(tree_to_json(root, max_depth=4, label=spiel_label))
        stem.with_suffix(".dot").write_text(tree_to_dot(root, max_depth=2, label=spiel_label))

    def _apply(self, player: int, action: int) -> None:
        for p, seat in enumerate(self.seats):
            if seat.bot is not None and p != player:
                seat.bot.inform_action(self.state, player, action)
        self.state.apply_action(action)
        if self.table is not None:
            self.table.show(self.state)

    def _human_turn(self, player: int) -> PlayResult | None:
        state = self.state
        moves = legal_move_names(state)
        self.write("")
        self.write(f"-- move {player_moves(state) + 1}: {self._who(player)} to play --")
        self.write(player_view(state, player))
        self.write("legal moves:\n" + move_list(moves))
        while True:
            line = self.read_line("your move (name or number; undo, help, quit): ")
            if line is None:
                self.write("input ended: game abandoned")
                return PlayResult(None, "input ended", tuple(state.history()))
            text = line.strip()
            low = text.lower()
            if low in ("quit", "exit", "q"):
                self.write("quit: game abandoned")
                return PlayResult(None, "quit", tuple(state.history()))
            if low == "undo":
                if self._undo():
                    return None
                continue
            if low in ("help", "?", ""):
                self.write("legal moves:\n" + move_list(moves))
                continue
            action = parse_human_move(text, moves)
            if action is None:
                self.write(
                    f"{text[:40]!r} is not a legal move here: type a move from the list "
                    f"(e.g. {moves[0][1]}) or its number 1-{len(moves)}, or undo / quit"
                )
                continue
            self._checkpoints.append(state.clone())
            self.write(f"{self._who(player)} plays {state.action_to_string(player, action)}")
            self._apply(player, action)
            return None

    def _finish(self) -> PlayResult | None:
        state = self.state
        returns = tuple(float(r) for r in state.returns())
        self.write("")
        self.write("-- game over --")
        if self.table is not None:  # the omniscient state and all returns can tell secrets
            self.table.game_over(state)
            return PlayResult(returns, "finished", tuple(state.history()))
        if self.perfect or not self.humans:
            self.write(str(state))
        else:  # what each human seat knows at the end: a folded hand stays unseen
            for p in self.humans:
                self.write(player_view(state, p))
        self.write("result: " + ", ".join(f"{self._who(p)} {r:+g}" for p, r in enumerate(returns)))
        if len(self.humans) == 1:
            mine = returns[self.humans[0]]
            best = max(returns)
            verdict = (
                "you win"
                if mine == best and returns.count(best) == 1
                else ("draw" if mine == best else "you lose")
            )
            self.write(verdict)
        for p, seat in enumerate(self.seats):
            invalid = getattr(seat.bot, "invalid_answers", None)
            if invalid is not None:
                fallbacks = getattr(seat.bot, "fallbacks", 0)
                self.write(
                    f"{self._who(p)}: {invalid} invalid answers, {fallbacks} random fallbacks"
                )
        if self._checkpoints:
            line = self.read_line("game over: 'undo' takes back your last move, Enter ends: ")
            if line is not None and line.strip().lower() == "undo":
                self._undo()
                return None
        return PlayResult(returns, "finished", tuple(state.history()))


def _builds_trees(bot: pyspiel.Bot) -> bool:
    """Whether the bot keeps its last search tree (`SearchBot.last_root`) for --trees."""
    return hasattr(type(bot), "last_root")
