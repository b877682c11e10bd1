"""mini-swe-agent next to our agents, on the same model, instances and step limit.

    python -m benchmarks.mini_swe.compare --label "oracle p=0.7" \\
        --mini /tmp/side/mini_p0.7 --ours /tmp/side/linear_p0.7 /tmp/side/mcts_p0.7

`--mini`: output directories of `python -m benchmarks.mini_swe.run` (mini_swe.json);
`--ours`: output directories of `agents solve --task swe-bench` (solve.jsonl,
report.json and the harness's results under eval/). Every row is graded by the same
harness; prints one markdown table (resolved with its 95% Wilson interval, non-empty
patches, patches that applied, model calls, actions, tokens and wall seconds per
instance) and writes it as JSON with `--json FILE`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.swe_search import rate_cell
from foundation.errors import UserError, one_line


def mini_row(out: Path, label: str) -> dict[str, Any]:
    try:
        s = json.loads((out / "mini_swe.json").read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{out} holds no mini-swe-agent run: {one_line(exc)}") from None
    return {
        "agent": "mini-swe-agent 2.4.6",
        "model": label or s["model"],
        "instances": s["instances"],
        "resolved": s["resolved"],
        "non_empty_patch": s["non_empty_patch"],
        "patch_applies": s["patch_applies"],
        "calls_per_instance": s["steps_per_instance"],  # mini's steps are model calls
        "actions_per_instance": s["steps_per_instance"],  # one command per call
        "tokens_per_instance": s["tokens_per_instance"],
        "wall_seconds_per_instance": s["wall_seconds_per_instance"],
    }


def ours_row(out: Path, label: str) -> dict[str, Any]:
    from benchmarks.werewolf import rate
    from foundation.jsonl import read_rows

    rows = {r["instance_id"]: r for r in read_rows(out / "solve.jsonl") if "instance_id" in r}
    if not rows:
        raise UserError(f"{out} holds no agents solve run (no solve.jsonl rows)")
    try:
        report = json.loads((out / "report.json").read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{out} is not graded yet (report.json: {one_line(exc)})") from None
    applied = {
        r["instance_id"]
        for results in (out / "eval").rglob("results.jsonl")
        for r in read_rows(results)
        if r.get("apply_cmd") and r.get("instance_id") in rows
    }
    n = len(rows)
    search = next(iter(rows.values())).get("search", "?")

    def mean(key: str) -> float:
        return round(sum(float(r.get(key) or 0) for r in rows.values()) / n, 2)

    return {
        "agent": "ours, linear (ReAct)" if search == "linear" else "ours, SWE-Search",
        "model": label or str(next(iter(rows.values())).get("model_name_or_path", "")),
        "instances": n,
        "resolved": rate(len(set(report.get("resolved_ids", [])) & set(rows)), n),
        "non_empty_patch": rate(
            sum(1 for r in rows.values() if str(r.get("model_patch") or "").strip()), n
        ),
        "patch_applies": rate(len(applied), n),
        "calls_per_instance": mean("llm_calls"),
        "actions_per_instance": mean("steps"),
        "tokens_per_instance": mean("tokens"),
        "wall_seconds_per_instance": mean("seconds"),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| agent | model | resolved (95% interval) | non-empty patch | patch applies "
        "| model calls / inst | actions / inst | tokens / inst | wall s / inst |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ne, ap = r["non_empty_patch"], r["patch_applies"]
        lines.append(
            f"| {r['agent']} | {r['model']} | {rate_cell(r['resolved'])} "
            f"| {ne['wins']}/{ne['games']} | {ap['wins']}/{ap['games']} "
            f"| {r['calls_per_instance']:.1f} | {r['actions_per_instance']:.1f} "
            f"| {r['tokens_per_instance']:.0f} | {r['wall_seconds_per_instance']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mini", nargs="*", type=Path, default=[], help="mini_swe.run outputs")
    ap.add_argument("--ours", nargs="*", type=Path, default=[], help="agents solve outputs")
    ap.add_argument("--label", default="", help="the model column (default: the run's spec)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    a = ap.parse_args(argv)
    if not a.mini and not a.ours:
        print("error: give --mini and/or --ours run directories", file=sys.stderr)
        return 2
    try:
        rows = [mini_row(d, a.label) for d in a.mini] + [ours_row(d, a.label) for d in a.ours]
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
