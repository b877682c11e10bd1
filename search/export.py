"""Tree export for people: JSON (nested dicts) and Graphviz DOT (ARCHITECTURE.md, traces)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from search.tree import Node

Label = Callable[["Node | None", Node], str]
"""Names a node from (its parent or None for the root, the node): e.g. a move's name."""


def _default_label(parent: Node | None, node: Node) -> str:
    return "root" if parent is None else str(node.action)


def tree_to_dict(
    root: Node, max_depth: int | None = None, min_visits: int = 1, label: Label = _default_label
) -> dict[str, Any]:
    """Nested dict of the visited tree: action, player, visits, mean values, prior, children.

    Children are listed most visited first; those under `min_visits` are left out.
    """

    def walk(node: Node, parent: Node | None, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": label(parent, node),
            "player": None if node.terminal else node.player,
            "visits": node.visits,
            "values": [round(v, 6) for v in node.values()],
            "prior": round(node.prior, 6),
            "terminal": node.terminal,
        }
        if max_depth is None or depth < max_depth:
            kids = sorted(
                (c for c in node.children if c.visits >= min_visits), key=lambda c: -c.visits
            )
            if kids:
                out["children"] = [walk(c, node, depth + 1) for c in kids]
        return out

    return walk(root, None, 0)


def tree_to_json(
    root: Node,
    max_depth: int | None = None,
    min_visits: int = 1,
    label: Label = _default_label,
    indent: int = 2,
) -> str:
    return json.dumps(tree_to_dict(root, max_depth, min_visits, label), indent=indent)


def tree_to_dot(
    root: Node, max_depth: int | None = 3, min_visits: int = 1, label: Label = _default_label
) -> str:
    """Graphviz DOT: one box per node with its action, visits N and the mover's mean value Q."""
    lines = ["digraph mcts {", '  node [shape=box, fontname="monospace"];']
    counter = 0

    def walk(node: Node, parent: Node | None, depth: int) -> str:
        nonlocal counter
        name = f"n{counter}"
        counter += 1
        mover = None if parent is None else parent.player
        q = f"\\nQ={node.mean(mover):.3f}" if mover is not None and mover >= 0 else ""
        text = f"{label(parent, node)}\\nN={node.visits}{q}".replace('"', '\\"')
        shape = ", style=filled, fillcolor=lightgrey" if node.terminal else ""
        lines.append(f'  {name} [label="{text}"{shape}];')
        if max_depth is None or depth < max_depth:
            for c in sorted(node.children, key=lambda c: -c.visits):
                if c.visits >= min_visits:
                    lines.append(f"  {name} -> {walk(c, node, depth + 1)};")
        return name

    walk(root, None, 0)
    lines.append("}")
    return "\n".join(lines) + "\n"
