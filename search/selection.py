"""Child selection rules for decision nodes (docs/methods.md section 1), pluggable into MCTS.

A rule maps (node, exploration constant) to the chosen child. The acting player
`node.player` picks by its own component of the children's value vectors.
In-flight evaluations count as visits (WU-UCT: Liu et al., 2020) so parallel
workers spread out; with no evaluation in flight both rules are the textbook ones.
"""

from __future__ import annotations

import math
from typing import Protocol

from search.tree import Node


class SelectionRule(Protocol):
    def __call__(self, node: Node, c: float) -> Node: ...


def uct(node: Node, c: float) -> Node:
    """UCT: argmax Q + c*sqrt(ln N / n); an unvisited child first, ties to the earliest."""
    player = node.player
    parent_n = node.visits + node.in_flight
    k = c * math.sqrt(math.log(parent_n)) if parent_n > 1 else 0.0
    sqrt = math.sqrt
    best = node.children[0]
    best_score = -math.inf
    if node.in_flight == 0:  # sequential search: no child has an evaluation in flight
        for child in node.children:
            n = child.visits
            if n == 0:
                return child
            score = child.value_sum[player] / n + k / sqrt(n)
            if score > best_score:
                best, best_score = child, score
        return best
    for child in node.children:
        n = child.visits
        o = child.in_flight
        if n == 0:
            if o == 0:
                return child
            score = k / sqrt(o)
        else:
            score = child.value_sum[player] / n + k / sqrt(n + o)
        if score > best_score:
            best, best_score = child, score
    return best


def puct(node: Node, c: float) -> Node:
    """PUCT (AlphaZero): argmax Q + c*P*sqrt(N)/(1+n); unvisited children have Q = 0."""
    player = node.player
    sqrt_n = math.sqrt(node.visits + node.in_flight)
    best = node.children[0]
    best_score = -math.inf
    for child in node.children:
        n = child.visits
        q = child.value_sum[player] / n if n else 0.0
        score = q + c * child.prior * sqrt_n / (1 + n + child.in_flight)
        if score > best_score:
            best, best_score = child, score
    return best


RULES: dict[str, SelectionRule] = {"uct": uct, "puct": puct}
