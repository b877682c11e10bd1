"""The contract between the planning agents (RAFA, ToT, ReAct) and a task instance.

An `Env` is the real environment the agent acts in (`act`), plus a `search.Problem`
model of it for planning over (`problem`, states, `render`), plus the task's prompt
pieces (how to phrase a move, how to judge a state). Tasks in `benchmarks/` implement
it structurally; the graphs import nothing from `benchmarks/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from search import Problem


class BadAction(ValueError):
    """A model answer that is not a legal move here; the message is fed back to the model."""


class Env(Protocol):
    @property
    def problem(self) -> Problem[Any, Any]:
        """A `search.Problem` over this task's states: the planner's model of the world."""
        ...

    state: Any
    """The true current state."""
    player: int
    """The agent's player id in `problem`."""
    instructions: str
    """The task's rules and the move format, shown in every prompt."""
    steps: int
    """Actions the agent has taken so far."""

    def render(self, state: Any) -> str:
        """The state as text for prompts."""
        ...

    def parse_action(self, state: Any, text: str) -> Any:
        """The move named by a model's answer line; raises `BadAction` with a reason."""
        ...

    def action_text(self, state: Any, action: Any) -> str: ...

    def value_question(self, state: Any) -> str:
        """Asks the model to judge a state; `parse_value` reads its answer."""
        ...

    def parse_value(self, text: str) -> float | None:
        """The agent's value in [0, 1] from an answer, or None if it says nothing usable."""
        ...

    def act(self, action: Any) -> Sequence[Any]:
        """Apply the agent's move to the real environment; returns every `problem` action
        that happened (the agent's, then any opponent replies)."""
        ...

    def done(self) -> bool: ...

    def success(self) -> bool: ...

    def summary(self) -> dict[str, Any]:
        """The outcome for the record: the answer, the checker's verdict, the score."""
        ...
