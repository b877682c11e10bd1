"""The three seams every planner drives: `Problem`, `Policy`, `Evaluator` (README.md, Layout).

States are treated as immutable: `Problem.step` returns a new state and never
changes its argument. Player ids are ints `0..num_players-1`; `CHANCE` marks a
chance node, whose outcomes come from `chance_outcomes`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Hashable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

CHANCE = -1
"""`current_player` of a chance node (the same id as OpenSpiel's `PlayerId.CHANCE`)."""

TERMINAL = -4
"""The player `SteppingProblem.advance` reports for a terminal state (OpenSpiel's
`PlayerId.TERMINAL`)."""

S = TypeVar("S")
A = TypeVar("A", bound=Hashable)
S_contra = TypeVar("S_contra", contravariant=True)

Values = Sequence[float]
"""One value per player, in player order (n-player, not only zero-sum)."""


class Problem(Protocol[S, A]):
    """A sequential decision problem: a game, a repository under repair, a story, a puzzle."""

    def num_players(self) -> int: ...

    def current_player(self, state: S) -> int:
        """The acting player, or `CHANCE`."""
        ...

    def actions(self, state: S) -> Sequence[A]:
        """Legal actions; may be empty for open action spaces (then a `Policy` proposes)."""
        ...

    def step(self, state: S, action: A) -> S:
        """The successor state; `state` itself is left unchanged."""
        ...

    def is_terminal(self, state: S) -> bool: ...

    def returns(self, state: S) -> Values:
        """Final returns of a terminal state, one per player."""
        ...

    def chance_outcomes(self, state: S) -> Sequence[tuple[A, float]]:
        """(outcome, probability) pairs of a chance node."""
        ...


class Policy(Protocol[S_contra]):
    """Priors over actions and, for open action spaces, proposals of new ones."""

    def propose(self, state: S_contra, k: int) -> Sequence[tuple[Any, float]]:
        """Up to `k` (action, prior) pairs, best first. May repeat earlier proposals."""
        ...


class Evaluator(Protocol[S_contra]):
    """Values of non-terminal leaves, batched: one value vector per state."""

    def evaluate(self, states: Sequence[S_contra]) -> list[Values]: ...


@runtime_checkable
class AsyncEvaluator(Protocol):
    """An evaluator whose calls can overlap (LLM judges, remote nets, batchers)."""

    def evaluate_async(self, states: Sequence[Any]) -> Awaitable[list[Values]]: ...


@runtime_checkable
class SteppingProblem(Protocol):
    """Optional fast path of a `Problem` (used by `search.flat.FlatMCTS`): the successor and
    who acts there in one call, instead of `step`, `is_terminal` and `current_player`."""

    def advance(self, state: Any, action: Any) -> tuple[Any, int]:
        """`(step(state, action), its current player)`, the player being `TERMINAL` for a
        terminal successor; `state` itself is left unchanged."""
        ...


@runtime_checkable
class LeafEvaluator(Protocol):
    """Optional fast path of an `Evaluator` (used by `search.flat.FlatMCTS`): one
    non-terminal state whose current player the caller already knows."""

    def evaluate_leaf(self, state: Any, player: int) -> Values:
        """The same value vector `evaluate([state])[0]` would give; `player` is
        `current_player(state)` (a player id or `CHANCE`)."""
        ...
