"""The search tree: one mutable `Node` per visited state (docs/methods.md section 1).

Nodes are plain slotted objects because the simulation loop touches them
millions of times; configuration and results are frozen dataclasses elsewhere.
Nodes link only downwards, so a dropped tree is freed at once without the cycle
collector. A child is created with its action and prior only; its state is computed the
first time a simulation reaches it, and its own children on the second visit
(evaluate on first visit, expand on second, as OpenSpiel's MCTS does).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any


class Node:
    """One state in the tree. `value_sum[p]` is the sum of player p's returns over visits."""

    __slots__ = (
        "action",
        "children",
        "exhausted",
        "expanded",
        "in_flight",
        "player",
        "prior",
        "state",
        "terminal",
        "terminal_returns",
        "value_sum",
        "visits",
    )

    def __init__(self, action: Any, prior: float, num_players: int) -> None:
        self.action = action
        self.prior = prior
        self.state: Any = None
        self.player = 0
        self.terminal = False
        self.terminal_returns: Sequence[float] | None = None
        self.visits = 0
        self.in_flight = 0
        self.value_sum = [0.0] * num_players
        self.children: list[Node] = []
        self.expanded = False
        self.exhausted = False  # progressive widening: the policy has nothing new to offer

    @property
    def is_materialised(self) -> bool:
        """True once a simulation has reached this node and computed its state."""
        return self.state is not None

    def mean(self, player: int) -> float:
        """Mean return of `player` over the completed visits (0 when unvisited)."""
        return self.value_sum[player] / self.visits if self.visits else 0.0

    def values(self) -> list[float]:
        """Mean value vector over the completed visits."""
        n = self.visits
        return [v / n if n else 0.0 for v in self.value_sum]

    def child(self, action: Hashable) -> Node | None:
        """The child reached by `action`, if the tree holds it."""
        for c in self.children:
            if c.action == action:
                return c
        return None

    def depth(self) -> int:
        """Number of edges from this node down to its deepest descendant."""
        return 1 + max((c.depth() for c in self.children), default=-1)

    def size(self) -> int:
        """Number of nodes in this subtree, counting only reached ones."""
        return 1 + sum(c.size() for c in self.children if c.visits or c.in_flight)

    def __repr__(self) -> str:
        return f"Node(action={self.action!r}, player={self.player}, visits={self.visits}, values={self.values()})"


def subtree(root: Node, actions: Sequence[Hashable]) -> Node | None:
    """The node reached from `root` by `actions` (a reusable subtree after moves), or None.

    Nodes hold no parent links (no reference cycles), so the rest of the old tree is
    freed by reference counting as soon as the caller drops its root.
    """
    node: Node | None = root
    for a in actions:
        if node is None:
            return None
        node = node.child(a)
    if node is None or not node.is_materialised:
        return None
    return node
