"""Tic-tac-toe against an OpenSpiel opponent (`games.bots.make_bot`): "random" or "mcts:sims=N".

The agent sits at `seat` (0 = x, moves first); `act` plays its move and the opponent's
reply. Score: win 1, draw 0.5, loss 0; success = not losing (against a strong opponent
a draw is the best result there is).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyspiel

from agents.graphs.env import BadAction, Env
from games.adapter import SpielProblem
from games.bots import make_bot

INSTRUCTIONS = (
    "Tic-tac-toe on a 3x3 board; cells are numbered 0-8 row by row. Players alternate "
    "placing their mark in an empty cell; three in a row wins. Write a move as `cell N`."
)
CELL = re.compile(r"\b([0-8])\b")


_SOLVED: dict[str, list[float]] = {}


def _solve(state: pyspiel.State) -> list[float]:
    """Minimax returns of a tic-tac-toe position (memoised on the board and the mover)."""
    key = f"{state}|{state.current_player()}"
    if key not in _SOLVED:
        if state.is_terminal():
            _SOLVED[key] = list(state.returns())
        else:
            p = state.current_player()
            _SOLVED[key] = max(
                (_solve(state.child(a)) for a in state.legal_actions()), key=lambda r: r[p]
            )
    return _SOLVED[key]


class TicTacToeEnv:
    instructions = INSTRUCTIONS

    def __init__(self, opponent: str = "random", seat: int = 0, seed: int = 0) -> None:
        self.game = pyspiel.load_game("tic_tac_toe")
        self.problem = SpielProblem(self.game)
        self.player = seat
        self.opponent_spec = opponent
        self.opponent = make_bot(self.game, opponent, seed)
        self.state = self.game.new_initial_state()
        self.steps = 0
        self.moves: list[int] = []
        self._opponent_moves()

    def _opponent_moves(self) -> list[int]:
        done = []
        while not self.state.is_terminal() and self.state.current_player() != self.player:
            a = int(self.opponent.step(self.state))
            self.state = self.problem.step(self.state, a)  # a new state: old ones stay valid
            self.moves.append(a)
            done.append(a)
        return done

    def render(self, state: pyspiel.State) -> str:
        marks = "xo"
        cells = str(state).split("\n")
        grid = [
            [c if c != "." else str(3 * r + k) for k, c in enumerate(row)]
            for r, row in enumerate(cells)
        ]
        board = "\n".join(" ".join(row) for row in grid)
        who = state.current_player()
        turn = f"{marks[who]} to move" if who >= 0 else "game over"
        return f"You play {marks[self.player]}. Board (digits are empty cells):\n{board}\n{turn}"

    def parse_action(self, state: pyspiel.State, text: str) -> int:
        legal = state.legal_actions()
        m = re.search(r"cell\s*([0-8])", text, re.I) or CELL.search(text)
        if m is None:
            raise BadAction(f"no move of the form `cell N` in {text.strip()[:60]!r}")
        a = int(m[1])
        if a not in legal:
            raise BadAction(f"cell {a} is taken; empty cells: {' '.join(map(str, legal))}")
        return a

    def action_text(self, state: pyspiel.State, action: int) -> str:
        return f"cell {action}"

    def value_question(self, state: pyspiel.State) -> str:
        return (
            f"{self.render(state)}\nHow good is this position for you? Answer with one "
            "number from 0 (you will lose) to 10 (you will win)."
        )

    def parse_value(self, text: str) -> float | None:
        m = re.search(r"\d+", text)
        return None if m is None else min(int(m[0]), 10) / 10.0

    def true_value(self, state: pyspiel.State) -> float:
        """Diagnostics only (never shown to the agent): the position's value for the agent
        under perfect play by both sides (win 1, draw 0.5, loss 0), on `parse_value`'s scale."""
        return (_solve(state)[self.player] + 1.0) / 2.0

    def act(self, action: int) -> list[int]:
        self.state = self.problem.step(self.state, action)
        self.moves.append(action)
        self.steps += 1
        return [action, *self._opponent_moves()]

    def done(self) -> bool:
        return bool(self.state.is_terminal())

    def score(self) -> float:
        if not self.done():
            return 0.0
        r = self.state.returns()[self.player]
        return 1.0 if r > 0 else 0.5 if r == 0 else 0.0

    def success(self) -> bool:
        return self.done() and self.score() >= 0.5

    def summary(self) -> dict[str, Any]:
        return {
            "opponent": self.opponent_spec,
            "seat": self.player,
            "moves": self.moves,
            "score": self.score(),
            "success": self.success(),
        }


if TYPE_CHECKING:  # the contract the agents rely on (checked by mypy; nothing at run time)
    _ENV: type[Env] = TicTacToeEnv
