"""Preference pairs mined from a search tree (COS(M+O)S, ALGORITHMS.md section 6): at a node
whose children were tried, the best child by mean value is "chosen", the worst "rejected"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from search.tree import Node


@dataclass(frozen=True)
class SiblingPair:
    parent_state: Any
    chosen: Any
    """The action (e.g. a plot expansion) with the higher mean value."""
    rejected: Any
    chosen_value: float
    rejected_value: float


def sibling_pairs(
    root: Node, player: int = 0, min_visits: int = 1, min_gap: float = 0.0, every: bool = False
) -> Iterator[SiblingPair]:
    """Best-vs-worst pairs among visited siblings (`every`: all better-vs-worse sibling
    pairs), over the whole tree, parents first. Pairs whose value gap is below `min_gap`
    are skipped (too close to call)."""
    stack = [root]
    while stack:
        node = stack.pop()
        kids = [c for c in node.children if c.visits >= min_visits]
        if len(kids) >= 2:
            ranked = sorted(kids, key=lambda c: c.mean(player), reverse=True)
            if every:
                pairs = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
            else:
                pairs = [(ranked[0], ranked[-1])]
            for best, worst in pairs:
                gap = best.mean(player) - worst.mean(player)
                if gap > 0 and gap >= min_gap:
                    yield SiblingPair(
                        node.state, best.action, worst.action, best.mean(player), worst.mean(player)
                    )
        stack.extend(reversed(kids))
