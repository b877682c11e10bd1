"""BlocksWorld as a planning environment: moves are validated, success = goal within a step limit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from agents.graphs.env import BadAction, Env
from benchmarks.blocksworld.problem import (
    TABLE,
    BlocksProblem,
    Instance,
    InvalidMove,
    Move,
    Stacks,
    apply_move,
    describe,
    distance_map,
)

if TYPE_CHECKING:
    from search import Problem

INSTRUCTIONS = (
    "BlocksWorld: rearrange the blocks into the goal arrangement. One move picks up a clear "
    "block (nothing on top of it) and puts it on the table or on another clear block. "
    "Write a move as `move X onto Y` or `move X onto table`."
)
MOVE = re.compile(
    r"move\s+([A-Za-z])\s+(?:from\s+\w+\s+)?(?:onto|on|to)\s+(?:the\s+)?(table|[A-Za-z])\b", re.I
)


class BlocksEnv:
    player = 0
    instructions = INSTRUCTIONS

    def __init__(self, instance: Instance, step_factor: float = 2.0) -> None:
        self.instance = instance
        self.problem = BlocksProblem(instance.goal)
        self.state: Stacks = instance.start
        self.steps = 0
        self.max_steps = max(instance.optimal + 2, int(step_factor * instance.optimal))
        self._distance: dict[Stacks, int] | None = None

    def render(self, state: Stacks) -> str:
        return f"Now: {describe(state)}. Goal: {describe(self.instance.goal)}."

    def parse_action(self, state: Stacks, text: str) -> Move:
        m = MOVE.search(text)
        if m is None:
            raise BadAction(f"no move of the form `move X onto Y` in {text.strip()[:60]!r}")
        block = m[1].upper()
        dest = TABLE if m[2].lower() == TABLE else m[2].upper()
        try:
            apply_move(state, (block, dest))
        except InvalidMove as exc:
            raise BadAction(f"illegal move `move {block} onto {dest}`: {exc}") from None
        return (block, dest)

    def action_text(self, state: Stacks, action: Move) -> str:
        return f"move {action[0]} onto {action[1]}"

    def value_question(self, state: Stacks) -> str:
        return (
            f"{self.render(state)} How many moves are still needed to reach the goal? "
            "Answer with one number."
        )

    def parse_value(self, text: str) -> float | None:
        m = re.search(r"\d+", text)
        return None if m is None else 1.0 / (1.0 + int(m[0]))

    def true_value(self, state: Stacks) -> float:
        """Diagnostics only (never shown to the agent): `parse_value` of the exact distance."""
        if self._distance is None:
            self._distance = distance_map(self.instance.goal)
        return 1.0 / (1.0 + self._distance[state])

    def act(self, action: Move) -> list[Move]:
        self.state = apply_move(self.state, action)
        self.steps += 1
        return [action]

    def done(self) -> bool:
        return self.state == self.instance.goal or self.steps >= self.max_steps

    def success(self) -> bool:
        return self.state == self.instance.goal

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.instance.id,
            "optimal": self.instance.optimal,
            "steps": self.steps,
            "success": self.success(),
            "final": describe(self.state),
        }


if TYPE_CHECKING:  # the contracts the agents rely on (checked by mypy; nothing at run time)
    _ENV: type[Env] = BlocksEnv
    _PROBLEM: type[Problem[Stacks, Move]] = BlocksProblem
