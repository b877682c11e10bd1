"""Magnetic mirror descent (MMD) over a whole two-player zero-sum OpenSpiel game:
every information state takes the `search.mirror_descent.mmd_update` step on its
action values each iteration (Sokota et al., ICLR 2023; docs/methods.md section 2, point 5).
Behavioural form with q-values (the acting player's expected return after each action,
histories weighted by chance's and the opponent's reach, normalised), uniform magnet,
alpha annealed as alpha / (1 + alpha_decay * t).

Players update alternately, player 1 against player 0's new policy. With simultaneous
updates the last iterate on leduc_poker moves away from the equilibrium once alpha has
annealed below a few times eta (old defaults eta 0.2, alpha 0.5, alpha_decay 0.01:
exploitability 0.28 at 50 iterations, 0.92 at 500): the magnet no longer damps the
rotation of simultaneous mirror descent. Simultaneous runs with alpha_t and eta_t both
~ 1/sqrt(t) stayed stable only while alpha_t >= ~3 eta_t. Alternating the players keeps
the same fixed step stable (0.031 at 500 with the old defaults; 0.016 with these).

The tree is expanded once into flat lists, so an update is two passes in Python
(four per iteration when alternating). `exploitability(game, policy)` is OpenSpiel's.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyspiel
from open_spiel.python import policy as os_policy

from games.errors import UnsupportedGameError
from search.errors import InvalidConfigError
from search.mirror_descent import mmd_update


@dataclass(frozen=True)
class MMDConfig:
    eta: float = 0.2
    """Step size of the mirror-descent update."""
    alpha: float = 0.5
    """Magnet (entropy) strength: the fixed point is the alpha-regularised equilibrium."""
    alpha_decay: float = 0.02
    """alpha_t = alpha / (1 + alpha_decay * t): anneals towards the Nash equilibrium."""
    values: str = "q"
    """"q": action values normalised by the reach of the information state (the
    behavioural form); "counterfactual": weighted by the opponent's and chance's reach,
    which shrinks the step where the state is rarely reached."""
    alpha_min: float = 0.0
    """Floor of alpha_t: the last iterate then settles at that alpha's regularised
    equilibrium instead of annealing further (where a fixed eta eventually destabilises)."""
    alternate: bool = True
    """Player 0 updates first, then player 1 against player 0's new policy (as CFR+ does).
    Simultaneous updates (False) make the last iterate diverge on leduc_poker once alpha
    has annealed (see the module docstring and the simultaneous curve in
    benchmarks/results/mmd_leduc_poker.md)."""

    def __post_init__(self) -> None:
        if not (self.eta > 0 and self.alpha >= 0 and self.alpha_decay >= 0 and self.alpha_min >= 0):
            raise InvalidConfigError(
                f"MMD needs eta > 0 and alpha, alpha_decay, alpha_min >= 0; got eta={self.eta}, "
                f"alpha={self.alpha}, alpha_decay={self.alpha_decay}, alpha_min={self.alpha_min}"
            )
        if self.values not in ("q", "counterfactual"):
            raise InvalidConfigError(
                f"MMD values must be 'q' or 'counterfactual', not {self.values!r}"
            )


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
        """One MMD iteration: with `alternate`, player 0's information states update on
        values under the current policies, then player 1's on values under player 0's new
        policy; else both on the same values (simultaneous)."""
        c = self.config
        alpha = max(c.alpha_min, c.alpha / (1.0 + c.alpha_decay * self.iteration))
        eta = c.eta
        if self.config.alternate:
            for player in (0, 1):
                self._update(player, eta, alpha, accumulate=player == 0)
        else:
            self._update(None, eta, alpha, accumulate=True)
        self.iteration += 1

    def _update(self, player: int | None, eta: float, alpha: float, accumulate: bool) -> None:
        """Evaluate the current policies and take the `mmd_update` step at every
        information state of `player` (of both players when None)."""
        t, pi = self.tree, self.pi
        n = len(t.kind)
        reach = [(0.0, 0.0)] * n  # per player i: product of the others' (and chance) probs
        reach[0] = (1.0, 1.0)
        own = [(1.0, 1.0)] * n  # per player: product of its own probs (average policy)
        for node in t.order:
            kind = t.kind[node]
            r0, r1 = reach[node]
            if kind == "chance":
                for child, p in zip(t.children[node], t.probs[node], strict=False):
                    reach[child] = (r0 * p, r1 * p)
                    own[child] = own[node]
            elif kind == "decision":
                who = t.player[node]
                probs = pi[t.info[node]]
                o0, o1 = own[node]
                if accumulate:
                    mine = o1 if who == 1 else o0
                    avg = self.avg[t.info[node]]
                    for k, p in enumerate(probs):
                        avg[k] += mine * p
                for child, p in zip(t.children[node], probs, strict=False):
                    reach[child] = (r0 * p, r1) if who == 1 else (r0, r1 * p)
                    own[child] = (o0, o1 * p) if who == 1 else (o0 * p, o1)
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
                who = t.player[node]
                sign = 1.0 if who == 0 else -1.0
                w = reach[node][who]  # chance x opponent reach: the counterfactual weight
                acc = 0.0
                row = num[info]
                for k, (child, p) in enumerate(zip(t.children[node], pi[info], strict=False)):
                    v = value[child]
                    acc += p * v
                    row[k] += w * sign * v
                den[info] += w
                value[node] = acc
        for info, row in enumerate(num):
            if den[info] <= 0 or (player is not None and t.info_player[info] != player):
                continue
            scale = den[info] if self.config.values == "q" else 1.0
            q = {k: v / scale for k, v in enumerate(row)}
            prior = dict(enumerate(pi[info]))
            new = mmd_update(prior, q, eta, alpha)
            pi[info] = [new[k] for k in range(len(row))]

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
