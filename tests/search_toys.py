"""Tiny pure-Python problems for the search-core tests (no pyspiel)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from search import CHANCE


class TreeProblem:
    """A game given as a dict: state -> (player, {action: next}) or a terminal returns tuple."""

    def __init__(self, nodes: dict[str, Any], players: int = 2) -> None:
        self.nodes = nodes
        self.players = players

    def num_players(self) -> int:
        return self.players

    def current_player(self, state: str) -> int:
        return self.nodes[state][0]

    def actions(self, state: str) -> Sequence[str]:
        return list(self.nodes[state][1])

    def step(self, state: str, action: str) -> str:
        return self.nodes[state][1][action]

    def is_terminal(self, state: str) -> bool:
        return isinstance(self.nodes[state], tuple) and isinstance(self.nodes[state][0], float)

    def returns(self, state: str) -> Sequence[float]:
        return self.nodes[state]

    def chance_outcomes(self, state: str) -> Sequence[tuple[str, float]]:
        player, edges = self.nodes[state]
        assert player == CHANCE
        return [(a, p) for a, (p, _) in edges.items()]


class ChanceTreeProblem(TreeProblem):
    """TreeProblem whose chance edges are {outcome: (probability, next)}."""

    def step(self, state: str, action: str) -> str:
        player, edges = self.nodes[state]
        nxt = edges[action]
        return nxt[1] if player == CHANCE else nxt


class ZeroEvaluator:
    """Values every non-terminal leaf at zero for every player; counts calls."""

    def __init__(self, players: int = 2) -> None:
        self.players = players
        self.calls = 0

    def evaluate(self, states: Sequence[Any]) -> list[Sequence[float]]:
        self.calls += 1
        return [[0.0] * self.players for _ in states]


@dataclass(frozen=True)
class Picks:
    """Three players pick 0 or 1 in turn; state = the picks so far."""

    picks: tuple[int, ...] = ()


class ThreePlayerPicks:
    """r_i = a_i - 2*a_{i+1}: each player's own pick helps it and hurts the previous player."""

    def num_players(self) -> int:
        return 3

    def current_player(self, state: Picks) -> int:
        return len(state.picks)

    def actions(self, state: Picks) -> Sequence[int]:
        return [0, 1]

    def step(self, state: Picks, action: int) -> Picks:
        return Picks((*state.picks, action))

    def is_terminal(self, state: Picks) -> bool:
        return len(state.picks) == 3

    def returns(self, state: Picks) -> Sequence[float]:
        a = state.picks
        return [float(a[i] - 2 * a[(i + 1) % 3]) for i in range(3)]

    def chance_outcomes(self, state: Picks) -> Sequence[tuple[int, float]]:
        return []


class OpenEnded:
    """One player, one move from an unbounded space (integers), then the game ends.

    `actions` is empty: only a Policy can propose moves. Return of action a: 1/(1+|a-7|).
    """

    def num_players(self) -> int:
        return 1

    def current_player(self, state: Any) -> int:
        return 0

    def actions(self, state: Any) -> Sequence[int]:
        return []

    def step(self, state: Any, action: int) -> Any:
        return ("done", action)

    def is_terminal(self, state: Any) -> bool:
        return state != "start"

    def returns(self, state: Any) -> Sequence[float]:
        return [1.0 / (1 + abs(state[1] - 7))]

    def chance_outcomes(self, state: Any) -> Sequence[tuple[int, float]]:
        return []


class CountingPolicy:
    """Proposes 0, 1, 2, ... (up to `limit`), each call from the start; records the k asked for."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.asked: list[int] = []

    def propose(self, state: Any, k: int) -> Sequence[tuple[int, float]]:
        self.asked.append(k)
        n = k if self.limit is None else min(k, self.limit)
        return [(i, 1.0 / (i + 1)) for i in range(n)]


@dataclass(frozen=True)
class NimState:
    heaps: tuple[int, ...]
    player: int = 0


class Nim:
    """Normal-play Nim: take any positive number from one heap; taking the last object wins."""

    def num_players(self) -> int:
        return 2

    def current_player(self, state: NimState) -> int:
        return state.player

    def actions(self, state: NimState) -> Sequence[tuple[int, int]]:
        return [(h, n) for h, size in enumerate(state.heaps) for n in range(1, size + 1)]

    def step(self, state: NimState, action: tuple[int, int]) -> NimState:
        h, n = action
        heaps = list(state.heaps)
        heaps[h] -= n
        return NimState(tuple(heaps), 1 - state.player)

    def is_terminal(self, state: NimState) -> bool:
        return not any(state.heaps)

    def returns(self, state: NimState) -> Sequence[float]:
        winner = 1 - state.player  # the player who just moved took the last object
        return [1.0 if p == winner else -1.0 for p in range(2)]

    def chance_outcomes(self, state: NimState) -> Sequence[tuple[Any, float]]:
        return []
