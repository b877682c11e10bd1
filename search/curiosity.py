"""The value of a story step in COS(M+O)S (Materzok, 2025; docs/methods.md section 6).

Curiosity is an inverted U over surprisal (mean negative token log-probability, in
nats): a step the model finds neither predictable nor random scores highest. The
incoherence penalty is subtracted. Pure numbers here; where the log-probabilities and
the judge's verdicts come from is the caller's business.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from search.errors import InvalidConfigError
from search.problem import Values


@dataclass(frozen=True)
class CuriosityWeights:
    """value = curiosity * bump(surprisal) - incoherence * penalty, bump(peak) = 1."""

    peak: float = 2.5
    """Surprisal (nats per token) that scores highest."""
    width: float = 1.0
    """How fast the bump falls off: bump = exp(-((s - peak) / width) ** 2)."""
    curiosity: float = 1.0
    incoherence: float = 1.0

    def __post_init__(self) -> None:
        if self.width <= 0:
            raise InvalidConfigError(f"width must be > 0, got {self.width}")


@dataclass(frozen=True)
class StepScore:
    """What was measured about one plot step."""

    surprisal: float
    incoherence: float
    """In [0, 1]: 0 coherent, 1 contradicts or ignores the story."""


def surprisal(logprobs: Sequence[float]) -> float:
    """Mean negative log-probability per token (nats); 0 for an empty sequence."""
    return -sum(logprobs) / len(logprobs) if logprobs else 0.0


def inverted_u(s: float, peak: float, width: float) -> float:
    """The curiosity bump: 1 at `peak`, falling towards 0 on both sides."""
    return math.exp(-(((s - peak) / width) ** 2))


def step_value(score: StepScore, w: CuriosityWeights) -> float:
    return (
        w.curiosity * inverted_u(score.surprisal, w.peak, w.width)
        - w.incoherence * score.incoherence
    )


class CuriosityEvaluator:
    """`Evaluator` for one-player story states: the mean value of the steps written so far
    (`scores(state)` lists their `StepScore`s); a state with no steps is worth 0."""

    def __init__(
        self, scores: Callable[[Any], Sequence[StepScore]], weights: CuriosityWeights
    ) -> None:
        self.scores = scores
        self.weights = weights

    def value(self, state: Any) -> float:
        steps = self.scores(state)
        if not steps:
            return 0.0
        return sum(step_value(s, self.weights) for s in steps) / len(steps)

    def evaluate(self, states: Sequence[Any]) -> list[Values]:
        return [[self.value(s)] for s in states]
