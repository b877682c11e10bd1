"""UCT over an array-backed tree: the fast path of `MCTS` for its common case
(docs/methods.md section 1).

`FlatMCTS` is the search `MCTS` runs with UCT selection, sampled chance outcomes, no
policy, no progressive widening and one simulation at a time, and it draws its random
numbers in the same order: with the same seed and evaluator it builds the same tree (visit
counts, value sums, chosen action; tests/test_flat_mcts.py holds it to that). What differs
is the representation. The tree is a set of parallel lists indexed by node id (a
`FlatTree`); the children of a node are one contiguous block of ids, allocated all at once
when the node is expanded, so a simulation creates no Python object per node. Nodes are
visited in the order the reference visits them: a node's unvisited children are taken in
their (shuffled) order before UCT compares any, so that phase needs no scan, only a
counter. `FlatTree.node(i)` builds `search.tree.Node` objects when a caller wants them
(export, `StopRule`-style inspection), never during the search.

Two optional seams make a simulation cheaper still, when the problem and evaluator offer
them (search/problem.py): `SteppingProblem.advance` (successor and its player in one
call) and `LeafEvaluator.evaluate_leaf` (one state whose player is known). Without them
the plain `Problem` and `Evaluator` methods are used.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from search.config import MCTSConfig
from search.errors import InvalidConfigError, NoActionsError, UnsupportedProblemError
from search.mcts import ActionStat, _cycle_collector_paused
from search.problem import (
    CHANCE,
    TERMINAL,
    Evaluator,
    LeafEvaluator,
    Problem,
    SteppingProblem,
    Values,
)
from search.selection import uct
from search.tree import Node

S = TypeVar("S")

UNSEEN = -99
"""`FlatTree.players` of a node no simulation has reached yet (its state is not computed)."""


class FlatTree:
    """A search tree as parallel lists indexed by node id; node 0 is the first root.

    `first[i]` is the id of node i's first child (-1 until it is expanded) and
    `count[i]` how many children it has; `filled[i]` counts the children selected so far
    (they are taken in order until all have been visited once). `value_sums[p][i]` is
    player p's summed return over node i's visits. `players[i]` is the acting player,
    `CHANCE`, `TERMINAL`, or `UNSEEN`: a node's `states[i]` and player are computed on
    its first visit. For UCT, `means[i]` caches node i's mean return for the player who
    chose it (its parent's player) and `roots[i]` caches `sqrt(visits[i])`, both
    refreshed by every backup through node i.

    The lists are preallocated in blocks holding an unvisited node's values, so adding a
    block of children writes only their actions and priors. Ids `0..len(tree)-1` are in
    use; the lists may be longer.
    """

    __slots__ = (
        "actions",
        "count",
        "filled",
        "first",
        "means",
        "num_players",
        "players",
        "priors",
        "returns",
        "roots",
        "size",
        "states",
        "value_sums",
        "visits",
    )

    def __init__(self, num_players: int) -> None:
        self.num_players = num_players
        self.actions: list[Any] = []
        self.priors: list[float] = []
        self.states: list[Any] = []
        self.players: list[int] = []
        self.first: list[int] = []
        self.count: list[int] = []
        self.filled: list[int] = []
        self.visits: list[int] = []
        self.means: list[float] = []
        self.roots: list[float] = []
        self.value_sums: list[list[float]] = [[] for _ in range(num_players)]
        self.returns: dict[int, Values] = {}
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, actions: Sequence[Any], priors: Sequence[float]) -> int:
        """Unvisited nodes for `actions` (a new block of children); their first id."""
        start = self.size
        end = start + len(actions)
        if end > len(self.visits):
            self._grow(end)
        self.actions[start:end] = actions
        self.priors[start:end] = priors
        self.size = end
        return start

    def _grow(self, end: int) -> None:
        """Room for ids up to `end` and as many again, every list holding unvisited nodes."""
        block = max(end, 1024) - len(self.visits) + max(end, 1024)
        nones: list[Any] = [None] * block
        zeros = [0] * block
        fzeros = [0.0] * block
        self.actions.extend(nones)
        self.priors.extend(fzeros)
        self.states.extend(nones)
        self.players.extend([UNSEEN] * block)
        self.first.extend([-1] * block)
        self.count.extend(zeros)
        self.filled.extend(zeros)
        self.visits.extend(zeros)
        self.means.extend(fzeros)
        self.roots.extend(fzeros)
        for ws in self.value_sums:
            ws.extend(fzeros)

    def children(self, i: int) -> range:
        """Ids of node i's children (empty until it is expanded)."""
        f = self.first[i]
        return range(f, f + self.count[i]) if f >= 0 else range(0)

    def child(self, i: int, action: Any) -> int | None:
        """Id of node i's child reached by `action`, if the tree holds it."""
        actions = self.actions
        for j in self.children(i):
            if actions[j] == action:
                return j
        return None

    def descend(self, i: int, actions: Sequence[Any]) -> int | None:
        """The node reached from i by `actions`, if it has been visited (a reusable root)."""
        node: int | None = i
        for a in actions:
            if node is None:
                return None
            node = self.child(node, a)
        if node is None or self.states[node] is None:
            return None
        return node

    def mean(self, i: int, player: int) -> float:
        n = self.visits[i]
        return self.value_sums[player][i] / n if n else 0.0

    def node(self, i: int, max_depth: int | None = None) -> Node:
        """Node i and its subtree (down to `max_depth` edges) as `search.tree.Node` objects,
        e.g. for `search.export`; unvisited children are included, as `MCTS` keeps them."""
        out = Node(self.actions[i], self.priors[i], self.num_players)
        out.state = self.states[i]
        player = self.players[i]
        if player == TERMINAL:
            out.terminal = True
            out.terminal_returns = self.returns[i]
        else:
            out.player = player
        out.visits = self.visits[i]
        out.value_sum = [ws[i] for ws in self.value_sums]
        out.expanded = self.first[i] >= 0
        if max_depth is None or max_depth > 0:
            deeper = None if max_depth is None else max_depth - 1
            out.children = [self.node(j, deeper) for j in self.children(i)]
        return out


@dataclass(frozen=True)
class FlatResult:
    """The chosen action and the tree behind it (`tree`, with the root at id `root`).

    A later search that continues this tree (tree reuse) updates the same lists."""

    action: Any
    tree: FlatTree
    root: int
    simulations: int
    seconds: float
    stopped_by: str
    """"simulations" or "seconds": which budget ended the search."""

    def top(self, k: int = 3) -> list[ActionStat]:
        """The k most visited root children, most visited first (as `SearchResult.top`)."""
        t = self.tree
        player = t.players[self.root]
        kids = sorted(t.children(self.root), key=lambda j: (-t.visits[j], -t.mean(j, player)))
        return [
            ActionStat(t.actions[j], t.visits[j], t.mean(j, player), t.priors[j]) for j in kids[:k]
        ]

    def visit_policy(self) -> dict[Any, float]:
        """Root visit counts as a distribution over actions."""
        t = self.tree
        kids = t.children(self.root)
        total = sum(t.visits[j] for j in kids) or 1
        return {t.actions[j]: t.visits[j] / total for j in kids}

    def root_node(self, max_depth: int | None = None) -> Node:
        """The tree as `Node` objects (built now; for export and inspection)."""
        return self.tree.node(self.root, max_depth)


def final_child_id(tree: FlatTree, root: int, rule: str = "visits") -> int:
    """`search.mcts.final_child` on a flat tree (same rules, same tie-breaks)."""
    player = tree.players[root]
    kids = list(tree.children(root))
    visits = tree.visits
    if rule == "value":
        visited = [j for j in kids if visits[j]] or kids
        return max(visited, key=lambda j: (tree.mean(j, player), visits[j]))
    if rule == "visits":
        return max(kids, key=lambda j: (visits[j], tree.mean(j, player)))
    raise InvalidConfigError(f"unknown final-move rule {rule!r}; valid: visits, value")


class FlatMCTS(Generic[S]):
    """UCT search on a `FlatTree`: `MCTS`'s results for the configurations `supports` accepts."""

    def __init__(
        self, problem: Problem[S, Any], evaluator: Evaluator[S], config: MCTSConfig | None = None
    ) -> None:
        self.config = config or MCTSConfig()
        if not self.supports(self.config):
            raise InvalidConfigError(
                "FlatMCTS runs UCT with sampled chance outcomes and no widening; use MCTS for "
                f"selection={self.config.selection!r}, chance={self.config.chance!r}, "
                f"widening={self.config.widening!r}"
            )
        self.problem = problem
        self.evaluator = evaluator
        self.rng = random.Random(self.config.seed)
        self._players = problem.num_players()
        self._advance: Callable[[S, Any], tuple[S, int]] = (
            problem.advance if isinstance(problem, SteppingProblem) else self._plain_advance
        )
        self._leaf: Callable[[S, int], Values] = (
            evaluator.evaluate_leaf if isinstance(evaluator, LeafEvaluator) else self._plain_leaf
        )

    @staticmethod
    def supports(config: MCTSConfig) -> bool:
        """True when `FlatMCTS` runs the search `MCTS` would for `config` (without a policy)."""
        return (
            config.selection in ("uct", uct)
            and config.widening is None
            and config.chance == "sample"
        )

    # ----------------------------------------------------------------- public

    def new_root(self, state: S) -> tuple[FlatTree, int]:
        """A fresh tree whose expanded root (id 0) is `state`, a non-terminal decision node."""
        tree = FlatTree(self._players)
        tree.add([None], [1.0])
        problem = self.problem
        if problem.is_terminal(state):
            raise NoActionsError("the state is terminal: there is no move to search for")
        player = problem.current_player(state)
        if player == CHANCE:
            raise UnsupportedProblemError("search starts at a decision node, not a chance node")
        if player < 0:
            raise UnsupportedProblemError(
                f"current player {player} is neither a player nor chance "
                "(simultaneous-move states are not supported)"
            )
        tree.states[0] = state
        tree.players[0] = player
        self._expand(tree, 0)
        return tree, 0

    def search(
        self,
        state: S,
        tree: FlatTree | None = None,
        root: int = 0,
        started_at: float | None = None,
    ) -> FlatResult:
        """Run simulations from `state`, or continue node `root` of `tree` (a reused subtree,
        see `FlatTree.descend`), until the budget ends. `started_at` (a
        `time.perf_counter()` value) starts the seconds budget earlier."""
        start = time.perf_counter() if started_at is None else started_at
        if tree is None:
            tree, root = self.new_root(state)
        elif tree.first[root] < 0:
            self._expand(tree, root)
        budget = self.config.budget
        deadline = None if budget.seconds is None else start + budget.seconds
        with _cycle_collector_paused():
            sims, stopped_by = self._run(tree, root, budget.simulations, deadline)
        if not tree.count[root]:
            raise NoActionsError("the search found no action to take (nothing was proposed)")
        best = final_child_id(tree, root, self.config.final)
        seconds = time.perf_counter() - start
        return FlatResult(tree.actions[best], tree, root, sims, seconds, stopped_by)

    # --------------------------------------------------------------- internals

    def _plain_advance(self, state: S, action: Any) -> tuple[S, int]:
        problem = self.problem
        child = problem.step(state, action)
        if problem.is_terminal(child):
            return child, TERMINAL
        return child, problem.current_player(child)

    def _plain_leaf(self, state: S, player: int) -> Values:
        return self.evaluator.evaluate([state])[0]

    def _shuffle(self, x: list[Any]) -> None:
        """`self.rng.shuffle(x)`, inlined: the same calls to `getrandbits`, so the same
        permutation (MCTS shuffles (action, prior) pairs, a list of the same length);
        tests/test_flat_mcts.py checks the two agree."""
        getrandbits = self.rng.getrandbits
        for i in range(len(x) - 1, 0, -1):
            n = i + 1
            k = n.bit_length()
            j = getrandbits(k)
            while j >= n:
                j = getrandbits(k)
            x[i], x[j] = x[j], x[i]

    def _expand(self, tree: FlatTree, node: int) -> int:
        """Give a node on its second visit its block of children; the first child's id."""
        state = tree.states[node]
        player = tree.players[node]
        if player == CHANCE:
            pairs = list(self.problem.chance_outcomes(state))
            actions = [a for a, _ in pairs]
            priors = [p for _, p in pairs]
        elif player < 0:
            raise UnsupportedProblemError(
                f"current player {player} is neither a player nor chance "
                "(simultaneous-move states are not supported)"
            )
        else:
            actions = list(self.problem.actions(state))
            if self.config.shuffle:
                self._shuffle(actions)
            priors = [1.0 / len(actions)] * len(actions) if actions else []
        first = tree.add(actions, priors)
        tree.first[node] = first
        tree.count[node] = len(actions)
        return first

    def _run(
        self, tree: FlatTree, root: int, max_sims: int | None, deadline: float | None
    ) -> tuple[int, str]:
        """The simulation loop; the number of simulations and what ended them."""
        # Everything the loop touches is a local: a simulation is a few list reads and writes.
        actions, priors, states, players = tree.actions, tree.priors, tree.states, tree.players
        first, count, filled, visits = tree.first, tree.count, tree.filled, tree.visits
        means, roots = tree.means, tree.roots
        value_sums, returns = tree.value_sums, tree.returns
        sums = list(enumerate(value_sums))
        two = len(value_sums) == 2
        w0, w1 = value_sums if two else ([], [])
        advance, leaf, expand = self._advance, self._leaf, self._expand
        problem_returns = self.problem.returns
        random_ = self.rng.random
        perf_counter = time.perf_counter
        sqrt, log = math.sqrt, math.log
        c = self.config.c
        limit = sys.maxsize if max_sims is None else max_sims
        sims = 0
        while sims < limit:
            if deadline is not None and perf_counter() >= deadline:
                return sims, "seconds"
            # Selection: walk down while the node has been visited before. A node's visit
            # count goes up as the walk leaves it (UCT has read it by then); the leaf's
            # at the backup.
            node = root
            path = [root]
            player = players[root]
            while player != TERMINAL:
                n_node = visits[node]
                if not n_node:
                    break
                f = first[node]
                if f < 0:
                    f = expand(tree, node)
                m = count[node]
                if player == CHANCE:
                    if not m:
                        break
                    r = random_()
                    acc = 0.0
                    child = f + m - 1
                    for j in range(f, f + m):
                        acc += priors[j]
                        if r < acc:
                            child = j
                            break
                else:
                    k = filled[node]
                    if k < m:  # an unvisited child comes first, in order
                        child = f + k
                        filled[node] = k + 1
                    elif not m:
                        break  # nothing to choose from: evaluate this node again
                    else:  # UCT: mean + c * sqrt(ln N / n), the same floats as search.selection.uct
                        explore = c * sqrt(log(n_node))
                        child = f
                        best = -math.inf
                        for j in range(f, f + m):
                            score = means[j] + explore / roots[j]
                            if score > best:
                                child, best = j, score
                visits[node] = n_node + 1
                player = players[child]
                if player == UNSEEN:  # first arrival: compute the state
                    state, player = advance(states[node], actions[child])
                    states[child] = state
                    players[child] = player
                    if player == TERMINAL:
                        returns[child] = tuple(problem_returns(state))
                path.append(child)
                node = child
            # evaluation and backup
            values = returns[node] if player == TERMINAL else leaf(states[node], player)
            visits[node] += 1
            mover = CHANCE  # who chose the node: its parent's player (none for the root)
            if two:  # the same sums as the general loop below, in one pass
                v0, v1 = values
                for i in path:
                    a = w0[i] + v0
                    w0[i] = a
                    b = w1[i] + v1
                    w1[i] = b
                    n = visits[i]
                    means[i] = (b if mover == 1 else a) / n
                    roots[i] = sqrt(n)
                    mover = players[i]
            else:
                for p, ws in sums:
                    v = values[p]
                    for i in path:
                        ws[i] += v
                for i in path:
                    n = visits[i]
                    means[i] = value_sums[mover][i] / n if mover >= 0 else 0.0
                    roots[i] = sqrt(n)
                    mover = players[i]
            sims += 1
        return sims, "simulations"
