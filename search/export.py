"""Tree export for people: JSON (nested dicts), Graphviz DOT and an HTML page (the trees
that `agents play --trees` saves and the run reports draw). What a node is called and what
it shows come from the caller's callbacks, so the core knows nothing of games, repositories
or stories."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

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


Tree = TypeVar("Tree", Node, Mapping[str, Any])
"""What the HTML view draws: a live tree (its root `Node`) or an exported one (nested
dicts with a "children" list: `tree_to_dict`'s, or a caller's own JSON tree)."""

HtmlText = Callable[["Tree | None", Tree], str]
"""A node's text from (its parent or None for the root, the node)."""

HtmlDetails = Callable[["Tree | None", Tree], Sequence[str]]
"""Blocks of preformatted text shown under a node (a judge's verdict, a tool's output)."""

_STYLE = (
    "body{font-family:monospace;max-width:80em} small{color:#555} li{margin:.2em 0} "
    "pre{background:#f4f4f4;margin:2px 0;max-height:12em;overflow:auto;white-space:pre-wrap}"
)


def tree_to_html(
    root: Tree,
    label: HtmlText[Tree] | None = None,
    details: HtmlDetails[Tree] | None = None,
    *,
    note: HtmlText[Tree] | None = None,
    title: str = "search tree",
    max_depth: int | None = None,
    min_visits: int = 1,
) -> str:
    """A self-contained HTML page: the tree as nested collapsible lists.

    Each node shows `label` in bold, `note` beside it and the `details` blocks under it;
    all text is escaped here. Defaults: a `Node`'s action ("root" at the top), its visits N
    and the mean value Q of the player who moved into it; a dict's "action", "visits" and
    "values". A `Node`'s children are its visited ones (`min_visits`), most visited first,
    as in `tree_to_dict`; a dict's are its "children" list as it is.
    """
    return trees_to_html(
        [("", root)], label, details, note=note, title=title, max_depth=max_depth,
        min_visits=min_visits,
    )  # fmt: skip


def trees_to_html(
    trees: Sequence[tuple[str, Tree]],
    label: HtmlText[Tree] | None = None,
    details: HtmlDetails[Tree] | None = None,
    *,
    note: HtmlText[Tree] | None = None,
    title: str = "search trees",
    max_depth: int | None = None,
    min_visits: int = 1,
) -> str:
    """`tree_to_html` of several trees on one page, each under its heading (e.g. one search
    per committed move); an empty heading shows none."""
    name: HtmlText[Tree] = label or _html_label
    beside: HtmlText[Tree] = note or _html_note
    blocks: HtmlDetails[Tree] = details or _no_details

    def item(node: Tree, parent: Tree | None, depth: int) -> str:
        head = f"<b>{_esc(name(parent, node))}</b>"
        extra = beside(parent, node)
        if extra:
            head += f" <small>{_esc(extra)}</small>"
        body = "".join(f"<pre>{_esc(b)}</pre>" for b in blocks(parent, node))
        kids = _html_children(node, min_visits) if max_depth is None or depth < max_depth else []
        if kids:
            body += "<ul>" + "".join(item(c, node, depth + 1) for c in kids) + "</ul>"
        return f"<li><details open><summary>{head}</summary>{body}</details></li>"

    parts = [
        f"<!doctype html><meta charset=utf-8><title>{_esc(title)}</title>",
        f"<style>{_STYLE}</style><h1>{_esc(title)}</h1>",
    ]
    for heading, root in trees:
        if heading:
            parts.append(f"<h3>{_esc(heading)}</h3>")
        parts.append(f"<ul>{item(root, None, 0)}</ul>")
    return "".join(parts) + "\n"


def _esc(text: str) -> str:
    return html.escape(text, quote=False)  # element text only: no attribute values


def _html_children(node: Tree, min_visits: int) -> list[Tree]:
    if isinstance(node, Node):
        kids = [c for c in node.children if c.visits >= min_visits]
        return sorted(kids, key=lambda c: -c.visits)
    return list(node.get("children", []))


def _html_label(parent: Node | Mapping[str, Any] | None, node: Node | Mapping[str, Any]) -> str:
    if isinstance(node, Node):
        return _default_label(parent if isinstance(parent, Node) else None, node)
    return str(node.get("action", ""))


def _html_note(parent: Node | Mapping[str, Any] | None, node: Node | Mapping[str, Any]) -> str:
    if isinstance(node, Node):
        mover = parent.player if isinstance(parent, Node) else None
        q = f" Q={node.mean(mover):+.3f}" if mover is not None and mover >= 0 else ""
        return f"N={node.visits}{q}"
    visits, values = node.get("visits"), node.get("values")
    out = "" if visits is None else f"N={visits}"
    if values:
        out += " V=" + ",".join(f"{v:+.3f}" for v in values)
    return out.strip()


def _no_details(parent: object, node: object) -> Sequence[str]:
    return ()
