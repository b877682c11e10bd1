"""The breadth-first / beam planner (tree-of-thought style) on a trap problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from search_toys import TreeProblem

from search import BeamConfig, NoActionsError, beam_search

# One player. "bait" looks best after one step (heuristic 5) but leads to at most 5;
# "slow" looks poor (1) but leads to 10.
TRAP = TreeProblem(
    {
        "start": (0, {"bait": "B", "slow": "S", "meh": "M"}),
        "B": (0, {"stop": "B1"}),
        "S": (0, {"climb": "S1", "fall": "S2"}),
        "M": (0, {"stop": "M1"}),
        "B1": (5.0,),
        "S1": (10.0,),
        "S2": (0.0,),
        "M1": (2.0,),
    },
    players=1,
)
HEURISTIC = {"B": 5.0, "S": 1.0, "M": 2.0}


class Heuristic:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def evaluate(self, states: Sequence[Any]) -> list[Sequence[float]]:
        self.batches.append(len(states))
        return [[HEURISTIC[s]] for s in states]


def test_wider_beam_escapes_the_trap_that_greedy_falls_into() -> None:
    greedy = beam_search(TRAP, "start", Heuristic(), BeamConfig(width=1, depth=2))
    assert greedy.best.actions == ("bait", "stop") and greedy.best.value == 5.0
    heuristic = Heuristic()
    wide = beam_search(TRAP, "start", heuristic, BeamConfig(width=3, depth=2))
    assert wide.best.actions == ("slow", "climb") and wide.best.value == 10.0
    assert wide.best.terminal and [p.value for p in wide.beam] == [10.0, 5.0, 2.0]
    assert heuristic.batches == [3]  # one batched call per layer; terminal states score returns


class FirstTwo:
    def propose(self, state: Any, k: int) -> Sequence[tuple[Any, float]]:
        return [(a, 0.5) for a in TRAP.actions(state)[:2]] * 2  # duplicates are dropped


def test_policy_proposals_limit_the_breadth() -> None:
    result = beam_search(TRAP, "start", Heuristic(), BeamConfig(width=5, depth=2), FirstTwo())
    assert {p.actions[0] for p in result.beam} == {"bait", "slow"}
    assert result.evaluated == 2 + 3


def test_terminal_start_is_an_error() -> None:
    with pytest.raises(NoActionsError):
        beam_search(TRAP, "S1", Heuristic())
