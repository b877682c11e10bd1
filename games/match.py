"""Bots against bots: `agents play GAME --bots A,B --games N`. Each game is played by
OpenSpiel's own `evaluate_bots`; the bots change seats every game (game g puts spec
(p + g) mod n in seat p), so every spec plays every seat equally often. Per spec: mean
return with its 95% interval, and wins / draws / losses (a win: a strictly highest return)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyspiel
from open_spiel.python.algorithms.evaluate_bots import evaluate_bots

from games.bots import make_bot
from games.errors import UnsupportedGameError

Z = 1.96


@dataclass
class SpecResult:
    spec: str
    returns: list[float] = field(default_factory=list)
    wins: int = 0
    draws: int = 0
    losses: int = 0

    def summary(self) -> dict[str, Any]:
        n = len(self.returns)
        mean = statistics.fmean(self.returns) if n else float("nan")
        half = Z * statistics.stdev(self.returns) / math.sqrt(n) if n > 1 else float("nan")
        return {
            "spec": self.spec,
            "games": n,
            "mean_return": mean,
            "ci95": [mean - half, mean + half],
            "wins": self.wins,
            "draws": self.draws,
            "losses": self.losses,
            "win_rate": self.wins / n if n else float("nan"),
        }


def check_specs(game: pyspiel.Game, specs: Sequence[str]) -> None:
    """One spec per seat, else an `UnsupportedGameError` saying so."""
    if len(specs) != game.num_players():
        raise UnsupportedGameError(
            f"--bots takes one spec per seat: {game.get_type().short_name} has "
            f"{game.num_players()} players, got {len(specs)} spec(s)"
        )


def play_match(
    game: pyspiel.Game,
    specs: Sequence[str],
    games: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """`games` games between `specs` (one per seat), seats rotated; a summary per spec."""
    check_specs(game, specs)
    players = game.num_players()
    results = [SpecResult(spec) for spec in specs]
    for g in range(games):
        order = [(p + g) % players for p in range(players)]  # seat p plays spec order[p]
        bots = [make_bot(game, specs[i], seed=seed + g * players + p) for p, i in enumerate(order)]
        returns = evaluate_bots(game.new_initial_state(), bots, np.random.RandomState(seed + g))
        best = max(returns)
        for p, i in enumerate(order):
            r = float(returns[p])
            results[i].returns.append(r)
            if r < best:
                results[i].losses += 1
            elif list(returns).count(best) > 1:
                results[i].draws += 1
            else:
                results[i].wins += 1
        if progress is not None:
            progress(g + 1, games)
    return [r.summary() for r in results]
