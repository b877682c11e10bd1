"""`search.flat.FlatMCTS` (the array-backed UCT search) against the reference `MCTS`.

The flat search promises the reference's tree, node for node, for every configuration it
accepts: same seed and same evaluator, same visit counts, value sums, priors and chosen
action. These tests compare whole trees (`tree_to_dict` of both, which covers every
visited node's numbers) on seeded problems: two-player, three-player and one-player with
chance nodes, pure-Python rollouts and OpenSpiel's C++ rollouts, from scratch and on a
reused subtree.
"""

from __future__ import annotations

import random
from typing import Any

import pyspiel
import pytest
from search_toys import ChanceTreeProblem, Nim, NimState, Picks, ThreePlayerPicks

from games.adapter import SpielProblem, SpielRolloutEvaluator
from games.bots import make_bot
from search import (
    MCTS,
    TERMINAL,
    Budget,
    InvalidConfigError,
    MCTSConfig,
    NoActionsError,
    RandomRollout,
    Widening,
    subtree,
    tree_to_dict,
)
from search.flat import FlatMCTS

TTT = pyspiel.load_game("tic_tac_toe")
C4 = pyspiel.load_game("connect_four")


def _config(sims: int, seed: int, **kw: Any) -> MCTSConfig:
    return MCTSConfig(budget=Budget(simulations=sims), seed=seed, **kw)


def _both(problem: Any, make_evaluator: Any, state: Any, config: MCTSConfig) -> tuple[Any, Any]:
    """(reference result, flat result) of one search each, evaluators seeded alike."""
    ref = MCTS(problem, make_evaluator(), config).search(state)
    flat = FlatMCTS(problem, make_evaluator(), config).search(state)
    return ref, flat


def _same(ref: Any, flat: Any) -> None:
    assert tree_to_dict(flat.root_node()) == tree_to_dict(ref.root)
    assert flat.action == ref.action and flat.simulations == ref.simulations
    assert flat.top(7) == ref.top(7) and flat.visit_policy() == ref.visit_policy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_tree_as_mcts_on_nim_with_python_rollouts(seed: int) -> None:
    problem = Nim()
    ref, flat = _both(
        problem, lambda: RandomRollout(problem, seed=seed), NimState((1, 2, 3)), _config(500, seed)
    )
    _same(ref, flat)
    assert tree_to_dict(flat.root_node()) != tree_to_dict(  # the comparison can fail
        MCTS(problem, RandomRollout(problem, seed=seed + 7), _config(500, seed))
        .search(NimState((1, 2, 3)))
        .root
    )


def test_same_tree_with_three_players_and_no_shuffle() -> None:
    problem = ThreePlayerPicks()
    for shuffle in (True, False):
        config = _config(300, 5, shuffle=shuffle, c=1.3, final="value")
        ref, flat = _both(problem, lambda: RandomRollout(problem, seed=3), Picks(()), config)
        _same(ref, flat)


def test_same_tree_with_sampled_chance_nodes() -> None:
    # One player, a chance node with uneven probabilities below a decision.
    problem = ChanceTreeProblem(
        {
            "root": (0, {"safe": "S", "risky": "R"}),
            "S": (0.4,),
            "R": (-1, {"lo": (0.3, "RL"), "hi": (0.7, "RH")}),
            "RL": (0.0,),
            "RH": (0, {"keep": "RHK", "drop": "RHD"}),
            "RHK": (0.9,),
            "RHD": (0.1,),
        },
        players=1,
    )
    ref, flat = _both(problem, lambda: RandomRollout(problem, seed=1), "root", _config(200, 3))
    _same(ref, flat)
    risky = flat.root_node().child("risky")
    assert risky is not None and risky.visits > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_same_tree_as_mcts_with_cpp_rollouts_on_connect_four(seed: int) -> None:
    # SpielProblem.advance and SpielRolloutEvaluator.evaluate_leaf (the fast paths) against
    # the reference's step / is_terminal / current_player and evaluate([state]).
    state = C4.new_initial_state()
    for a in (3, 3, 2):
        state.apply_action(a)
    problem = SpielProblem(C4)
    ref, flat = _both(
        problem, lambda: SpielRolloutEvaluator(C4, seed=seed), state, _config(800, seed)
    )
    _same(ref, flat)


def test_continuing_a_reused_subtree_matches_mcts() -> None:
    problem = SpielProblem(TTT)
    config = _config(300, 2)
    mcts = MCTS(problem, SpielRolloutEvaluator(TTT, seed=2), config)
    flat = FlatMCTS(problem, SpielRolloutEvaluator(TTT, seed=2), config)
    state = TTT.new_initial_state()
    ref_first, flat_first = mcts.search(state.clone()), flat.search(state.clone())
    played = [ref_first.action, 0 if ref_first.action != 0 else 1]
    node = subtree(ref_first.root, played)
    at = flat_first.tree.descend(flat_first.root, played)
    assert node is not None and at is not None
    assert flat_first.tree.visits[at] == node.visits > 0
    for a in played:
        state.apply_action(a)
    ref_next = mcts.search(state, root=node)
    flat_next = flat.search(state, tree=flat_first.tree, root=at)
    _same(ref_next, flat_next)
    assert flat_next.tree.visits[at] == node.visits == flat_first.tree.visits[at]
    assert flat_first.tree.descend(flat_first.root, [9]) is None  # no such move


def test_inlined_shuffle_is_random_shuffle() -> None:
    flat = FlatMCTS(Nim(), RandomRollout(Nim()), _config(1, 0))
    for seed in range(20):
        for n in range(12):
            flat.rng = random.Random(seed)
            mine = list(range(n))
            flat._shuffle(mine)
            theirs = list(range(n))
            random.Random(seed).shuffle(theirs)
            assert mine == theirs


def test_unsupported_configs_are_refused_and_terminal_roots_raise() -> None:
    assert FlatMCTS.supports(MCTSConfig())
    for bad in (
        MCTSConfig(selection="puct"),
        MCTSConfig(widening=Widening()),
        MCTSConfig(chance="stratified"),
    ):
        assert not FlatMCTS.supports(bad)
        with pytest.raises(InvalidConfigError, match="use MCTS"):
            FlatMCTS(Nim(), RandomRollout(Nim()), bad)
    with pytest.raises(NoActionsError):
        FlatMCTS(Nim(), RandomRollout(Nim())).search(NimState((0, 0)))


def test_seconds_budget_stops_the_flat_search() -> None:
    config = MCTSConfig(budget=Budget(seconds=0.02), seed=0)
    result = FlatMCTS(SpielProblem(C4), SpielRolloutEvaluator(C4), config).search(
        C4.new_initial_state()
    )
    assert result.stopped_by == "seconds" and result.simulations > 0
    assert result.tree.visits[result.root] == result.simulations


def test_advance_reports_terminal_successors() -> None:
    problem = SpielProblem(TTT)
    state = TTT.new_initial_state()
    for a in (0, 3, 1, 4):
        state = problem.step(state, a)
    child, player = problem.advance(state, 2)  # X completes the top row
    assert player == TERMINAL and child.is_terminal() and not state.is_terminal()
    child, player = problem.advance(state, 8)
    assert player == 1 == child.current_player()


def test_cpp_rollout_paths_agree_in_distribution() -> None:
    # The zero-sum path (RandomRolloutEvaluator via a one-simulation MCTSBot) and the
    # general path (evaluate_bots) estimate the same value: X's random-play value ~0.30.
    start = TTT.new_initial_state()
    fast = SpielRolloutEvaluator(TTT, rollouts=1, seed=0)
    fast_mean = sum(fast.evaluate_leaf(start, 0)[0] for _ in range(4000)) / 4000
    general = SpielRolloutEvaluator(TTT, rollouts=1, seed=0)
    general._sum = None  # force the evaluate_bots path
    general_mean = sum(general.evaluate_leaf(start, 0)[0] for _ in range(4000)) / 4000
    assert 0.24 < fast_mean < 0.36 and 0.24 < general_mean < 0.36
    assert abs(fast_mean - general_mean) < 0.07  # ~3.5 standard errors of the difference
    # Player 1 to move: the values are still in player order.
    after = start.child(4)
    v = fast.evaluate_leaf(after, 1)
    assert v[0] == -v[1]
    # A chance node goes through the general path (a one-simulation MCTSBot cannot).
    kuhn = pyspiel.load_game("kuhn_poker")
    values = SpielRolloutEvaluator(kuhn, seed=0).evaluate_leaf(kuhn.new_initial_state(), -1)
    assert len(values) == 2 and values[0] == -values[1]


def test_search_bot_exports_and_reuses_its_flat_tree() -> None:
    bot = make_bot(TTT, "mcts:sims=200", seed=0)
    state = TTT.new_initial_state()
    state.apply_action(bot.step(state))
    root = bot.last_root
    assert root is not None and root.visits == 200
    assert sum(c.visits for c in root.children) == 199 and root.state is not None
    state.apply_action(0 if 0 in state.legal_actions() else 1)
    bot.step(state)
    reused = int(bot.thinking.split(" reused")[0].rpartition(", ")[2])
    assert reused > 0 and bot.last_root is not None
    assert bot.last_root.visits == 200 + reused
