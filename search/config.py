"""Search configuration: budgets, widening and MCTS options as frozen, documented dataclasses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from foundation.budget import Budget
from search.errors import InvalidConfigError
from search.selection import RULES, SelectionRule


@dataclass(frozen=True)
class Widening:
    """Progressive widening: a node with n visits holds at most ceil(k * n**alpha) children."""

    k: float = 1.0
    alpha: float = 0.5

    def __post_init__(self) -> None:
        if self.k <= 0 or not 0 <= self.alpha <= 1:
            raise InvalidConfigError(f"widening needs k > 0 and 0 <= alpha <= 1, got {self}")

    def bound(self, visits: int) -> int:
        grown: float = self.k * float(max(visits, 1)) ** self.alpha
        return math.ceil(grown)


@dataclass(frozen=True)
class MCTSConfig:
    """Options of `search.mcts.MCTS` (docs/methods.md section 1)."""

    budget: Budget = field(default_factory=lambda: Budget(simulations=1000))
    c: float = 2.0
    """Exploration constant (OpenSpiel's examples use uct_c=2 with rollouts)."""
    selection: str | SelectionRule = "uct"
    """"uct", "puct", or any `SelectionRule` callable."""
    final: Literal["visits", "value"] = "visits"
    """Final-move rule: most visited child, or best mean value for the acting player."""
    chance: Literal["sample", "stratified"] = "sample"
    """Chance nodes: sample outcomes by probability, or pick the most under-visited one."""
    widening: Widening | None = None
    """Set for open action spaces: children come from the Policy as visits grow."""
    shuffle: bool = True
    """Shuffle children of a new node (reduces move-order bias, as OpenSpiel does)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.budget.simulations is None and self.budget.seconds is None:
            raise InvalidConfigError("a search budget needs simulations or seconds (or both)")

    def rule(self) -> SelectionRule:
        if callable(self.selection):
            return self.selection
        try:
            return RULES[self.selection]
        except KeyError:
            raise InvalidConfigError(
                f"unknown selection rule {self.selection!r}; valid: {', '.join(RULES)}"
            ) from None
