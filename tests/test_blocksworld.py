"""BlocksWorld: moves are validated, optimal lengths are true shortest paths."""

from __future__ import annotations

import pytest

from agents.graphs.env import BadAction
from benchmarks.blocksworld.env import BlocksEnv
from benchmarks.blocksworld.oracle import parse_description
from benchmarks.blocksworld.problem import (
    InvalidMove,
    apply_move,
    canonical,
    describe,
    distance_map,
    generate,
    optimal_length,
    validate,
)


def test_validator_names_the_rule_a_move_breaks() -> None:
    s = canonical([["A", "B"], ["C"]])  # B on A; C on the table
    with pytest.raises(InvalidMove, match="A is not clear"):
        validate(s, ("A", "table"))
    with pytest.raises(InvalidMove, match="already on the table"):
        validate(s, ("C", "table"))
    with pytest.raises(InvalidMove, match="no block D"):
        validate(s, ("D", "C"))
    with pytest.raises(InvalidMove, match="onto itself"):
        validate(s, ("C", "C"))
    assert apply_move(s, ("B", "C")) == canonical([["A"], ["C", "B"]])


def test_optimal_length_is_the_shortest_plan() -> None:
    start = canonical([["A", "B", "C"]])  # C on top
    goal = canonical([["C", "B", "A"]])
    assert optimal_length(start, goal) == 3  # C down, B onto C, A onto B
    assert optimal_length(start, start) == 0
    assert distance_map(goal)[start] == 3


def test_generator_is_seeded_and_respects_min_moves() -> None:
    a, b = generate(8, blocks=4, seed=3), generate(8, blocks=4, seed=3)
    assert a == b and all(x.optimal >= 2 for x in a)
    assert all(optimal_length(x.start, x.goal) == x.optimal for x in a)


def test_description_round_trips_and_env_rejects_illegal_moves() -> None:
    x = generate(1, blocks=5, seed=1)[0]
    assert parse_description(describe(x.start)) == x.start
    env = BlocksEnv(x)
    buried = next(s[0] for s in x.start if len(s) > 1)
    with pytest.raises(BadAction, match="not clear"):
        env.parse_action(env.state, f"move {buried} onto table")
    with pytest.raises(BadAction, match="no move"):
        env.parse_action(env.state, "put it down")
    assert env.max_steps >= x.optimal + 2
