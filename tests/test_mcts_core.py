"""Specification of the MCTS core on tiny hand-checkable problems (docs/methods.md section 1)."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest
from search_toys import (
    ChanceTreeProblem,
    CountingPolicy,
    Nim,
    NimState,
    OpenEnded,
    Picks,
    ThreePlayerPicks,
    TreeProblem,
    ZeroEvaluator,
)

from foundation.errors import ConfigError
from search import (
    CHANCE,
    MCTS,
    BatchingEvaluator,
    Budget,
    CachedEvaluator,
    InvalidConfigError,
    MCTSConfig,
    NoActionsError,
    Node,
    RandomRollout,
    Widening,
    subtree,
    tree_to_dict,
    tree_to_dot,
    tree_to_json,
)
from search.mcts import final_child

# P0 picks a or b; b ends at (0.5, -0.5); after a, P1 picks x -> (1, -1) or y -> (-1, 1).
TINY = TreeProblem(
    {
        "root": (0, {"a": "A", "b": "B"}),
        "A": (1, {"x": "AX", "y": "AY"}),
        "B": (0.5, -0.5),
        "AX": (1.0, -1.0),
        "AY": (-1.0, 1.0),
    }
)


def _sims(n: int, **kw: object) -> MCTSConfig:
    return MCTSConfig(budget=Budget(simulations=n), **kw)


def test_golden_tree_uct_after_eight_simulations() -> None:
    # Hand-checked with c=1, children in listed order, leaves valued 0:
    # s1 root, s2 a, s3 b, s4 b (1.55 > 1.05), s5 b (1.33 > 1.18), s6 a (1.27 > 1.23) -> x,
    # s7 a (1.45 > 1.27) -> y, s8 b (1.31 > 0.81).
    mcts = MCTS(TINY, ZeroEvaluator(), _sims(8, c=1.0, shuffle=False))
    result = mcts.search("root")
    assert tree_to_dict(result.root) == {
        "action": "root", "player": 0, "visits": 8, "values": [0.25, -0.25], "prior": 1.0,
        "terminal": False,
        "children": [
            {"action": "b", "player": None, "visits": 4, "values": [0.5, -0.5], "prior": 0.5,
             "terminal": True},
            {"action": "a", "player": 1, "visits": 3, "values": [0.0, 0.0], "prior": 0.5,
             "terminal": False,
             "children": [
                 {"action": "x", "player": None, "visits": 1, "values": [1.0, -1.0],
                  "prior": 0.5, "terminal": True},
                 {"action": "y", "player": None, "visits": 1, "values": [-1.0, 1.0],
                  "prior": 0.5, "terminal": True},
             ]},
        ],
    }  # fmt: skip
    assert result.action == "b"
    assert result.simulations == 8 and result.stopped_by == "simulations"


def test_golden_tree_puct_follows_priors() -> None:
    # PUCT with c=1 and uniform priors: s1 root; s2 a (all scores 0, first wins);
    # s3: a = 0 + 0.5*sqrt(2)/2 = 0.354, b = 0.5*sqrt(2) = 0.707 -> b (terminal 0.5);
    # s4: a = 0.5*sqrt(3)/2 = 0.433, b = 0.5 + 0.433 -> b; s5: a = 0.5, b = 0.5 + 0.333 -> b.
    mcts = MCTS(TINY, ZeroEvaluator(), _sims(5, c=1.0, shuffle=False, selection="puct"))
    root = mcts.search("root").root
    assert [(c.action, c.visits, c.value_sum) for c in root.children] == [
        ("a", 1, [0.0, 0.0]),
        ("b", 3, [1.5, -1.5]),
    ]


def test_final_move_rules_visits_and_value() -> None:
    root = Node(None, 1.0, 2)
    root.player = 1
    for action, visits, p1_sum in [("often", 10, 2.0), ("rarely", 3, 1.5), ("never", 0, 0.0)]:
        child = Node(action, 1 / 3, 2)
        child.visits, child.value_sum = visits, [-p1_sum, p1_sum]
        root.children.append(child)
    assert final_child(root, "visits").action == "often"  # mean 0.2, 10 visits
    assert final_child(root, "value").action == "rarely"  # mean 0.5 for player 1
    with pytest.raises(InvalidConfigError, match="valid: visits, value"):
        final_child(root, "best")


def test_three_player_returns_go_to_the_right_player() -> None:
    problem = ThreePlayerPicks()
    evaluator = RandomRollout(problem, seed=3)
    for picks in [(), (0,), (1,), (1, 1)]:
        result = MCTS(problem, evaluator, _sims(300, seed=1)).search(Picks(picks))
        assert result.action == 1, picks  # own pick helps oneself whatever the others do
    root = MCTS(problem, evaluator, _sims(600, seed=2)).search(Picks()).root
    leaf = root.child(1).child(1).child(1)
    assert leaf is not None and leaf.values() == [-1.0, -1.0, -1.0]
    p1_zero = root.child(1).child(0)
    assert p1_zero is not None and p1_zero.mean(1) < root.child(1).child(1).mean(1)


def test_progressive_widening_holds_its_bound() -> None:
    policy = CountingPolicy()
    widening = Widening(k=2.0, alpha=0.5)
    mcts = MCTS(OpenEnded(), ZeroEvaluator(1), _sims(200, widening=widening), policy=policy)
    result = mcts.search("start")
    root = result.root
    assert len(root.children) <= math.ceil(2.0 * root.visits**0.5)
    # The bound grows with visits, and new children keep coming while the policy has some.
    assert len(root.children) >= math.ceil(2.0 * (root.visits - 1) ** 0.5)
    assert len(root.children) > 10
    assert result.action == 7  # the best proposal (value 1) wins once proposed
    assert policy.asked == sorted(policy.asked)


def test_progressive_widening_stops_asking_an_exhausted_policy() -> None:
    policy = CountingPolicy(limit=3)
    mcts = MCTS(OpenEnded(), ZeroEvaluator(1), _sims(500, widening=Widening(1.0, 0.5)), policy)
    root = mcts.search("start").root
    assert sorted(c.action for c in root.children) == [0, 1, 2]
    assert len(policy.asked) <= 4  # it said nothing new once, then was left alone


def test_budget_in_seconds_ends_the_search_cleanly() -> None:
    mcts = MCTS(Nim(), RandomRollout(Nim(), seed=0), MCTSConfig(budget=Budget(seconds=0.05)))
    result = mcts.search(NimState((3, 4, 5)))
    assert result.stopped_by == "seconds" and result.simulations > 0
    # Time the caller spent before the search counts: a budget already used up runs nothing.
    late = mcts.search(NimState((3, 4, 5)), started_at=time.perf_counter() - 1.0)
    assert late.stopped_by == "seconds" and late.simulations == 0
    both = MCTSConfig(budget=Budget(simulations=50, seconds=60.0))
    assert MCTS(Nim(), ZeroEvaluator(), both).search(NimState((3, 4))).simulations == 50


def test_bad_configs_fail_with_typed_errors() -> None:
    with pytest.raises(InvalidConfigError, match="simulations or seconds"):
        MCTSConfig(budget=Budget())
    with pytest.raises(ConfigError, match="simulations must be >= 1"):
        Budget(simulations=0)
    with pytest.raises(InvalidConfigError, match="valid: uct, puct"):
        MCTS(Nim(), ZeroEvaluator(), MCTSConfig(selection="best"))
    with pytest.raises(NoActionsError):
        MCTS(Nim(), ZeroEvaluator()).search(NimState((0, 0)))


def test_reused_subtree_keeps_its_statistics() -> None:
    problem = Nim()
    mcts = MCTS(problem, RandomRollout(problem, seed=1), _sims(300, seed=4))
    start = NimState((2, 3))
    first = mcts.search(start)
    node = subtree(first.root, [first.action])
    assert node is not None and node.visits > 0
    before = node.visits
    after = mcts.search(node.state, root=node)
    assert after.root is node and node.visits == before + 300


def _nim_tree(workers: int | None, seed: int) -> dict[str, object]:
    problem = Nim()
    mcts = MCTS(problem, RandomRollout(problem, seed=seed), _sims(400, seed=seed))
    state = NimState((1, 2, 3))
    if workers is None:
        return tree_to_dict(mcts.search(state).root)
    return tree_to_dict(asyncio.run(mcts.search_async(state, workers=workers)).root)


def test_async_search_with_one_worker_equals_sequential_search() -> None:
    for seed in (0, 1):
        assert _nim_tree(None, seed) == _nim_tree(1, seed)
    assert _nim_tree(None, 0) != _nim_tree(None, 1)  # the comparison can fail


def test_four_workers_batch_evaluations_and_find_the_winning_move() -> None:
    problem = Nim()
    # Heaps (1, 2, 4): the only winning move makes the xor zero: take 1 from the heap of 4.
    state = NimState((1, 2, 4))
    batcher = BatchingEvaluator(RandomRollout(problem, seed=5), max_batch=8)
    mcts = MCTS(problem, batcher, _sims(3000, seed=5))
    result = asyncio.run(mcts.search_async(state, workers=4))
    assert result.action == (2, 1)
    assert result.simulations == 3000 and result.root.visits == 3000
    assert max(batcher.batch_sizes) == 4  # four leaves were in flight at once
    assert all(n.in_flight == 0 for n in _walk(result.root))
    sequential = MCTS(problem, RandomRollout(problem, seed=5), _sims(3000, seed=5))
    assert sequential.search(state).action == result.action


def _walk(node):
    yield node
    for c in node.children:
        yield from _walk(c)


def test_cached_evaluator_counts_hits() -> None:
    inner = ZeroEvaluator()
    cached = CachedEvaluator(inner, maxsize=2)
    cached.evaluate(["s1", "s2"])
    cached.evaluate(["s1", "s3"])
    assert (cached.hits, cached.misses, inner.calls) == (1, 3, 2)
    cached.evaluate(["s2"])  # evicted by the LRU bound
    assert cached.misses == 4


def test_tree_exports_to_json_and_dot() -> None:
    root = MCTS(TINY, ZeroEvaluator(), _sims(8, c=1.0, shuffle=False)).search("root").root
    assert json.loads(tree_to_json(root)) == tree_to_dict(root)
    dot = tree_to_dot(root)
    assert dot.startswith("digraph mcts {") and dot.rstrip().endswith("}")
    assert dot.count("->") == 4 and "N=8" in dot and "Q=0.500" in dot
    assert tree_to_dict(root, max_depth=1)["children"][1].get("children") is None


# P0 gambles (chance: +1 w.p. 0.6, -1 w.p. 0.4, expectation 0.2) or stays safe (0.1).
GAMBLE = ChanceTreeProblem(
    {
        "root": (0, {"gamble": "G", "safe": "S"}),
        "G": (CHANCE, {"win": (0.6, "W"), "lose": (0.4, "L")}),
        "S": (0.1, -0.1),
        "W": (1.0, -1.0),
        "L": (-1.0, 1.0),
    }
)


@pytest.mark.parametrize("chance,tolerance", [("stratified", 0.01), ("sample", 0.06)])
def test_chance_node_value_equals_its_expectation(chance: str, tolerance: float) -> None:
    mcts = MCTS(GAMBLE, ZeroEvaluator(), _sims(3000, chance=chance, seed=11))
    result = mcts.search("root")
    gamble = result.root.child("gamble")
    assert gamble is not None and gamble.visits > 1000
    assert gamble.mean(0) == pytest.approx(0.2, abs=tolerance)
    win, lose = gamble.child("win"), gamble.child("lose")
    assert win is not None and lose is not None
    assert win.visits / gamble.visits == pytest.approx(0.6, abs=tolerance)
    assert result.action == "gamble"  # the expectation, not the worst case, decides
