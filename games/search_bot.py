"""Our MCTS as a `pyspiel.Bot`: plain search for perfect information (the array-backed
`search.flat.FlatMCTS`), determinized search (games/ismcts.py) otherwise; the tree is
reused across moves when it can be."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import pyspiel

from games.adapter import SpielProblem, SpielRolloutEvaluator
from games.ismcts import DeterminizedSearch
from games.spiel import Bot
from search import Budget, MCTSConfig, Node
from search.flat import FlatMCTS, FlatResult, FlatTree

MAX_REUSED_NODES = 2_000_000
"""A reused tree keeps the branches not played (ids are never freed); past this many
nodes the next move starts a fresh tree instead."""


@dataclass(frozen=True)
class SearchBotConfig:
    """The options of an `mcts:` spec (spec keys = field names), e.g. `mcts:sims=800,c=1.4`."""

    sims: int | None = None
    """Simulations per move; 1000 when neither `sims` nor `seconds` is given."""
    seconds: float | None = None
    """Seconds per move (whichever budget ends first)."""
    c: float = 2.0
    rollouts: int = 1
    """Random rollouts per evaluation."""
    worlds: int = 8
    """Sampled worlds per move in imperfect-information games."""
    final: Literal["visits", "value"] = "visits"
    reuse: bool = True
    """Keep the subtree of the move played (perfect-information games)."""

    def __post_init__(self) -> None:
        self.mcts_config(0)  # a bad budget raises a ConfigError here

    def mcts_config(self, seed: int) -> MCTSConfig:
        sims = 1000 if self.sims is None and self.seconds is None else self.sims
        budget = Budget(simulations=sims, seconds=self.seconds)
        return MCTSConfig(budget=budget, c=self.c, final=self.final, seed=seed)


class SearchBot(Bot):
    """MCTS with C++ random rollouts; `thinking` summarises the last search in one line."""

    def __init__(
        self,
        game: pyspiel.Game,
        config: MCTSConfig,
        rollouts: int = 1,
        worlds: int = 8,
        reuse: bool = True,
    ) -> None:
        super().__init__()
        problem = SpielProblem(game)
        evaluator = SpielRolloutEvaluator(game, rollouts, config.seed)
        self.perfect = (
            game.get_type().information == pyspiel.GameType.Information.PERFECT_INFORMATION
        )
        self._mcts = FlatMCTS(problem, evaluator, config)
        self._determinized = DeterminizedSearch(problem, evaluator, config, worlds)
        self.reuse = reuse and self.perfect
        self._tree: FlatTree | None = None
        self._tree_root = 0
        self._root_history: list[int] = []
        self.thinking = ""
        self.last_simulations = 0
        self.last_result: FlatResult | None = None
        """The search of the last move (perfect-information games)."""

    @property
    def last_root(self) -> Node | None:
        """The tree of the last move as `Node` objects, for export (built when asked)."""
        return None if self.last_result is None else self.last_result.root_node()

    def restart_at(self, state: pyspiel.State) -> None:
        self._tree = None

    def restart(self) -> None:
        self._tree = None

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass  # the next step() finds its subtree from the state's history

    def step(self, state: pyspiel.State) -> int:
        started = time.perf_counter()  # the seconds budget covers the whole move
        self.last_result = None  # free the last tree now, inside this move's budget
        player = state.current_player()
        if not self.perfect:
            det = self._determinized.search(state, started_at=started)
            top = sorted(det.visits, key=lambda a: -det.visits[a])[:3]
            self.last_simulations = det.simulations
            self.thinking = (
                f"mcts over {det.worlds} sampled worlds, {det.simulations} sims in "
                f"{det.seconds:.3f}s; top: "
                + ", ".join(
                    f"{state.action_to_string(player, a)} ({det.visits[a]} visits, "
                    f"v={det.values[a]:+.2f})"
                    for a in top
                )
            )
            return det.action
        history = state.history()
        tree, root = None, None
        old, self._tree = self._tree, None  # an old tree not reused is freed here
        if self.reuse and old is not None and len(old) < MAX_REUSED_NODES:
            n = len(self._root_history)
            if history[:n] == self._root_history:
                root = old.descend(self._tree_root, history[n:])
                tree = old if root is not None else None
        old = None
        before = 0 if tree is None or root is None else tree.visits[root]
        result = self._mcts.search(state.clone(), tree=tree, root=root or 0, started_at=started)
        self.last_result = result
        if self.reuse:
            self._tree, self._tree_root, self._root_history = result.tree, result.root, history
        self.last_simulations = result.simulations
        reused = f", {before} reused" if tree is not None else ""
        self.thinking = (
            f"mcts {result.simulations} sims in {result.seconds:.3f}s{reused}; top: "
            + ", ".join(
                f"{state.action_to_string(player, s.action)} ({s.visits} visits, v={s.value:+.2f})"
                for s in result.top(3)
            )
        )
        return int(result.action)


def spiel_label(parent: Node | None, node: Node) -> str:
    """Tree-export label: the move's OpenSpiel name, from the parent's state and player."""
    if parent is None:
        return "root"
    return str(parent.state.action_to_string(parent.player, node.action))
