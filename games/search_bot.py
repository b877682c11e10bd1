"""Our MCTS as a `pyspiel.Bot`: plain search for perfect information, determinized
search (games/ismcts.py) otherwise; the tree is reused across moves when it can be."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import pyspiel

from games.adapter import SpielProblem, SpielRolloutEvaluator
from games.ismcts import DeterminizedSearch
from games.spiel import Bot
from search import MCTS, Budget, MCTSConfig, Node, subtree


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
        self._mcts = MCTS(problem, evaluator, config)
        self._determinized = DeterminizedSearch(problem, evaluator, config, worlds)
        self.reuse = reuse and self.perfect
        self._root: Node | None = None
        self._root_history: list[int] = []
        self.thinking = ""
        self.last_simulations = 0
        self.last_root: Node | None = None
        """The tree of the last move (perfect-information games), for export."""

    def restart_at(self, state: pyspiel.State) -> None:
        self._root = None

    def restart(self) -> None:
        self._root = None

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass  # the next step() finds its subtree from the state's history

    def step(self, state: pyspiel.State) -> int:
        started = time.perf_counter()  # the seconds budget covers the whole move
        self.last_root = None  # free the last tree now, inside this move's budget
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
        root = None
        if self.reuse and self._root is not None:
            n = len(self._root_history)
            if history[:n] == self._root_history:
                root = subtree(self._root, history[n:])
            self._root = None  # the rest of the old tree is freed here, not after the search
        result = self._mcts.search(state.clone(), root=root, started_at=started)
        self.last_root = result.root
        if self.reuse:
            self._root, self._root_history = result.root, history
        self.last_simulations = result.simulations
        reused = f", {root.visits - result.simulations} reused" if root is not None else ""
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
