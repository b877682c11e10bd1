"""Game of 24 as a planning environment: a step combines two numbers (ToT's formulation).

State: the numbers left, each with the expression that made it. Action: (i, op, j) on
positions of the sorted numbers, written `a op b = c`. After three steps one number is
left; the episode's answer is its expression, and only `puzzles.check` decides success.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from agents.graphs.env import BadAction, Env
from benchmarks.game24.puzzles import TARGET, apply, check, fmt, solvable

if TYPE_CHECKING:
    from search import Problem

INSTRUCTIONS = (
    "Game of 24: combine the numbers with + - * / until one number is left; it must be 24. "
    "Each step takes two of the numbers left and replaces them by their result. "
    "Write a step as `a op b = c`, for example `4 * 6 = 24`."
)
STEP = re.compile(r"(-?\d+(?:/\d+)?)\s*([-+*/×x÷])\s*(-?\d+(?:/\d+)?)\s*=\s*(-?\d+(?:/\d+)?)")


@dataclass(frozen=True)
class G24State:
    numbers: tuple[Fraction, ...]
    exprs: tuple[str, ...]

    @staticmethod
    def start(puzzle: Sequence[int]) -> G24State:
        pairs = sorted((Fraction(n), str(n)) for n in puzzle)
        return G24State(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))


class Game24Problem:
    """`search.Problem`: one player; return 1 if the last number is 24."""

    def num_players(self) -> int:
        return 1

    def current_player(self, state: G24State) -> int:
        return 0

    def actions(self, state: G24State) -> Sequence[tuple[int, str, int]]:
        n = len(state.numbers)
        return [
            (i, op, j)
            for i in range(n)
            for j in range(n)
            for op in ("+", "-", "*", "/")
            if i != j and not (op in "+*" and i > j) and not (op == "/" and state.numbers[j] == 0)
        ]

    def step(self, state: G24State, action: tuple[int, str, int]) -> G24State:
        i, op, j = action
        value = apply(state.numbers[i], op, state.numbers[j])
        if value is None:
            raise BadAction("division by zero")
        expr = f"({state.exprs[i]} {op} {state.exprs[j]})"
        rest = [
            (n, e)
            for k, (n, e) in enumerate(zip(state.numbers, state.exprs, strict=True))
            if k not in (i, j)
        ]
        pairs = sorted([*rest, (value, expr)])
        return G24State(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    def is_terminal(self, state: G24State) -> bool:
        return len(state.numbers) <= 1

    def returns(self, state: G24State) -> list[float]:
        return [1.0 if state.numbers == (TARGET,) else 0.0]

    def chance_outcomes(self, state: G24State) -> Sequence[tuple[Any, float]]:
        return []


def _num(text: str) -> Fraction:
    return Fraction(text)


class Game24Env:
    """One puzzle; `act` applies a step exactly (the arithmetic is checked, never trusted)."""

    player = 0
    instructions = INSTRUCTIONS

    def __init__(self, puzzle: Sequence[int]) -> None:
        self.puzzle = tuple(puzzle)
        self.problem = Game24Problem()
        self.state = G24State.start(puzzle)
        self.steps = 0

    def render(self, state: G24State) -> str:
        return "Numbers left: " + " ".join(fmt(n) for n in state.numbers)

    def parse_action(self, state: G24State, text: str) -> tuple[int, str, int]:
        m = STEP.search(text.replace("−", "-"))
        if m is None:
            raise BadAction(f"no step of the form `a op b = c` in {text.strip()[:60]!r}")
        a, op, b, c = _num(m[1]), m[2], _num(m[3]), _num(m[4])
        op = {"×": "*", "x": "*", "÷": "/"}.get(op, op)
        nums = list(state.numbers)
        if a not in nums:
            raise BadAction(f"{fmt(a)} is not among the numbers left ({self.render(state)})")
        i = nums.index(a)
        others = [k for k, n in enumerate(nums) if n == b and k != i]
        if not others:
            raise BadAction(f"{fmt(b)} is not among the other numbers left ({self.render(state)})")
        j = others[0]
        value = apply(a, op, b)
        if value is None:
            raise BadAction("division by zero")
        if value != c:
            raise BadAction(
                f"wrong arithmetic: {fmt(a)} {op} {fmt(b)} = {fmt(value)}, not {fmt(c)}"
            )
        return (i, op, j)

    def action_text(self, state: G24State, action: tuple[int, str, int]) -> str:
        i, op, j = action
        a, b = state.numbers[i], state.numbers[j]
        value = apply(a, op, b)
        return f"{fmt(a)} {op} {fmt(b)} = {fmt(value) if value is not None else 'undefined'}"

    def value_question(self, state: G24State) -> str:
        return (
            f"{self.render(state)}. Can these numbers still reach exactly 24? "
            "Answer with one word: sure, likely or impossible."
        )

    def parse_value(self, text: str) -> float | None:
        t = text.lower()
        for word, v in (("impossible", 0.0), ("sure", 1.0), ("likely", 0.5)):
            if word in t:
                return v
        return None

    def true_value(self, state: G24State) -> float:
        """Diagnostics only (never shown to the agent): 1 if 24 is still reachable."""
        return 1.0 if solvable(state.numbers) else 0.0

    def act(self, action: tuple[int, str, int]) -> list[tuple[int, str, int]]:
        self.state = self.problem.step(self.state, action)
        self.steps += 1
        return [action]

    def done(self) -> bool:
        return self.problem.is_terminal(self.state)

    def answer(self) -> str:
        expr = self.state.exprs[0] if len(self.state.exprs) == 1 else ""
        return expr[1:-1] if expr.startswith("(") else expr

    def success(self) -> bool:
        return self.done() and check(self.puzzle, self.answer()).ok

    def summary(self) -> dict[str, Any]:
        answer = self.answer()
        # The checker judges the puzzle too: an impossible one is reported as such even
        # when the agent (rightly) found no answer.
        verdict = check(self.puzzle, answer) if answer or not solvable(self.puzzle) else None
        return {
            "puzzle": list(self.puzzle),
            "answer": answer,
            "verdict": verdict.reason if verdict else "unfinished",
            "success": bool(verdict and verdict.ok),
        }


if TYPE_CHECKING:  # the contracts the agents rely on (checked by mypy; nothing at run time)
    _ENV: type[Env] = Game24Env
    _PROBLEM: type[Problem[G24State, tuple[int, str, int]]] = Game24Problem
