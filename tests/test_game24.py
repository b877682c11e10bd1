"""Game of 24: the checker is exact, the solver finds what exists, the held-out set is fixed."""

from __future__ import annotations

from fractions import Fraction

import pytest

from agents.graphs.env import BadAction
from benchmarks.game24.env import G24State, Game24Env
from benchmarks.game24.puzzles import check, generate, load_heldout, solvable, solve


@pytest.mark.parametrize(
    ("numbers", "expr", "ok"),
    [
        ((3, 3, 8, 8), "8 / (3 - 8 / 3)", True),  # needs exact fractions
        ((1, 2, 3, 4), "1 * 2 * 3 * 4", True),
        ((1, 2, 3, 4), "(1 + 2 + 3) * 4 = 24", True),
        ((1, 2, 3, 4), "1 * 2 * 3 * 5", False),  # wrong number
        ((1, 2, 3, 4), "2 * 3 * 4", False),  # a number unused
        ((1, 2, 3, 4), "1 + 2 + 3 + 4", False),  # = 10
        ((4, 4, 10, 10), "(10 * 10 - 4) / 4", True),
        ((1, 2, 3, 4), "__import__('os')", False),
        ((1, 2, 3, 4), "1 ** 2 * 3 * 4", False),
        ((1, 2, 3, 4), "two times twelve", False),
    ],
)
def test_checker_verifies_the_arithmetic_exactly(numbers, expr, ok) -> None:
    assert check(numbers, expr).ok is ok


def test_checker_reports_an_impossible_puzzle() -> None:
    verdict = check((1, 1, 1, 1), "1 + 1 + 1 + 1")
    assert not verdict.ok and "impossible" in verdict.reason


def test_solver_answers_pass_the_checker_and_impossible_puzzles_have_none() -> None:
    for p in [(4, 9, 10, 13), (3, 3, 8, 8), (1, 5, 5, 5), (5, 5, 5, 5)]:
        assert check(p, solve(p)).ok, p
    assert solve((1, 1, 1, 1)) is None and not solvable((1, 1, 2, 2))


def test_heldout_set_is_100_fixed_solvable_puzzles() -> None:
    puzzles = load_heldout()
    assert len(puzzles) == 100 == len(set(puzzles))
    assert all(solvable(p) for p in puzzles)
    assert puzzles == generate(100, seed=24)  # reproducible from its recorded seed


def test_environment_rejects_bad_steps_with_a_reason() -> None:
    env = Game24Env((4, 6, 9, 10))
    s = env.state
    with pytest.raises(BadAction, match="wrong arithmetic"):
        env.parse_action(s, "4 + 6 = 11")
    with pytest.raises(BadAction, match="not among"):
        env.parse_action(s, "5 + 6 = 11")
    with pytest.raises(BadAction, match="not among"):
        env.parse_action(s, "4 + 4 = 8")  # only one 4
    with pytest.raises(BadAction, match="no step"):
        env.parse_action(s, "let me think")
    env.act(env.parse_action(s, "step: 10 - 4 = 6"))
    env.act(env.parse_action(env.state, "6 * 6 = 36"))
    env.act(env.parse_action(env.state, "36 - 9 = 27"))
    assert env.done() and not env.success()
    assert env.summary()["verdict"] == "((10 - 4) * 6) - 9 = 27, not 24"


def test_environment_keeps_fractions_exact() -> None:
    env = Game24Env((3, 3, 8, 8))
    for step in ("8 / 3 = 8/3", "3 - 8/3 = 1/3", "8 / 1/3 = 24"):
        env.act(env.parse_action(env.state, step))
    assert env.state == G24State((Fraction(24),), env.state.exprs) and env.success()
