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
    """The tree's nodes in pre-order, each with its parent's sid and depth."""
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any], parent: int | None, depth: int) -> None:
        nodes.append(
            {
                **{k: v for k, v in node.items() if k != "children"},
                "parent": parent,
                "depth": depth,
            }
        )
        for child in node.get("children") or []:
            walk(child, node.get("sid"), depth + 1)

    walk(tree, None, 0)
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


def _instance(run_dir: Path, row: dict[str, Any]) -> dict[str, Any]:
    iid = str(row["instance_id"])
    trajectory = _json(run_dir / "trajectories" / f"{iid}.json") or {}
    tree = _json(run_dir / "trees" / f"{iid}.json")
    calls = list(trajectory.get("calls") or [])
    nodes = _tree_nodes(tree) if isinstance(tree, dict) else []
    for node in nodes:
        node["calls"] = _proposing_calls(node, calls)
    tests = _tests(run_dir, iid)
    return {
        "id": iid,
        "row": row,
        "status": row.get("status", ""),
        "resolved": None if tests is None else bool(tests.get("resolved")),
        "tests": (tests or {}).get("tests_status"),
        "patch": row.get("model_patch") or trajectory.get("patch") or "",
        "steps": trajectory.get("steps") or [],
        "calls": calls,
        "calls_recorded": "calls" in trajectory,
        "nodes": nodes,
        "chosen": _chosen_path(nodes, trajectory),
        "stats": trajectory.get("stats") or {},
    }


def run_data(run_dir: Path) -> dict[str, Any]:
    """What the page shows, read from a solve run directory; a directory that is not one
    is a `UserError`."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such directory")
    log = run_dir / "solve.jsonl"
    if not log.is_file():
        raise UserError(
            f"{run_dir} is not a run of agents solve --task swe-bench (no solve.jsonl in it)"
        )
    rows: dict[str, dict[str, Any]] = {}
    for row in read_rows(log):
        if "instance_id" in row:
            rows[str(row["instance_id"])] = row
    return {
        "run_dir": str(run_dir),
        "summary": _json(run_dir / "summary.json") or {},
        "usage": _json(run_dir / "usage.json") or {},
        "instances": [_instance(run_dir, row) for row in rows.values()],
        "fold": FOLD,
    }


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
    """Render `run_dir`'s page to `out` (default RUN_DIR/report.html); its path."""
    path = out or run_dir / REPORT
    write_atomic(path, render(run_data(run_dir)))
    return path
