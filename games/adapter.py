"""Any sequential `pyspiel.Game` as a `search.Problem`; C++ rollouts as a `search.Evaluator`.

States are `pyspiel.State` objects treated as immutable: `step` clones, then applies.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pyspiel

from games.errors import UnsupportedGameError


def check_searchable(game: pyspiel.Game) -> None:
    """Fail with the reason if our tree search cannot play `game`."""
    gt = game.get_type()
    name = gt.short_name
    if gt.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
        raise UnsupportedGameError(
            f"{name} has {gt.dynamics.name.lower()} moves; the searcher handles only "
            "sequential (turn-based) games: load it wrapped, e.g. "
            f"turn_based_simultaneous_game(game={name}())"
        )
    if gt.reward_model != pyspiel.GameType.RewardModel.TERMINAL:
        raise UnsupportedGameError(
            f"{name} pays rewards during play (reward model {gt.reward_model.name.lower()}); "
            "the searcher backs up terminal returns only"
        )


class SpielProblem:
    """`search.Problem` over a sequential OpenSpiel game (perfect or determinized information)."""

    def __init__(self, game: pyspiel.Game) -> None:
        check_searchable(game)
        self.game = game
        self._players = int(game.num_players())

    def num_players(self) -> int:
        return self._players

    def current_player(self, state: pyspiel.State) -> int:
        return int(state.current_player())

    def actions(self, state: pyspiel.State) -> Sequence[int]:
        legal: list[int] = state.legal_actions()
        return legal

    def step(self, state: pyspiel.State, action: int) -> pyspiel.State:
        child = state.clone()
        child.apply_action(action)
        return child

    def is_terminal(self, state: pyspiel.State) -> bool:
        return bool(state.is_terminal())

    def returns(self, state: pyspiel.State) -> Sequence[float]:
        values: list[float] = state.returns()
        return values

    def chance_outcomes(self, state: pyspiel.State) -> Sequence[tuple[Any, float]]:
        outcomes: list[tuple[Any, float]] = state.chance_outcomes()
        return outcomes


class SpielRolloutEvaluator:
    """Random rollouts run in OpenSpiel's C++: `pyspiel.evaluate_bots` with uniform random bots.

    The Python tree stays small while the playouts, the bulk of the work, run
    natively. Seeded: the bots' RNGs and each rollout's chance seed derive from `seed`.
    """

    def __init__(self, game: pyspiel.Game, rollouts: int = 1, seed: int = 0) -> None:
        self.rollouts = rollouts
        self._rng = random.Random(seed)
        self._bots = [
            pyspiel.make_uniform_random_bot(p, self._rng.getrandbits(31))
            for p in range(game.num_players())
        ]

    def evaluate(self, states: Sequence[pyspiel.State]) -> list[Sequence[float]]:
        bots, rng, n = self._bots, self._rng, self.rollouts
        out: list[Sequence[float]] = []
        for state in states:
            if n == 1:
                out.append(pyspiel.evaluate_bots(state.clone(), bots, rng.getrandbits(31)))
                continue
            total = [0.0] * len(bots)
            for _ in range(n):
                for i, r in enumerate(
                    pyspiel.evaluate_bots(state.clone(), bots, rng.getrandbits(31))
                ):
                    total[i] += r
            out.append([t / n for t in total])
        return out
