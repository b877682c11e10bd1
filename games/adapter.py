"""Any sequential `pyspiel.Game` as a `search.Problem`; C++ rollouts as a `search.Evaluator`.

States are `pyspiel.State` objects treated as immutable: `step` clones, then applies.
Both also offer the search core's optional fast paths (`SteppingProblem.advance`,
`LeafEvaluator.evaluate_leaf`), which `search.flat.FlatMCTS` uses.
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

    def advance(self, state: pyspiel.State, action: int) -> tuple[pyspiel.State, int]:
        """`step` and the successor's player in one go: OpenSpiel's `current_player()` of
        a terminal state is `PlayerId.TERMINAL`, the search core's `TERMINAL` (-4)."""
        child = state.child(action)  # clone and apply in one call
        player: int = child.current_player()
        return child, player

    def is_terminal(self, state: pyspiel.State) -> bool:
        return bool(state.is_terminal())

    def returns(self, state: pyspiel.State) -> Sequence[float]:
        values: list[float] = state.returns()
        return values

    def chance_outcomes(self, state: pyspiel.State) -> Sequence[tuple[Any, float]]:
        outcomes: list[tuple[Any, float]] = state.chance_outcomes()
        return outcomes


class SpielRolloutEvaluator:
    """Random rollouts run in OpenSpiel's C++.

    Where it can, a rollout is `pyspiel.RandomRolloutEvaluator`, the leaf evaluator of
    OpenSpiel's C++ `MCTSBot`, reached through the one entry point pyspiel exposes for it: a
    one-simulation `MCTSBot.mcts_search`, whose root is evaluated once and never expanded.
    Its `total_reward` is the mean return of the player to move; the other player's follows
    in two-player zero- or constant-sum games at decision nodes, the cases it serves. The
    rest (n-player or general-sum games, chance nodes) plays uniformly random bots out with
    `pyspiel.evaluate_bots`, which is slower (it restarts and informs every bot) but gives
    every player's return. Seeded: every RNG derives from `seed`.
    """

    def __init__(self, game: pyspiel.Game, rollouts: int = 1, seed: int = 0) -> None:
        self.rollouts = rollouts
        self._rng = random.Random(seed)
        self._bots = [
            pyspiel.make_uniform_random_bot(p, self._rng.getrandbits(31))
            for p in range(game.num_players())
        ]
        utility = game.get_type().utility
        self._sum: float | None = None
        if game.num_players() == 2 and utility in (
            pyspiel.GameType.Utility.ZERO_SUM,
            pyspiel.GameType.Utility.CONSTANT_SUM,
        ):
            self._sum = 0.0 if utility == pyspiel.GameType.Utility.ZERO_SUM else game.utility_sum()
            rollout = pyspiel.RandomRolloutEvaluator(rollouts, self._rng.getrandbits(31))
            one_sim = pyspiel.MCTSBot(
                game, rollout, 1.0, 1, 1, False, self._rng.getrandbits(31), False
            )
            self._rollout = one_sim.mcts_search

    def evaluate(self, states: Sequence[pyspiel.State]) -> list[Sequence[float]]:
        return [self.evaluate_leaf(s, s.current_player()) for s in states]

    def evaluate_leaf(self, state: pyspiel.State, player: int) -> Sequence[float]:
        """One state's mean returns; `player` is its current player (a player or chance)."""
        total = self._sum
        if total is not None and player >= 0:
            v: float = self._rollout(state).total_reward
            return [v, total - v] if player == 0 else [total - v, v]
        bots, rng, n = self._bots, self._rng, self.rollouts
        if n == 1:
            returns: list[float] = pyspiel.evaluate_bots(state.clone(), bots, rng.getrandbits(31))
            return returns
        sums = [0.0] * len(bots)
        for _ in range(n):
            for i, r in enumerate(pyspiel.evaluate_bots(state.clone(), bots, rng.getrandbits(31))):
                sums[i] += r
        return [t / n for t in sums]
