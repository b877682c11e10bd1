"""A solve run as one self-contained HTML page (`agents report RUN_DIR`, and written at the
end of every `agents solve --task swe-bench` run): for each instance its model calls
(prompts and answers with token counts, folded when long), its steps (tool calls and
outputs), its search tree (click a node: its state and the calls that proposed it; the
chosen path highlighted), the final diff, the test results, usage and timings.

Built with Jinja2 (autoescaped: everything a model wrote is shown as text, never run),
with its CSS and script inline: the page works offline and from a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from foundation.errors import UserError
from foundation.jsonl import read_rows, write_atomic

REPORT = "report.html"
FOLD = 600  # characters: longer messages and outputs are folded


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _tree_nodes(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """The tree's nodes in pre-order, each with its parent's sid and depth. Trees of the
    search core (`search.export`: per-player `values`, no `sid`) get their pre-order index
    as sid and the value of the player who moved into the node."""
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any], parent: int | None, depth: int, mover: int) -> None:
        item = {k: v for k, v in node.items() if k != "children"}
        item.setdefault("sid", len(nodes))
        values = item.get("values")
        if "value" not in item and isinstance(values, list) and values:
            item["value"] = values[mover] if 0 <= mover < len(values) else values[0]
        nodes.append({**item, "parent": parent, "depth": depth})
        player = item.get("player")
        for child in node.get("children") or []:
            walk(child, item["sid"], depth + 1, player if isinstance(player, int) else 0)

    walk(tree, None, 0, -1)
    return nodes


def _chosen_path(nodes: list[dict[str, Any]], trajectory: dict[str, Any]) -> list[int]:
    """The sids from the root to the node whose patch the run kept (a finished candidate
    with the final patch), or [] when none is known."""
    patch = trajectory.get("patch")
    chosen = next(
        (c.get("sid") for c in trajectory.get("candidates") or [] if c.get("patch") == patch),
        None,
    )
    parents = {n.get("sid"): n.get("parent") for n in nodes}
    path: list[int] = []
    while chosen is not None and chosen in parents:
        path.append(chosen)
        chosen = parents[chosen]
    return path[::-1]


def _proposing_calls(node: dict[str, Any], calls: list[dict[str, Any]]) -> list[int]:
    """Indexes of the agent calls whose answer proposed `node`'s action: the answer holds
    its thought and its tool's name (the tree keeps the action, not the call)."""
    thought = str(node.get("thought") or "").strip()
    tool = str(node.get("action") or "").split("(", 1)[0]
    if not tool or tool == "root":
        return []
    found = []
    for i, call in enumerate(calls):
        if call.get("role") != "agent":
            continue
        for completion in call.get("completions") or []:
            text = str(completion.get("text") or "")
            if tool in text and (not thought or thought in text):
                found.append(i)
                break
    return found


def _tests(run_dir: Path, iid: str) -> dict[str, Any] | None:
    """The instance's graded report (tests_status per group), if the run graded it."""
    for path in sorted(run_dir.glob(f"eval/*/*/{iid}/report.json")):
        data = _json(path)
        if isinstance(data, dict) and isinstance(data.get(iid), dict):
            return dict(data[iid])
    return None


def _section(title: str, **parts: Any) -> dict[str, Any]:
    """One section of the page; parts a run kind does not have stay empty (not drawn)."""
    base: dict[str, Any] = {
        "id": title, "badge": None, "badge_class": "none", "meta": "", "nodes": [],
        "chosen": [], "patch": None, "tests": None, "steps": [], "calls": [],
        "calls_recorded": None, "table": None,
    }  # fmt: skip
    return {**base, **parts}


def _badge(ok: bool | None, yes: str, no: str, unknown: str) -> dict[str, Any]:
    if ok is None:
        return {"badge": unknown, "badge_class": "none"}
    return {"badge": yes if ok else no, "badge_class": "ok" if ok else "bad"}


def _swe_instance(run_dir: Path, row: dict[str, Any]) -> dict[str, Any]:
    iid = str(row["instance_id"])
    trajectory = _json(run_dir / "trajectories" / f"{iid}.json") or {}
    tree = _json(run_dir / "trees" / f"{iid}.json")
    calls = list(trajectory.get("calls") or [])
    nodes = _tree_nodes(tree) if isinstance(tree, dict) else []
    for node in nodes:
        node["calls"] = _proposing_calls(node, calls)
    tests = _tests(run_dir, iid)
    stats = trajectory.get("stats") or {}
    meta = (
        f"status {row.get('status', '')} · {row.get('steps', 0)} steps · "
        f"{row.get('seconds', 0)} s · {len(calls)} model calls"
        + (f" · {stats['tokens']} tokens" if "tokens" in stats else "")
    )
    return _section(
        iid,
        **_badge(
            None if tests is None else bool(tests.get("resolved")),
            "resolved",
            "unresolved",
            "not graded",
        ),
        meta=meta,
        tests=(tests or {}).get("tests_status"),
        patch=row.get("model_patch") or trajectory.get("patch") or "",
        steps=trajectory.get("steps") or [],
        calls=calls,
        calls_recorded="calls" in trajectory,
        nodes=nodes,
        chosen=_chosen_path(nodes, trajectory),
    )


def _swe_run(run_dir: Path) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for row in read_rows(run_dir / "solve.jsonl"):
        if "instance_id" in row:
            rows[str(row["instance_id"])] = row
    return {
        "kind": "agents solve --task swe-bench",
        "summary": _json(run_dir / "summary.json") or {},
        "usage": _json(run_dir / "usage.json") or {},
        "instances": [_swe_instance(run_dir, row) for row in rows.values()],
    }


def _planning_run(run_dir: Path) -> dict[str, Any]:
    """`agents solve --task game24|blocksworld|tictactoe` / `bench planning`: an episode
    per instance, its steps (state, plan, action, what happened) and outcome."""
    sections = []
    for row in read_rows(run_dir / "trajectories.jsonl"):
        if "id" not in row:
            continue
        meta = (
            f"ended by {row.get('ended_by', '')} · {row.get('steps', 0)} steps · "
            f"{row.get('calls', 0)} model calls · {row.get('tokens', 0)} tokens · "
            f"{row.get('seconds', 0)} s"
        )
        sections.append(
            _section(
                str(row["id"]),
                **_badge(bool(row.get("success")), "solved", "failed", ""),
                meta=meta,
                steps=[*(row.get("trajectory") or []), {"outcome": row.get("outcome")}],
            )
        )
    summary = _json(run_dir / "summary.json") or {}
    return {"kind": f"agents solve --task {summary.get('task', '')}", "summary": summary,
            "usage": {}, "instances": sections}  # fmt: skip


def _tree_sections(trees: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [
        _section(title, nodes=_tree_nodes(tree), meta="search tree (click a node)")
        for title, tree in trees
        if isinstance(tree, dict)
    ]


def _story_run(run_dir: Path) -> dict[str, Any]:
    """`agents solve --task story`: the plot steps with their scores, then each step's
    search tree."""
    story = _json(run_dir / "story.json") or {}
    trees = _json(run_dir / "tree.json")
    steps = [
        {k: step.get(k) for k in ("text", "value", "surprisal", "incoherence")}
        for step in story.get("steps") or []
    ]
    head = _section(
        str(story.get("premise", "story")),
        meta=f"story value {story.get('value')} · {story.get('llm_calls')} model calls",
        steps=steps,
    )
    tree_list = trees if isinstance(trees, list) else []
    sections = _tree_sections([(f"plot step {i + 1}", t) for i, t in enumerate(tree_list)])
    return {"kind": "agents solve --task story", "summary": {}, "usage": {},
            "instances": [head, *sections]}  # fmt: skip


def _trees_run(run_dir: Path) -> dict[str, Any]:
    """`agents play --trees DIR`: each searched move's tree."""
    files = sorted(run_dir.glob("move*.json"))
    sections = _tree_sections([(f.stem, _json(f)) for f in files])
    return {"kind": "agents play --trees", "summary": {}, "usage": {}, "instances": sections}


GROUPS = (("bot",), ("pairing",), ("wolves", "village"))
"""How a bench game log groups its games: hanabi by bot, mcts by pairing, werewolf by the
two sides' agents."""


def _games_run(log: Path) -> dict[str, Any]:
    """A game log of `agents bench hanabi|werewolf|mcts`: per bot (or pairing), a table of
    its games and a line of what they add up to."""
    rows = [r for r in read_rows(log) if isinstance(r, dict)]
    keys = next((k for k in GROUPS if rows and all(x in rows[0] for x in k)), None)
    if keys is None:
        raise UserError(f"{log}: not a game log of agents bench hanabi, werewolf or mcts")
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(" vs ".join(str(row.get(k)) for k in keys), []).append(row)
    columns = [c for c in rows[0] if c not in ("code", "key", *keys)]
    sections = []
    for name, games in groups.items():
        meta = [f"{len(games)} games"]
        for column, what in (("score", "mean score"), ("ours_return", "our mean return")):
            values = [g[column] for g in games if isinstance(g.get(column), (int, float))]
            if values:
                meta.append(f"{what} {sum(values) / len(values):.3f}")
        if any("winner" in g for g in games):
            wins: dict[str, int] = {}
            for g in games:
                wins[str(g.get("winner"))] = wins.get(str(g.get("winner")), 0) + 1
            meta.append("won by " + ", ".join(f"{w} {n}" for w, n in sorted(wins.items())))
        table = {
            "columns": columns,
            "rows": [[_cell(g.get(c)) for c in columns] for g in games],
        }
        sections.append(_section(name, meta=" · ".join(meta), table=table))
    return {"kind": f"agents bench game log ({log.name})", "summary": {}, "usage": {},
            "instances": sections}  # fmt: skip


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def run_data(run_dir: Path) -> dict[str, Any]:
    """What the page shows, read from a run directory (a solve of swe-bench, a planning
    task or a story, or the trees of `agents play --trees`) or a bench game log (.jsonl);
    anything else is a `UserError`."""
    if run_dir.is_file() and run_dir.suffix == ".jsonl":
        return {**_games_run(run_dir), "run_dir": str(run_dir), "fold": FOLD}
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such directory (or bench game log)")
    if (run_dir / "solve.jsonl").is_file():
        data = _swe_run(run_dir)
    elif (run_dir / "trajectories.jsonl").is_file():
        data = _planning_run(run_dir)
    elif (run_dir / "story.json").is_file():
        data = _story_run(run_dir)
    elif any(run_dir.glob("move*.json")):
        data = _trees_run(run_dir)
    else:
        raise UserError(
            f"{run_dir} is not a run directory: no solve.jsonl (agents solve --task "
            "swe-bench), trajectories.jsonl (planning tasks), story.json (--task story) or "
            "move*.json (agents play --trees) in it"
        )
    return {**data, "run_dir": str(run_dir), "fold": FOLD}


def render(data: dict[str, Any]) -> str:
    """The page's HTML."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("benchmarks.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pretty"] = lambda value: json.dumps(value, indent=1, default=str)
    return env.get_template("run.html.j2").render(**data)


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Render `run_dir`'s page to `out` (default RUN_DIR/report.html, or LOG.html beside a
    game log); its path."""
    path = out or (run_dir.with_suffix(".html") if run_dir.is_file() else run_dir / REPORT)
    write_atomic(path, render(run_data(run_dir)))
    return path
