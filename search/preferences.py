"""Preference pairs mined from a search tree (COS(M+O)S, docs/methods.md section 6): at a node
whose children were tried, the best child by mean value is "chosen", the worst "rejected"."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from search.tree import Node

T = TypeVar("T")


@dataclass(frozen=True)
class SiblingPair:
    parent_state: Any
    chosen: Any
    """The action (e.g. a plot expansion) with the higher mean value."""
    rejected: Any
    chosen_value: float
    rejected_value: float


def ranked_siblings(
    root: T,
    children: Callable[[T], Sequence[T]],
    value: Callable[[T], float],
    *,
    every: bool = False,
    min_gap: float = 0.0,
) -> Iterator[tuple[list[T], T, T]]:
    """The one preference-pair miner, over any tree shape (live `Node`s, exported dicts):
    at each node, its `children` ranked by `value`, the best vs the worst (`every`: every
    better vs every worse); yields (path from the root to the node, better, worse), parents
    first. Pairs whose value gap is not above 0 and at least `min_gap` are skipped (too
    close to call)."""
    stack: list[list[T]] = [[root]]
    while stack:
        path = stack.pop()
        kids = list(children(path[-1]))
        if len(kids) >= 2:
            ranked = sorted(kids, key=value, reverse=True)
            if every:
                pairs = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
            else:
                pairs = [(ranked[0], ranked[-1])]
            for better, worse in pairs:
                gap = value(better) - value(worse)
                if gap > 0 and gap >= min_gap:
                    yield path, better, worse
        stack.extend([*path, k] for k in reversed(kids))


def sibling_pairs(
    root: Node, player: int = 0, min_visits: int = 1, min_gap: float = 0.0, every: bool = False
) -> Iterator[SiblingPair]:
    """Best-vs-worst pairs among visited siblings of a search tree (`ranked_siblings` with
    each node's mean value for `player`)."""
    for path, best, worst in ranked_siblings(
        root,
        lambda n: [c for c in n.children if c.visits >= min_visits],
        lambda n: n.mean(player),
        every=every,
        min_gap=min_gap,
    ):
        yield SiblingPair(
            path[-1].state, best.action, worst.action, best.mean(player), worst.mean(player)
        )
