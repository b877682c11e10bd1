"""Monte Carlo tree search over any `Problem` (docs/methods.md section 1).

One simulation: select a path with the selection rule (chance nodes sample by
probability), evaluate the leaf (terminal returns, or the `Evaluator`), and add
the leaf's value vector to every node on the path. A node is evaluated on its
first visit and expanded on its second, like OpenSpiel's `mcts.py`. The async
variant runs several simulations at once; in-flight evaluations count as
visits during selection (WU-UCT), so with one worker it is the sequential search.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from search.config import MCTSConfig
from search.errors import InvalidConfigError, NoActionsError, UnsupportedProblemError
from search.problem import CHANCE, AsyncEvaluator, Evaluator, Policy, Problem, Values
from search.tree import Node

S = TypeVar("S")

StopRule = Callable[[Node, Sequence[Node]], bool]
"""`stop(root, path)`, asked after each simulation's backup with the path it walked: True
ends the search (`stopped_by="stop"`). A caller's own stopping rule (enough finished
candidates, a solved puzzle) lives here, so no caller loops around one-simulation searches
(mctx's `loop_fn`, OpenSpiel's `max_simulations`, made a predicate)."""


@dataclass(frozen=True)
class ActionStat:
    """Summary of one root child: what a user sees as the searcher's thinking."""

    action: Any
    visits: int
    value: float
    prior: float


@dataclass(frozen=True)
class SearchResult:
    """The chosen action and the tree behind it."""

    action: Any
    root: Node
    simulations: int
    seconds: float
    stopped_by: str
    """What ended the search: "simulations" or "seconds" (the budget), "stop" (the caller's
    `StopRule`), or "exhausted" (open action space: the root's policy has nothing new to
    propose and the root has no child, so more simulations cannot help)."""

    def top(self, k: int = 3) -> list[ActionStat]:
        """The k most visited root children, most visited first."""
        player = self.root.player
        kids = sorted(self.root.children, key=lambda c: (-c.visits, -c.mean(player)))
        return [ActionStat(c.action, c.visits, c.mean(player), c.prior) for c in kids[:k]]

    def visit_policy(self) -> dict[Any, float]:
        """Root visit counts as a distribution over actions."""
        total = sum(c.visits for c in self.root.children) or 1
        return {c.action: c.visits / total for c in self.root.children}


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Nodes link only downwards, so the tree needs no cycle collection; pausing the
    collector while the tree grows saves its repeated full scans (~15% more sims/s)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class MCTS(Generic[S]):
    """UCT/PUCT search with n-player values, chance nodes, progressive widening and budgets."""

    def __init__(
        self,
        problem: Problem[S, Any],
        evaluator: Evaluator[S],
        config: MCTSConfig | None = None,
        policy: Policy[S] | None = None,
    ) -> None:
        self.problem = problem
        self.evaluator = evaluator
        self.config = config or MCTSConfig()
        self.policy = policy
        self.rng = random.Random(self.config.seed)
        self._rule = self.config.rule()
        self._players = problem.num_players()

    # ----------------------------------------------------------------- public

    def new_root(self, state: S) -> Node:
        """A fresh, expanded root for `state` (a decision node that is not terminal)."""
        root = Node(None, 1.0, self._players)
        self._materialise(root, state)
        if root.terminal:
            raise NoActionsError("the state is terminal: there is no move to search for")
        if root.player == CHANCE:
            raise UnsupportedProblemError("search starts at a decision node, not a chance node")
        if root.player < 0:
            raise UnsupportedProblemError(
                f"current player {root.player} is neither a player nor chance "
                "(simultaneous-move states are not supported)"
            )
        self._expand(root)
        return root

    def search(
        self,
        state: S,
        root: Node | None = None,
        started_at: float | None = None,
        stop: StopRule | None = None,
    ) -> SearchResult:
        """Run simulations from `state` (or continue the reusable subtree `root`) until the
        budget ends, `stop` says so, or the root is exhausted. `started_at` (a
        `time.perf_counter()` value) starts the seconds budget earlier, so a caller's own
        work before the search counts against it too."""
        start = time.perf_counter() if started_at is None else started_at
        root = self._prepare(state, root)
        budget = self.config.budget
        max_sims = budget.simulations
        deadline = None if budget.seconds is None else start + budget.seconds
        evaluate = self.evaluator.evaluate
        sims = 0
        stopped_by = "simulations"
        with _cycle_collector_paused():
            while max_sims is None or sims < max_sims:
                if deadline is not None and time.perf_counter() >= deadline:
                    stopped_by = "seconds"
                    break
                path = self._select(root)
                leaf = path[-1]
                values = leaf.terminal_returns if leaf.terminal else evaluate([leaf.state])[0]
                self._backup(path, values)  # type: ignore[arg-type]  # terminal_returns is set on terminal nodes
                sims += 1
                ended = self._ended(root, path, stop)
                if ended:
                    stopped_by = ended
                    break
        return self._result(root, sims, time.perf_counter() - start, stopped_by)

    async def search_async(
        self,
        state: S,
        root: Node | None = None,
        workers: int = 4,
        started_at: float | None = None,
        stop: StopRule | None = None,
    ) -> SearchResult:
        """`search` with up to `workers` leaf evaluations in flight at once (virtual loss);
        after a stop, the simulations already in flight finish and are counted."""
        if workers < 1:
            raise InvalidConfigError(f"workers must be >= 1, got {workers}")
        start = time.perf_counter() if started_at is None else started_at
        root = self._prepare(state, root)
        budget = self.config.budget
        deadline = None if budget.seconds is None else start + budget.seconds
        evaluate = self._async_evaluate()
        started = 0
        stopped_by = "simulations"
        ended = ""

        async def worker() -> None:
            nonlocal started, stopped_by, ended
            while not ended and (budget.simulations is None or started < budget.simulations):
                if deadline is not None and time.perf_counter() >= deadline:
                    stopped_by = "seconds"
                    return
                started += 1
                path = self._select(root)
                for node in path:
                    node.in_flight += 1
                leaf = path[-1]
                try:
                    if leaf.terminal:
                        values: Values = leaf.terminal_returns  # type: ignore[assignment]  # set on terminal nodes
                    else:
                        values = (await evaluate([leaf.state]))[0]
                finally:
                    for node in path:
                        node.in_flight -= 1
                self._backup(path, values)
                now_ended = self._ended(root, path, stop)
                if now_ended and not ended:
                    ended = stopped_by = now_ended

        await asyncio.gather(*(worker() for _ in range(workers)))
        return self._result(root, started, time.perf_counter() - start, stopped_by)

    # --------------------------------------------------------------- internals

    def _ended(self, root: Node, path: Sequence[Node], stop: StopRule | None) -> str:
        """Why the search ends after this simulation ("" while it goes on)."""
        if stop is not None and stop(root, path):
            return "stop"
        if root.exhausted and not root.children:
            return "exhausted"
        return ""

    def _prepare(self, state: S, root: Node | None) -> Node:
        if root is None:
            return self.new_root(state)
        if not root.expanded:
            self._expand(root)
        return root

    def _async_evaluate(self) -> Callable[[Sequence[S]], Awaitable[list[Values]]]:
        if isinstance(self.evaluator, AsyncEvaluator):
            return self.evaluator.evaluate_async
        sync = self.evaluator.evaluate

        async def run(states: Sequence[S]) -> list[Values]:
            return sync(states)

        return run

    def _materialise(self, node: Node, state: S) -> None:
        problem = self.problem
        node.state = state
        if problem.is_terminal(state):
            node.terminal = True
            node.terminal_returns = tuple(problem.returns(state))
        else:
            node.player = problem.current_player(state)

    def _expand(self, node: Node) -> None:
        """Create the children of a reached node (on its second visit)."""
        node.expanded = True
        state = node.state
        if node.player == CHANCE:
            pairs = list(self.problem.chance_outcomes(state))
        elif node.player < 0:
            raise UnsupportedProblemError(
                f"current player {node.player} is neither a player nor chance "
                "(simultaneous-move states are not supported)"
            )
        elif self.config.widening is not None:
            return  # children arrive one by one in _widen
        elif self.policy is not None:
            pairs = list(self.policy.propose(state, len(self.problem.actions(state))))
        else:
            actions = self.problem.actions(state)
            prior = 1.0 / len(actions) if actions else 0.0
            pairs = [(a, prior) for a in actions]
        if self.config.shuffle and node.player != CHANCE:
            self.rng.shuffle(pairs)
        n = self._players
        node.children = [Node(a, p, n) for a, p in pairs]

    def _widen(self, node: Node) -> None:
        """Progressive widening: ask for new children when the visit bound grows."""
        widening = self.config.widening
        assert widening is not None
        bound = widening.bound(node.visits + node.in_flight)
        have = len(node.children)
        if have >= bound or node.exhausted:
            return
        if self.policy is not None:
            proposals = list(self.policy.propose(node.state, bound))
        else:
            proposals = [(a, 1.0) for a in self.problem.actions(node.state)]
            if self.config.shuffle:
                self.rng.shuffle(proposals)
        known = {c.action for c in node.children}
        added = 0
        for action, prior in proposals:
            if have + added >= bound:
                break
            if action not in known:
                known.add(action)
                node.children.append(Node(action, prior, self._players))
                added += 1
        if have + added < bound:
            node.exhausted = True  # nothing new on offer: stop asking

    def _chance_child(self, node: Node) -> Node:
        kids = node.children
        if self.config.chance == "stratified":
            total = node.visits + node.in_flight + 1
            return max(kids, key=lambda c: c.prior * total - c.visits - c.in_flight)
        r = self.rng.random()
        acc = 0.0
        for child in kids:
            acc += child.prior
            if r < acc:
                return child
        return kids[-1]

    def _select(self, root: Node) -> list[Node]:
        """Walk from the root to a leaf to evaluate; new children get their state on arrival."""
        rule = self._rule
        c = self.config.c
        widening = self.config.widening
        problem = self.problem
        node = root
        path = [root]
        while not node.terminal and node.visits + node.in_flight > 0:
            if not node.expanded:
                self._expand(node)
            if node.player == CHANCE:
                if not node.children:
                    break
                child = self._chance_child(node)
            else:
                if widening is not None:
                    self._widen(node)
                if not node.children:
                    break  # nothing proposed: evaluate this node again
                child = rule(node, c)
            if child.state is None:
                self._materialise(child, problem.step(node.state, child.action))
            path.append(child)
            node = child
        return path

    def _backup(self, path: list[Node], values: Values) -> None:
        rng = range(len(values))
        for node in path:
            node.visits += 1
            vs = node.value_sum
            for i in rng:
                vs[i] += values[i]

    def _result(self, root: Node, sims: int, seconds: float, stopped_by: str) -> SearchResult:
        if not root.children:
            raise NoActionsError("the search found no action to take (nothing was proposed)")
        best = final_child(root, self.config.final)
        return SearchResult(best.action, root, sims, seconds, stopped_by)


def final_child(root: Node, rule: str = "visits") -> Node:
    """The final-move rule: the most visited child ("visits", ties to the better mean) or
    the visited child with the best mean for the acting player ("value", ties to visits)."""
    player = root.player
    if rule == "value":
        visited = [c for c in root.children if c.visits] or root.children
        return max(visited, key=lambda c: (c.mean(player), c.visits))
    if rule == "visits":
        return max(root.children, key=lambda c: (c.visits, c.mean(player)))
    raise InvalidConfigError(f"unknown final-move rule {rule!r}; valid: visits, value")
