"""Magnetic mirror descent (MMD) over a whole two-player zero-sum OpenSpiel game:
every information state takes the `search.mirror_descent.mmd_update` step on its
reach-weighted action values, all at once, each iteration (Sokota et al. 2022/2024;
ALGORITHMS.md section 2, point 5). Behavioural form with q-values, uniform magnet.

The tree is expanded once into flat lists, so an iteration is two passes in Python.
`exploitability(game, policy)` is OpenSpiel's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyspiel
from open_spiel.python import policy as os_policy

from games.errors import UnsupportedGameError
from search.mirror_descent import mmd_update


@dataclass(frozen=True)
class MMDConfig:
    eta: float = 0.2
    """Step size of the mirror-descent update."""
    alpha: float = 0.5
    """Magnet (entropy) strength: the fixed point is the alpha-regularised equilibrium."""
    alpha_decay: float = 0.01
    """alpha_t = alpha / (1 + alpha_decay * t): anneals towards the Nash equilibrium."""
    values: str = "q"
    """"q": action values normalised by the reach of the information state (the
    behavioural form); "counterfactual": weighted by the opponent's and chance's reach,
    which shrinks the step where the state is rarely reached."""


class _Tree:
    """A game tree in flat lists: node kind, player, infostate id, children, chance probs."""

    def __init__(self, game: pyspiel.Game) -> None:
        gt = game.get_type()
        if game.num_players() != 2 or gt.utility != pyspiel.GameType.Utility.ZERO_SUM:
            raise UnsupportedGameError(
                f"MMD here needs a 2-player zero-sum game, not {gt.short_name}"
            )
        self.kind: list[str] = []
        self.player: list[int] = []
        self.info: list[int] = []
        self.children: list[list[int]] = []
        self.probs: list[list[float]] = []
        self.value: list[float] = []  # player 0's return at terminals
        self.infostates: list[str] = []
        self.info_actions: list[list[int]] = []
        self.info_player: list[int] = []
        index: dict[str, int] = {}
        stack = [(game.new_initial_state(), -1, -1)]
        order: list[tuple[pyspiel.State, int, int]] = []
        while stack:
            state, parent, slot = stack.pop()
            node = len(self.kind)
            order.append((state, parent, slot))
            self.children.append([])
            self.probs.append([])
            self.info.append(-1)
            self.value.append(0.0)
            self.player.append(-1)
            if parent >= 0:
                self.children[parent][slot] = node
            if state.is_terminal():
                self.kind.append("terminal")
                self.value[node] = state.returns()[0]
                continue
            if state.is_chance_node():
                self.kind.append("chance")
                outcomes = state.chance_outcomes()
                self.children[node] = [-1] * len(outcomes)
                self.probs[node] = [p for _, p in outcomes]
                for k, (a, _) in enumerate(outcomes):
                    stack.append((state.child(a), node, k))
                continue
            self.kind.append("decision")
            p = state.current_player()
            self.player[node] = p
            key = state.information_state_string(p)
            if key not in index:
                index[key] = len(self.infostates)
                self.infostates.append(key)
                self.info_actions.append(state.legal_actions())
                self.info_player.append(p)
            self.info[node] = index[key]
            actions = state.legal_actions()
            self.children[node] = [-1] * len(actions)
            for k, a in enumerate(actions):
                stack.append((state.child(a), node, k))
        self.order = list(range(len(self.kind)))  # parents precede children (DFS preorder)


class MMDSolver:
    """Runs MMD iterations; `policy()` gives the current (last-iterate) policy."""

    def __init__(self, game: pyspiel.Game, config: MMDConfig | None = None) -> None:
        self.game = game
        self.config = config or MMDConfig()
        self.tree = _Tree(game)
        self.pi: list[list[float]] = [
            [1.0 / len(acts)] * len(acts) for acts in self.tree.info_actions
        ]
        self.avg: list[list[float]] = [[0.0] * len(acts) for acts in self.tree.info_actions]
        self.iteration = 0

    def step(self) -> None:
        t, pi = self.tree, self.pi
        n = len(t.kind)
        reach_opp = [0.0] * n  # chance x opponent reach, from the acting player's side
        reach = [[0.0, 0.0] for _ in range(n)]  # per player: product of the others' probs
        reach[0] = [1.0, 1.0]
        own = [(1.0, 1.0)] * n  # per player: product of its own probs (average policy)
        for node in t.order:
            kind = t.kind[node]
            r0, r1 = reach[node]
            o0, o1 = own[node]
            if kind == "chance":
                for child, p in zip(t.children[node], t.probs[node], strict=False):
                    reach[child] = [r0 * p, r1 * p]
                    own[child] = (o0, o1)
            elif kind == "decision":
                who = t.player[node]
                probs = pi[t.info[node]]
                mine = o1 if who == 1 else o0
                avg = self.avg[t.info[node]]
                for k, p in enumerate(probs):
                    avg[k] += mine * p
                for child, p in zip(t.children[node], probs, strict=False):
                    # reach[.][i] excludes player i's own probabilities.
                    reach[child] = [r0 * p, r1] if who == 1 else [r0, r1 * p]
                    own[child] = (o0, o1 * p) if who == 1 else (o0 * p, o1)
            reach_opp[node] = reach[node][t.player[node]] if kind == "decision" else 0.0
        value = [0.0] * n  # player 0's expected return under pi
        num = [[0.0] * len(a) for a in t.info_actions]
        den = [0.0] * len(t.info_actions)
        for node in reversed(t.order):
            kind = t.kind[node]
            if kind == "terminal":
                value[node] = t.value[node]
            elif kind == "chance":
                value[node] = sum(
                    value[c] * p for c, p in zip(t.children[node], t.probs[node], strict=False)
                )
            else:
                info = t.info[node]
                sign = 1.0 if t.player[node] == 0 else -1.0
                w = reach_opp[node]
                acc = 0.0
                row = num[info]
                for k, (child, p) in enumerate(zip(t.children[node], pi[info], strict=False)):
                    v = value[child]
                    acc += p * v
                    row[k] += w * sign * v
                den[info] += w
                value[node] = acc
        alpha = self.config.alpha / (1.0 + self.config.alpha_decay * self.iteration)
        for info, row in enumerate(num):
            if den[info] <= 0:
                continue
            scale = den[info] if self.config.values == "q" else 1.0
            q = {k: v / scale for k, v in enumerate(row)}
            prior = dict(enumerate(pi[info]))
            new = mmd_update(prior, q, self.config.eta, alpha)
            pi[info] = [new[k] for k in range(len(row))]
        self.iteration += 1

    def policy(self) -> os_policy.TabularPolicy:
        """The last iterate: what MMD plays now."""
        return self._tabular(self.pi)

    def average_policy(self) -> os_policy.TabularPolicy:
        """The own-reach-weighted average of the iterates (as CFR averages)."""
        rows = []
        for acc in self.avg:
            total = sum(acc)
            rows.append([a / total for a in acc] if total > 0 else [1.0 / len(acc)] * len(acc))
        return self._tabular(rows)

    def _tabular(self, rows: list[list[float]]) -> os_policy.TabularPolicy:
        tab = os_policy.TabularPolicy(self.game)
        for info, key in enumerate(self.tree.infostates):
            row = tab.policy_for_key(key)
            row[:] = 0.0
            for a, p in zip(self.tree.info_actions[info], rows[info], strict=False):
                row[a] = p
        return tab


def exploitability(game: pyspiel.Game, policy: os_policy.Policy) -> float:
    """OpenSpiel's exploitability (mean of the two best-response gains)."""
    from open_spiel.python.algorithms import exploitability as os_exploitability

    return float(os_exploitability.exploitability(game, policy))
