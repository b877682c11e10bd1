"""Information-set search by determinization (docs/methods.md sections 1-2).

For a player who cannot see the whole state: sample `worlds` full states
consistent with its information state (a belief sampler), run perfect-information
MCTS in each, and add up the root visit counts per action (PIMC / determinized
MCTS). OpenSpiel's `resample_from_infostate` is used where the game has it; a
replay sampler that redraws hidden chance outcomes covers the rest.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

import pyspiel

from games.adapter import SpielProblem
from games.errors import UnsupportedGameError
from search import MCTS, Budget, Evaluator, MCTSConfig, SearchResult


class BeliefSampler(Protocol):
    def sample(self, state: pyspiel.State, player: int, rng: random.Random) -> pyspiel.State:
        """A full state that `player` cannot tell apart from `state`."""
        ...


class SpielResampler:
    """OpenSpiel's own `State.resample_from_infostate`."""

    def sample(self, state: pyspiel.State, player: int, rng: random.Random) -> pyspiel.State:
        return state.resample_from_infostate(player, rng.random)


class ReplaySampler:
    """Replays the history, redrawing each chance outcome among those that keep the
    player's information state (or observation) equal to the real one at that step,
    restarting on a dead end. Opponents' actions are kept; their evidence is not reweighted."""

    def __init__(self, max_restarts: int = 200) -> None:
        self.max_restarts = max_restarts

    def sample(self, state: pyspiel.State, player: int, rng: random.Random) -> pyspiel.State:
        game = state.get_game()
        history = state.history()
        view = _view(game)
        real = game.new_initial_state()
        seen = []
        for a in history:
            real.apply_action(a)
            seen.append(view(real, player))
        for _ in range(self.max_restarts):
            world = self._try(game, history, seen, player, rng, view)
            if world is not None:
                return world
        raise UnsupportedGameError(
            f"could not sample a world consistent with player {player}'s information "
            f"in {game.get_type().short_name} after {self.max_restarts} tries"
        )

    @staticmethod
    def _try(
        game: pyspiel.Game,
        history: list[int],
        seen: list[str],
        player: int,
        rng: random.Random,
        view: Callable[[pyspiel.State, int], str],
    ) -> pyspiel.State | None:
        world = game.new_initial_state()
        for i, a in enumerate(history):
            if not world.is_chance_node():
                # Under other hidden outcomes a past move can be illegal (a werewolf's
                # victim dealt the wolf role) or the game over already: a dead end.
                if world.is_terminal() or a not in world.legal_actions():
                    return None
                world.apply_action(a)
                continue
            outcomes = list(world.chance_outcomes())
            rng.shuffle(outcomes)
            # draw by probability among the consistent outcomes
            candidates = []
            for o, p in outcomes:
                trial = world.clone()
                trial.apply_action(o)
                if view(trial, player) == seen[i]:
                    candidates.append((trial, p))
            if not candidates:
                return None
            states, weights = zip(*candidates, strict=True)
            world = rng.choices(states, weights)[0]
        return None if world.is_terminal() else world


_HAS_RESAMPLER: dict[str, bool] = {}


def _view(game: pyspiel.Game) -> Callable[[pyspiel.State, int], str]:
    """What the player knows after each step: its information state, or else its
    observation (compared at every step of the replay, so nothing seen is lost)."""
    gt = game.get_type()
    if gt.provides_information_state_string:
        return lambda s, p: "" if s.is_terminal() else s.information_state_string(p)
    if gt.provides_observation_string:
        return lambda s, p: "" if s.is_terminal() else s.observation_string(p)
    raise UnsupportedGameError(
        f"{gt.short_name} describes neither information states nor observations: "
        "no belief sampler can be built for it"
    )


def belief_sampler_for(state: pyspiel.State, player: int) -> BeliefSampler:
    """OpenSpiel's resampler if this game implements it, else the replay sampler."""
    name = state.get_game().get_type().short_name
    if name not in _HAS_RESAMPLER:
        with _quiet_stderr():  # OpenSpiel prints the "not implemented" error before raising
            try:
                state.resample_from_infostate(player, random.Random(0).random)
                _HAS_RESAMPLER[name] = True
            except (pyspiel.SpielError, RuntimeError):
                _HAS_RESAMPLER[name] = False
    return SpielResampler() if _HAS_RESAMPLER[name] else ReplaySampler()


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass(frozen=True)
class DeterminizedResult:
    """Aggregated root statistics over the sampled worlds."""

    action: int
    visits: dict[int, int]
    values: dict[int, float]
    """Mean value of each action for the acting player, weighted by visits."""
    worlds: int
    simulations: int
    seconds: float


class DeterminizedSearch:
    """Perfect-information MCTS over `worlds` sampled determinizations; visits are summed."""

    def __init__(
        self,
        problem: SpielProblem,
        evaluator: Evaluator[Any],
        config: MCTSConfig,
        worlds: int = 8,
        sampler: BeliefSampler | None = None,
    ) -> None:
        self.problem = problem
        self.evaluator = evaluator
        self.config = config
        self.worlds = worlds
        self.sampler = sampler
        self.rng = random.Random(config.seed)

    def search(self, state: pyspiel.State, started_at: float | None = None) -> DeterminizedResult:
        """Search `worlds` sampled states; a seconds budget is split evenly and covers sampling."""
        start = time.perf_counter() if started_at is None else started_at
        player = state.current_player()
        sampler = self.sampler or belief_sampler_for(state, player)
        self.sampler = sampler
        b = self.config.budget
        per_world = Budget(
            simulations=None if b.simulations is None else max(1, b.simulations // self.worlds),
            seconds=None if b.seconds is None else b.seconds / self.worlds,
        )
        visits: dict[int, int] = defaultdict(int)
        value_sums: dict[int, float] = defaultdict(float)
        sims = 0
        for i in range(self.worlds):
            world = sampler.sample(state, player, self.rng)
            config = replace(self.config, budget=per_world, seed=self.rng.getrandbits(31))
            world_start = None if per_world.seconds is None else start + i * per_world.seconds
            mcts = MCTS(self.problem, self.evaluator, config)
            result: SearchResult = mcts.search(world, started_at=world_start)
            sims += result.simulations
            for child in result.root.children:
                visits[child.action] += child.visits
                value_sums[child.action] += child.value_sum[player]
        action = max(visits, key=lambda a: (visits[a], value_sums[a]))
        values = {a: value_sums[a] / visits[a] if visits[a] else 0.0 for a in visits}
        elapsed = time.perf_counter() - start
        return DeterminizedResult(action, dict(visits), values, self.worlds, sims, elapsed)
