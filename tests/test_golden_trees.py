"""Golden trees: one per planner (issue 16), checked node by node as mctx does.

Each test runs a planner on a tiny deterministic problem for a small budget and
compares the whole resulting tree with an expected tree DERIVED BY HAND from the
algorithm (the derivation is in the comments, one line per simulation), not
recorded from the code. Trees are flattened to {action path: numbers}: "" is the
root, "a/x" the node reached by a then x. Every node the planner created is
listed, unvisited ones too, so an extra or a missing node fails as well.

Conventions of search/mcts.py the derivations rely on:
  * a node is evaluated on its first visit and expanded on its second, so the root's
    first simulation evaluates the root itself and N(node) = 1 + sum N(children)
    for an expanded non-terminal node;
  * UCT: Q + c*sqrt(ln N)/sqrt(n) with N the parent's visits (incl. its own
    evaluation), Q the mover's mean; an unvisited child is taken first; ties go to
    the earliest child (strict >);
  * PUCT: Q + c*P*sqrt(N)/(1 + n), Q = 0 when unvisited; ties to the earliest;
  * chance nodes: "stratified" takes argmax P*(N+1) - n (ties to the earliest),
    "sample" takes the first outcome whose cumulative probability exceeds rng.random();
  * shuffle=False keeps children in the problem's listed order.
Numbers in the comments are rounded to 4 places; the closest calls (chance s7 and s10)
are won by .007, far above the rounding; exact ties are marked as such. The problems
were chosen so that some calls are close: a different exploration constant (0.8 or 1.2
instead of 1) or one different table value changes the tree or the order it grew in.

Besides the final tree, the MCTS tests check the derivation itself: the leaf reached
and the value backed up by every simulation (`simulation_trace`), which is the same as
checking the tree after each of the N simulations.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest
from search_toys import ChanceTreeProblem, TreeProblem

from search import CHANCE, MCTS, BeamConfig, Budget, MCTSConfig, Node, beam_search, tree_to_dict
from search.mirror_descent import MDSConfig, mirror_descent_search

# ----------------------------------------------------------------------------- helpers


class DictEvaluator:
    """Values of non-terminal leaves from a table (KeyError for any other state, so
    evaluating a terminal or an unexpected state fails loudly); logs every batch."""

    def __init__(self, values: Mapping[str, Sequence[float]]) -> None:
        self.values = values
        self.batches: list[list[str]] = []

    def evaluate(self, states: Sequence[str]) -> list[Sequence[float]]:
        self.batches.append(list(states))
        return [self.values[s] for s in states]


class DictPolicy:
    """Priors from a table: state -> {action: prior}, in listed order."""

    def __init__(self, priors: dict[str, dict[str, float]]) -> None:
        self.priors = priors

    def propose(self, state: str, k: int) -> Sequence[tuple[str, float]]:
        return list(self.priors[state].items())[:k]


def flatten(root: Node, player: int = 0, priors: bool = False) -> dict[str, tuple[Any, ...]]:
    """{path: (visits, value sum of `player`[, prior])} for every node under `root`."""
    out: dict[str, tuple[Any, ...]] = {}

    def walk(node: Node, path: str) -> None:
        row: tuple[Any, ...] = (node.visits, node.value_sum[player])
        out[path] = (*row, node.prior) if priors else row
        for child in node.children:
            walk(child, f"{path}/{child.action}" if path else str(child.action))

    walk(root, "")
    return out


def assert_tree(
    root: Node, expected: dict[str, tuple[Any, ...]], player: int = 0, priors: bool = False
) -> None:
    got = flatten(root, player, priors)
    assert list(got) == list(expected), "the tree's shape (or child order) differs"
    for path, want in expected.items():
        assert got[path] == pytest.approx(want, abs=1e-12), f"node {path or 'root'!r}"
    check_invariants(root)


def check_invariants(root: Node) -> None:
    """What every MCTS tree must satisfy, whatever the numbers: one evaluation per node
    before expansion, visits add up, means are sums over visits, zero-sum stays zero-sum."""

    def walk(node: Node) -> None:
        if node.children and not node.terminal:
            assert node.visits == 1 + sum(c.visits for c in node.children)
        assert node.mean(0) == (node.value_sum[0] / node.visits if node.visits else 0.0)
        if len(node.value_sum) == 2:
            assert node.value_sum[0] == pytest.approx(-node.value_sum[1], abs=1e-12)
        for child in node.children:
            walk(child)

    walk(root)


def export_rows(d: dict[str, Any], path: str = "") -> dict[str, tuple[int, float]]:
    """{path: (visits, P0's mean)} read back from `tree_to_dict` (visited nodes only)."""
    rows = {path: (d["visits"], d["values"][0])}
    for child in d.get("children", []):
        rows.update(export_rows(child, f"{path}/{child['action']}" if path else child["action"]))
    return rows


def one_at_a_time(config: MCTSConfig) -> MCTSConfig:
    return replace(config, budget=Budget(simulations=1))


def simulation_trace(mcts: MCTS[Any], state: Any, sims: int) -> tuple[Node, list[Any]]:
    """Run `sims` one-simulation searches (`mcts` has a budget of one simulation) on one
    reused tree, the same as one search of `sims` simulations (same tree, same RNG), and
    return the tree and, per simulation, the path of its leaf (the deepest node whose
    visits grew) and the value it backed up."""
    assert mcts.config.budget.simulations == 1
    root: Node | None = None
    before: dict[str, tuple[Any, ...]] = {}
    trace: list[Any] = []
    for _ in range(sims):
        root = mcts.search(state, root=root).root
        after = flatten(root)
        grown = [p for p in after if after[p][0] != before.get(p, (0, 0.0))[0]]
        leaf = max(grown, key=lambda p: len(p.split("/")) if p else 0)
        trace.append((leaf, after[""][1] - before.get("", (0, 0.0))[1]))
        before = after
    assert root is not None
    return root, trace


def assert_trace(got: list[Any], expected: list[Any]) -> None:
    assert [leaf for leaf, _ in got] == [leaf for leaf, _ in expected], "simulation leaves"
    assert [v for _, v in got] == pytest.approx([v for _, v in expected], abs=1e-12)


def zs(v: float) -> tuple[float, float]:
    """A two-player zero-sum value vector."""
    return (v, -v)


# ------------------------------------------------------------------------- MCTS + UCT

# P0 picks a or b, then P1 picks x or y; every depth-2 state is terminal. Non-terminal
# states are valued by a table (P0's value; P1 gets the negation). P1 is indifferent at
# A (x and y both .25), so UCT meets exact ties there. Minimax: a (.25).
UCT_PROBLEM = TreeProblem(
    {
        "root": (0, {"a": "A", "b": "B"}),
        "A": (1, {"x": "AX", "y": "AY"}),
        "B": (1, {"x": "BX", "y": "BY"}),
        "AX": (0.25, -0.25),
        "AY": (0.25, -0.25),
        "BX": (0.0, 0.0),
        "BY": (0.5, -0.5),
    }
)
UCT_VALUES = {"root": zs(0.125), "A": zs(0.5), "B": zs(-0.25)}
UCT_C = 1.0
UCT_SIMS = 10

# Derivation, c = 1, k(N) = sqrt(ln N): k(2)=.8326 k(3)=1.0481 k(4)=1.1774 k(5)=1.2686
# k(6)=1.3386 k(7)=1.3950 k(8)=1.4420 k(9)=1.4823. Q at the root is P0's mean, at A/B P1's.
#  s1  root N=0: evaluate root (.125).
#  s2  root N=1: a unvisited -> a; evaluate A (.5).
#  s3  b unvisited -> b; evaluate B (-.25).
#  s4  root N=3: a .5+1.0481=1.5481 > b -.25+1.0481=.7981 -> a; A N=1: expand x,y;
#      x unvisited -> AX terminal (.25).                         a: N2 W.75
#  s5  root N=4: a .375+1.1774/√2=1.2076 > b -.25+1.1774=.9274 -> a; A: y unvisited ->
#      AY (.25).                                                 a: N3 W1
#  s6  root N=5: a .3333+1.2686/√3=1.0658 > b -.25+1.2686=1.0186 -> a; A N=3 (P1's Q):
#      x -.25+1.0481 = y -.25+1.0481 = .7981, an exact tie -> the earliest, x; AX (.25).
#                                                                a: N4 W1.25
#  s7  root N=6: a .3125+1.3386/2=.9818 < b -.25+1.3386=1.0886 -> b (exploration wins);
#      B N=1: expand; x unvisited -> BX (0).                     b: N2 W-.25
#  s8  root N=7: a .3125+1.3950/2=1.0100 > b -.125+1.3950/√2=.8614 -> a; A N=4:
#      x -.25+1.1774/√2=.5826 < y -.25+1.1774=.9274 -> y, AY (.25). a: N5 W1.5
#  s9  root N=8: a .3+1.4420/√5=.9449 > b -.125+1.4420/√2=.8946 -> a; A N=5:
#      x -.25+1.2686/√2 = y -.25+1.2686/√2 = .6470, exact tie -> x, AX (.25). a: N6 W1.75
#  s10 root N=9: a .2917+1.4823/√6=.8968 < b -.125+1.4823/√2=.9231 -> b; B N=2:
#      y unvisited -> BY (.5).                                   b: N3 W.25
# Root: W = .125 + 1.75 + .25 = 2.125 over 10 visits; the most visited child is a.
UCT_EXPECTED = {  # path: (visits, P0's value sum)
    "": (10, 2.125),
    "a": (6, 1.75),  # A .5 + 3 * AX .25 + 2 * AY .25
    "a/x": (3, 0.75),
    "a/y": (2, 0.5),
    "b": (3, 0.25),  # B -.25 + BX 0 + BY .5
    "b/x": (1, 0.0),
    "b/y": (1, 0.5),
}
UCT_TRACE = [  # (leaf, value backed up) of s1..s10, as derived above
    ("", 0.125), ("a", 0.5), ("b", -0.25), ("a/x", 0.25), ("a/y", 0.25),
    ("a/x", 0.25), ("b/x", 0.0), ("a/y", 0.25), ("a/x", 0.25), ("b/y", 0.5),
]  # fmt: skip


@pytest.mark.parametrize("mode", ["sync", "async-1-worker"])
def test_uct_golden_tree(mode: str) -> None:
    evaluator = DictEvaluator(UCT_VALUES)
    config = MCTSConfig(budget=Budget(simulations=UCT_SIMS), c=UCT_C, shuffle=False)
    mcts = MCTS(UCT_PROBLEM, evaluator, config)
    if mode == "sync":
        result = mcts.search("root")
    else:  # one worker: nothing is in flight during selection, so the same tree
        result = asyncio.run(mcts.search_async("root", workers=1))
    assert_tree(result.root, UCT_EXPECTED)
    assert result.action == "a"
    assert result.simulations == UCT_SIMS
    # The evaluator saw each non-terminal state once, in the order derived above.
    assert evaluator.batches == [["root"], ["A"], ["B"]]
    # The JSON export shows the same numbers (means, most visited first).
    means: dict[str, Any] = {
        p: (n, pytest.approx(w / n, abs=1e-6)) for p, (n, w) in UCT_EXPECTED.items()
    }
    assert export_rows(tree_to_dict(result.root)) == means


def test_uct_golden_trace() -> None:
    """The derivation line by line: the leaf and value of every simulation."""
    config = MCTSConfig(budget=Budget(simulations=UCT_SIMS), c=UCT_C, shuffle=False)
    mcts = MCTS(UCT_PROBLEM, DictEvaluator(UCT_VALUES), one_at_a_time(config))
    root, trace = simulation_trace(mcts, "root", UCT_SIMS)
    assert_trace(trace, UCT_TRACE)
    assert_tree(root, UCT_EXPECTED)


# ------------------------------------------------------------------------ MCTS + PUCT

# P0 picks a, b or c (priors .5/.3/.2), then P1 picks x or y (priors .75/.25; .5/.5 at C).
PUCT_PROBLEM = TreeProblem(
    {
        "root": (0, {"a": "A", "b": "B", "c": "C"}),
        "A": (1, {"x": "AX", "y": "AY"}),
        "B": (1, {"x": "BX", "y": "BY"}),
        "C": (1, {"x": "CX", "y": "CY"}),
        "AX": (-0.5, 0.5),
        "AY": (0.5, -0.5),
        "BX": (0.25, -0.25),
        "BY": (1.0, -1.0),
        "CX": (0.75, -0.75),
        "CY": (0.0, 0.0),
    }
)
PUCT_VALUES = {"root": zs(0.0), "A": zs(-0.25), "B": zs(0.5), "C": zs(0.5)}
PUCT_PRIORS = {
    "root": {"a": 0.5, "b": 0.3, "c": 0.2},
    "A": {"x": 0.75, "y": 0.25},
    "B": {"x": 0.75, "y": 0.25},
    "C": {"x": 0.5, "y": 0.5},
}
PUCT_C = 1.0
PUCT_SIMS = 10

# Derivation, c = 1: score = Q + P*sqrt(N)/(1+n), Q = 0 for an unvisited child.
#  s1  root N=0: evaluate root (0).
#  s2  root N=1: a .5 > b .3 > c .2 -> a; evaluate A (-.25).
#  s3  root N=2 (√2=1.4142): a -.25+.5*1.4142/2=.1036, b .3*1.4142=.4243, c .2828 -> b;
#      evaluate B (.5).
#  s4  root N=3 (1.7321): a -.25+.4330=.1830, b .5+.3*1.7321/2=.7598, c .3464 -> b;
#      B N=1: expand x(.75), y(.25); x .75*1/1=.75 > y .25 -> x, BX (.25). b: N2 W.75
#  s5  root N=4 (2): a -.25+.5=.25, b .375+.3*2/3=.575, c .4 -> b; B N=2 (P1's Q):
#      x -.25+.75*1.4142/2=.2803 < y .25*1.4142=.3536 -> y, BY (1).  b: N3 W1.75
#  s6  root N=5 (2.2361): a .3090, b .5833+.3*2.2361/4=.7510, c .4472 -> b; B N=3:
#      x -.25+.75*1.7321/2=.3995 > y -1+.25*1.7321/2=-.7835 -> x, BX. b: N4 W2
#  s7  root N=6 (2.4495): a .3624, b .5+.3*2.4495/5=.6470, c .4899 -> b; B N=4:
#      x -.25+.75*2/3=.25 > y -1+.25*2/2=-.75 -> x, BX.           b: N5 W2.25
#  s8  root N=7 (2.6458): a .4114, b .45+.3*2.6458/6=.5823, c .5292 -> b; B N=5:
#      x -.25+.75*2.2361/4=.1693 > y -1+.25*2.2361/2=-.7205 -> x, BX. b: N6 W2.5
#  s9  root N=8 (2.8284): a .4571, b .4167+.3*2.8284/7=.5379, c .2*2.8284=.5657 -> c;
#      evaluate C (.5).
#  s10 root N=9 (3): a -.25+.75=.5, b .4167+.3*3/7=.5452, c .5+.2*3/2=.8 -> c; C N=1:
#      expand; x .5*1/1 = y .5, an exact tie -> the earliest, x; CX (.75). c: N2 W1.25
# a keeps its one visit (high prior, poor value); c.y stays unvisited.
PUCT_TRACE = [
    ("", 0.0), ("a", -0.25), ("b", 0.5), ("b/x", 0.25), ("b/y", 1.0),
    ("b/x", 0.25), ("b/x", 0.25), ("b/x", 0.25), ("c", 0.5), ("c/x", 0.75),
]  # fmt: skip
PUCT_EXPECTED = {  # path: (visits, P0's value sum, prior)
    "": (10, 3.5, 1.0),
    "a": (1, -0.25, 0.5),
    "b": (6, 2.5, 0.3),  # B .5 + 4 * BX .25 + BY 1
    "b/x": (4, 1.0, 0.75),
    "b/y": (1, 1.0, 0.25),
    "c": (2, 1.25, 0.2),
    "c/x": (1, 0.75, 0.5),
    "c/y": (0, 0.0, 0.5),
}


def test_puct_golden_tree() -> None:
    evaluator = DictEvaluator(PUCT_VALUES)
    config = MCTSConfig(
        budget=Budget(simulations=PUCT_SIMS), c=PUCT_C, selection="puct", shuffle=False
    )
    result = MCTS(PUCT_PROBLEM, evaluator, config, policy=DictPolicy(PUCT_PRIORS)).search("root")
    assert_tree(result.root, PUCT_EXPECTED, priors=True)
    assert result.action == "b"
    assert evaluator.batches == [["root"], ["A"], ["B"], ["C"]]
    policy = DictPolicy(PUCT_PRIORS)
    mcts = MCTS(PUCT_PROBLEM, DictEvaluator(PUCT_VALUES), one_at_a_time(config), policy=policy)
    root, trace = simulation_trace(mcts, "root", PUCT_SIMS)
    assert_trace(trace, PUCT_TRACE)
    assert_tree(root, PUCT_EXPECTED, priors=True)


# ----------------------------------------------------------------- MCTS + chance nodes

# One player: "safe" ends at .25; "risky" is a fair coin: "hi" leads to a decision
# (keep: 1, drop: 0), "lo" ends at 0. Non-terminal states are valued by a table.
CHANCE_PROBLEM = ChanceTreeProblem(
    {
        "root": (0, {"safe": "S", "risky": "R"}),
        "S": (0.25,),
        "R": (CHANCE, {"hi": (0.5, "RH"), "lo": (0.5, "RL")}),
        "RH": (0, {"keep": "RHK", "drop": "RHD"}),
        "RL": (0.0,),
        "RHK": (1.0,),
        "RHD": (0.0,),
    },
    players=1,
)
CHANCE_VALUES = {"root": (0.0,), "R": (0.5,), "RH": (0.75,)}
CHANCE_C = 1.0
CHANCE_SIMS = 10
CHANCE_SEED = 3  # random.Random(3).random() draws .2380 .5442 .3700 .6039 .6257

# Derivation, c = 1 (k(N) as in the UCT test). s1-s9 are the same in both chance modes.
#  s1  evaluate root (0).  s2  safe -> S (.25).  s3  risky -> evaluate R (.5).
#  s4  root N=3: safe .25+1.0481=1.2981 < risky .5+1.0481=1.5481 -> risky; R N=1:
#      expand hi(.5), lo(.5).
#        stratified: hi .5*2-0=1 = lo 1 (exact tie -> earliest) -> hi.
#        sample: draw .2380 < .5 -> hi.
#      RH is new: evaluate RH (.75).                        risky: N2 W1.25
#  s5  root N=4: safe .25+1.1774=1.4274 < risky .625+1.1774/√2=1.4576 -> risky; R N=2:
#        stratified: hi .5*3-1=.5 < lo 1.5 -> lo.  sample: .5442 >= .5 -> lo.
#      RL terminal (0).                                     risky: N3 W1.25
#  s6  root N=5: safe .25+1.2686=1.5186 > risky .4167+1.2686/√3=1.1491 -> safe.
#  s7  root N=6: safe .25+1.3386/√2=1.1965 > risky .4167+1.3386/√3=1.1895 -> safe.
#  s8  root N=7: safe .25+1.3950/√3=1.0554 < risky .4167+1.3950/√3=1.2221 -> risky; R N=3:
#        stratified: hi .5*4-1=1 = lo 1 (tie -> earliest) -> hi.  sample: .3700 -> hi.
#      RH N=1: expand keep, drop; keep unvisited -> RHK (1). risky: N4 W2.25
#  s9  root N=8: safe .25+1.4420/√3=1.0825 < risky .5625+1.4420/2=1.2835 -> risky; R N=4:
#        stratified: hi .5*5-2=.5 < lo .5*5-1=1.5 -> lo.  sample: .6039 -> lo.
#      RL (0).                                              risky: N5 W2.25
#  s10 root N=9: safe .25+1.4823/√3=1.1058 < risky .45+1.4823/√5=1.1129 -> risky; R N=5:
#        stratified: hi .5*6-2=1 = lo .5*6-2=1 (tie) -> hi; RH N=2: drop unvisited ->
#          RHD (0).                                         hi: N3 W1.75
#        sample: .6257 -> lo, RL (0).                       lo: N3 W0
CHANCE_EXPECTED = {  # path: (visits, value sum, prior = probability for chance outcomes)
    "stratified": {
        "": (10, 3.0, 1.0),  # root 0 + safe .75 + risky 2.25
        "safe": (3, 0.75, 0.5),
        "risky": (6, 2.25, 0.5),  # R .5 + RH .75 + RL 0 + RHK 1 + RL 0 + RHD 0
        "risky/hi": (3, 1.75, 0.5),
        "risky/hi/keep": (1, 1.0, 0.5),
        "risky/hi/drop": (1, 0.0, 0.5),
        "risky/lo": (2, 0.0, 0.5),
    },
    "sample": {
        "": (10, 3.0, 1.0),
        "safe": (3, 0.75, 0.5),
        "risky": (6, 2.25, 0.5),  # R .5 + RH .75 + RL 0 + RHK 1 + RL 0 + RL 0
        "risky/hi": (2, 1.75, 0.5),
        "risky/hi/keep": (1, 1.0, 0.5),
        "risky/hi/drop": (0, 0.0, 0.5),
        "risky/lo": (3, 0.0, 0.5),
    },
}
_CHANCE_HEAD = [
    ("", 0.0), ("safe", 0.25), ("risky", 0.5), ("risky/hi", 0.75), ("risky/lo", 0.0),
    ("safe", 0.25), ("safe", 0.25), ("risky/hi/keep", 1.0), ("risky/lo", 0.0),
]  # fmt: skip
CHANCE_TRACE = {
    "stratified": [*_CHANCE_HEAD, ("risky/hi/drop", 0.0)],
    "sample": [*_CHANCE_HEAD, ("risky/lo", 0.0)],
}


@pytest.mark.parametrize("chance", ["stratified", "sample"])
def test_chance_golden_tree(chance: str) -> None:
    # The seeded draws the "sample" derivation uses (shuffle=False: chance is their only user).
    draws = random.Random(CHANCE_SEED)
    assert [round(draws.random(), 4) for _ in range(5)] == [0.238, 0.5442, 0.37, 0.6039, 0.6257]
    config = MCTSConfig(
        budget=Budget(simulations=CHANCE_SIMS),
        c=CHANCE_C,
        chance=chance,
        shuffle=False,
        seed=CHANCE_SEED,
    )
    result = MCTS(CHANCE_PROBLEM, DictEvaluator(CHANCE_VALUES), config).search("root")
    assert_tree(result.root, CHANCE_EXPECTED[chance], priors=True)
    assert result.root.child("risky").player == CHANCE
    assert result.action == "risky"
    mcts = MCTS(CHANCE_PROBLEM, DictEvaluator(CHANCE_VALUES), one_at_a_time(config))
    root, trace = simulation_trace(mcts, "root", CHANCE_SIMS)
    assert_trace(trace, CHANCE_TRACE[chance])
    assert_tree(root, CHANCE_EXPECTED[chance], priors=True)


# ------------------------------------------------------------------------ beam search

# One player, width 2, depth 3; non-terminal states are scored by a heuristic table.
BEAM_PROBLEM = TreeProblem(
    {
        "S": (0, {"a": "A", "b": "B", "c": "C"}),
        "A": (0, {"x": "AX", "y": "AY"}),
        "B": (0, {"x": "BX", "y": "BY"}),
        "C": (0, {"x": "CX"}),
        "AX": (0.5,),
        "AY": (0, {"z": "AYZ", "w": "AYW"}),
        "AYZ": (0.9,),
        "AYW": (0, {"v": "AYWV"}),
        "AYWV": (0.0,),
        "BX": (0, {"z": "BXZ"}),
        "BXZ": (0.3,),
        "BY": (0.8,),
        "CX": (1.0,),
    },
    players=1,
)
BEAM_VALUES = {"A": (0.6,), "B": (0.7,), "C": (0.6,), "BX": (0.2,), "AY": (0.8,), "AYW": (0.8,)}

# Derivation (width 2; the sort is stable, so ties keep the order plans were generated in,
# which is beam order, then action order):
#  layer 1: expand S -> a .6, b .7, c .6 (one batch A, B, C). Sorted: b .7, a .6, c .6;
#           a and c tie and a came first, so the beam is [b, a] (c and its 1.0 are lost).
#  layer 2: expand b -> b/x .2 (BX), b/y .8 (terminal: its return); then a -> a/x .5
#           (terminal), a/y .8 (AY). One batch BX, AY. Sorted: b/y .8, a/y .8 (tie, b/y
#           first), a/x .5, b/x .2 -> beam [b/y, a/y].
#  layer 3: b/y is terminal: carried over unexpanded. Expand a/y -> a/y/z .9 (terminal),
#           a/y/w .8 (AYW). Pool: carried first, then new: b/y .8, a/y/z .9, a/y/w .8.
#           Sorted: a/y/z .9, b/y .8, a/y/w .8 (tie: the carried plan came first)
#           -> beam [a/y/z, b/y]; best a/y/z.
# Scored: 3 + 4 + 2 = 9 states, 5 of them by the evaluator in 3 batches.
BEAM_EXPECTED_SCORES = {  # path: (score, terminal) of every plan the search scored
    "a": (0.6, False),
    "b": (0.7, False),
    "c": (0.6, False),
    "b/x": (0.2, False),
    "b/y": (0.8, True),
    "a/x": (0.5, True),
    "a/y": (0.8, False),
    "a/y/z": (0.9, True),
    "a/y/w": (0.8, False),
}
BEAM_EXPECTED_EXPANDED = ["", "b", "a", "a/y"]  # the plans that were expanded, in order
BEAM_EXPECTED_FINAL = [("a/y/z", 0.9, True), ("b/y", 0.8, True)]


class RecordingProblem:
    """Wraps a problem whose states are unique names; records each state's action path,
    the order states were expanded in, and the return of every terminal state scored."""

    def __init__(self, inner: TreeProblem, start: str) -> None:
        self.inner = inner
        self.path = {start: ""}
        self.expanded: list[str] = []
        self.returned: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def step(self, state: str, action: str) -> str:
        nxt = self.inner.step(state, action)
        parent = self.path[state]
        if parent not in self.expanded:
            self.expanded.append(parent)
        self.path[nxt] = f"{parent}/{action}" if parent else action
        return nxt

    def returns(self, state: str) -> Sequence[float]:
        values = self.inner.returns(state)
        self.returned[self.path[state]] = values[0]
        return values


def test_beam_golden_tree() -> None:
    problem = RecordingProblem(BEAM_PROBLEM, "S")
    evaluator = DictEvaluator(BEAM_VALUES)
    result = beam_search(problem, "S", evaluator, BeamConfig(width=2, depth=3))

    scores = {problem.path[s]: (BEAM_VALUES[s][0], False) for b in evaluator.batches for s in b}
    scores.update({p: (v, True) for p, v in problem.returned.items()})
    assert scores == BEAM_EXPECTED_SCORES
    assert problem.expanded == BEAM_EXPECTED_EXPANDED
    assert evaluator.batches == [["A", "B", "C"], ["BX", "AY"], ["AYW"]]
    final = [("/".join(p.actions), p.value, p.terminal) for p in result.beam]
    assert final == BEAM_EXPECTED_FINAL
    assert result.best.actions == ("a", "y", "z")
    assert result.evaluated == 9


# --------------------------------------------------------------- mirror-descent search

# One decision, three actions, blueprint pi = (raise .25, call .5, fold .25); the worlds
# are H, T, H, T, ... in order (workers=1 runs world k before world k+1). Returns:
#   raise: H 3, T 0;  call: H 1, T -.5;  fold: -1.
# eta = ln 2, so the MDS update is pi'(a) ∝ pi(a) * 2**q(a): hand-computable.
MDS_RETURNS = {("raise", "H"): 3.0, ("raise", "T"): 0.0, ("call", "H"): 1.0}
MDS_RETURNS |= {("call", "T"): -0.5, ("fold", "H"): -1.0, ("fold", "T"): -1.0}
MDS_BLUEPRINT = {"raise": 0.25, "call": 0.5, "fold": 0.25}
MDS_ETA = math.log(2)

# Derivation (rollouts=7, keep=1 after screen=1 world):
#  world 0 (H), screening: raise 3, call 1, fold -1 (3 rollouts). Best q: raise; the
#     blueprint action (call, the largest prior) always stays: live = [raise, call].
#  world 1 (T): raise 0, call -.5.   world 2 (H): raise 3, call 1.   7 rollouts: stop.
#  q: raise (3+0+3)/3 = 2, call (1-.5+1)/3 = .5, fold -1/1 = -1.
#  pi' ∝ raise .25*2**2 = 1, call .5*2**.5 = .7071, fold .25*2**-1 = .125 (sum 1.8321):
#     raise .5458, call .3860, fold .0682 -> argmax over live: raise (deviates from call).
#  Paired gain raise - call over the worlds after screening (1, 2): .5 and 2 -> mean 1.25,
#     sample variance ((.75)**2 + (.75)**2)/1 = 1.125, standard error sqrt(1.125/2) = .75.
_Z = 1.0 + 0.5 * math.sqrt(2) + 0.125
MDS_EXPECTED = {  # action: (visits, return sum, prior, updated policy)
    "raise": (3, 6.0, 0.25, 1.0 / _Z),
    "call": (3, 1.5, 0.5, 0.5 * math.sqrt(2) / _Z),
    "fold": (1, -1.0, 0.25, 0.125 / _Z),
}


def test_mirror_descent_golden_tree() -> None:
    worlds = iter(["H", "T"] * 10)
    seen: list[tuple[str, str]] = []

    def sample_world(rng: random.Random) -> str:
        return next(worlds)

    def rollout(world: str, action: str, rng: random.Random) -> float:
        seen.append((world, action))
        return MDS_RETURNS[(action, world)]

    config = MDSConfig(eta=MDS_ETA, rollouts=7, keep=1, screen=1, seed=0)
    result = mirror_descent_search(config, MDS_BLUEPRINT, sample_world, rollout)

    assert seen == [
        ("H", "raise"), ("H", "call"), ("H", "fold"),
        ("T", "raise"), ("T", "call"),
        ("H", "raise"), ("H", "call"),
    ]  # fmt: skip
    got = {
        a: (result.visits[a], result.q[a] * result.visits[a], result.prior[a], result.policy[a])
        for a in MDS_BLUEPRINT
    }
    assert list(got) == list(MDS_EXPECTED)
    for action, want in MDS_EXPECTED.items():
        assert got[action] == pytest.approx(want, abs=1e-12), action
    assert (result.action, result.blueprint_action, result.deviated) == ("raise", "call", True)
    assert (result.worlds, result.rollouts) == (3, 7)
    assert (result.gain, result.gain_se) == pytest.approx((1.25, 0.75), abs=1e-12)
