"""CFR+ equilibrium policies for small two-player zero-sum games, solved once and cached.

OpenSpiel's C++ `CFRPlusSolver` does the solving; the average policy is kept as
a dict {information state: [(action, probability)]} in memory and as JSON on
disk (`$AGENTS_CACHE_DIR/cfr/`, default `~/.cache/agents-search/cfr/`).
"""

from __future__ import annotations

import functools
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import pyspiel

from foundation.jsonl import write_atomic
from games.errors import UnsupportedGameError
from games.spiel import Bot

PolicyTable = dict[str, list[tuple[int, float]]]


def _cache_dir() -> Path:
    root = os.environ.get("AGENTS_CACHE_DIR") or Path.home() / ".cache" / "agents-search"
    return Path(root) / "cfr"


def check_cfr_game(game: pyspiel.Game) -> None:
    gt = game.get_type()
    if (
        game.num_players() != 2
        or gt.utility != pyspiel.GameType.Utility.ZERO_SUM
        or gt.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL
        or gt.information == pyspiel.GameType.Information.PERFECT_INFORMATION
    ):
        raise UnsupportedGameError(
            "cfr solves small two-player zero-sum imperfect-information games (kuhn_poker, "
            f"leduc_poker, liars_dice); {gt.short_name} is not one: use mcts there"
        )


@functools.lru_cache(maxsize=8)
def solve(game_string: str, iterations: int) -> PolicyTable:
    """The CFR+ average policy after `iterations`, from the disk cache when present."""
    game = pyspiel.load_game(game_string)
    check_cfr_game(game)
    safe = "".join(ch if ch.isalnum() else "_" for ch in game_string)
    path = _cache_dir() / f"{safe}-cfrplus-{iterations}.json"
    if path.exists():
        raw = json.loads(path.read_text())
        return {k: [(int(a), float(p)) for a, p in v] for k, v in raw.items()}
    solver = pyspiel.CFRPlusSolver(game)
    for _ in range(iterations):
        solver.evaluate_and_update_policy()
    table: PolicyTable = {
        k: [(int(a), float(p)) for a, p in v]
        for k, v in solver.tabular_average_policy().policy_table().items()
    }
    write_atomic(path, json.dumps(table))  # a crash never leaves half a file
    return table


@dataclass(frozen=True)
class CFRBotConfig:
    """The options of a `cfr:` spec (spec keys = field names)."""

    iters: int = 300
    """CFR+ iterations of the solve (cached per game and count)."""


class CFRBot(Bot):
    """Plays by sampling the cached CFR+ average policy at its information state."""

    def __init__(self, game: pyspiel.Game, iterations: int, seed: int) -> None:
        super().__init__()
        check_cfr_game(game)
        self._table = solve(str(game), iterations)
        self._rng = random.Random(seed)
        self.iterations = iterations
        self.thinking = ""

    def step(self, state: pyspiel.State) -> int:
        player = state.current_player()
        legal = state.legal_actions()
        probs = dict(self._table.get(state.information_state_string(player), []))
        weights = [max(probs.get(a, 0.0), 0.0) for a in legal]
        if sum(weights) <= 0:
            weights = [1.0] * len(legal)
        action = self._rng.choices(legal, weights)[0]
        shown = ", ".join(
            f"{state.action_to_string(player, a)} {w / sum(weights):.2f}"
            for a, w in zip(legal, weights, strict=True)
        )
        self.thinking = f"cfr+ ({self.iterations} iterations) policy: {shown}"
        return int(action)

    def restart_at(self, state: pyspiel.State) -> None:
        pass

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass
