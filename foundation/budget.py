"""One budget type for every cap, and one way for a cap to end work.

`Budget` holds the caps: search simulations and seconds (the planners), model calls,
tokens and dollars (the LLM layer); None means no cap. What was used is counted by the
layer that spends it (`search.MCTS` counts simulations in its loop, `BudgetedLLM` counts
calls, tokens and dollars with `Spent`). A run-level cap that is reached raises
`BudgetExhausted`, and the run loop (`foundation.runs.run_units`) catches it and ends the
run with what finished (`stopped="budget"`), the unit that was cut short left for a rerun.
A search's own budget ends the search, not the run: the planner returns its best answer
and says which cap stopped it (`SearchResult.stopped_by`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from foundation.errors import ConfigError


class BudgetExhausted(Exception):
    """A run-level budget was reached; the message names the cap."""


@dataclass(frozen=True)
class Budget:
    """Caps on simulations, seconds, model calls, tokens and dollars (None: no cap)."""

    simulations: int | None = None
    seconds: float | None = None
    calls: int | None = None
    tokens: int | None = None
    dollars: float | None = None

    def __post_init__(self) -> None:
        for name in ("simulations", "calls", "tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        for name in ("seconds", "dollars"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value}")

    def caps(self) -> dict[str, float]:
        """The caps that are set, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class Spent:
    """What was used against a `Budget` (the spender keeps it; not thread-safe alone)."""

    simulations: int = 0
    seconds: float = 0.0
    calls: int = 0
    tokens: int = 0
    dollars: float = 0.0

    def __add__(self, other: Spent) -> Spent:
        return Spent(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: Spent) -> Spent:
        return Spent(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def passes(self, budget: Budget) -> str | None:
        """The first cap of `budget` that this spending passes, or None."""
        return next(
            (name for name, cap in budget.caps().items() if getattr(self, name) > cap), None
        )

    def describe(self, budget: Budget) -> str:
        """ "$0.0123 of $0.5000, 812 of 1000 tokens": spending against the caps set."""
        parts = []
        for name, cap in budget.caps().items():
            used = getattr(self, name)
            parts.append(
                f"${used:.4f} of ${cap:.4f}" if name == "dollars" else f"{used:g} of {cap:g} {name}"
            )
        return ", ".join(parts) or "no cap"
