"""Linear ReAct vs SWE-Search on the same instances, model and budget (ALGORITHMS.md section 3).

    python -m benchmarks.swe_search --model local:smollm2 --limit 3
    agents bench swe-search --model openai:gpt-4o-mini --limit 14 --max-cost 2

Each arm is an ordinary resumable `agents solve` run (its own output directory under
OUT/), so an interrupted benchmark reruns only what is missing. The table (resolve rate,
cost, wall time, LLM calls and the share of time in the model vs the sandbox) goes to
stdout and OUT/swe_search.md, the numbers to OUT/swe_search.json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.tasks import SolveOptions

ARMS = ("linear", "mcts")


def run_arm(options: SolveOptions, llm: Any = None) -> dict[str, Any]:
    from benchmarks.swe_bench.solve import run_swe_bench

    summary = run_swe_bench(options, llm=llm() if callable(llm) else llm)
    out = Path(summary["output"])
    rows = [json.loads(line) for line in (out / "solve.jsonl").read_text().splitlines() if line]
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    n = max(1, len(rows))
    model_s = sum(r.get("model_seconds", 0.0) for r in rows)
    sandbox_s = sum(r.get("sandbox_seconds", 0.0) for r in rows)
    wall = sum(r.get("seconds", 0.0) for r in rows)
    return {
        "search": options.search,
        "instances": len(rows),
        "resolved": report.get("resolved_instances", 0),
        "resolve_rate": report.get("resolved_instances", 0) / n,
        "cost": summary["usage"]["cost"],
        "wall_s_per_instance": wall / n,
        "llm_calls_per_instance": sum(r.get("llm_calls", 0) for r in rows) / n,
        "model_share": model_s / wall if wall else 0.0,
        "sandbox_share": sandbox_s / wall if wall else 0.0,
        "statuses": sorted({r["status"] for r in rows}),
    }


def compare(options: SolveOptions, out: Path, llm: Any = None) -> list[dict[str, Any]]:
    """Both arms with identical options but the search; `llm` (a factory) for tests."""
    results = [run_arm(replace(options, search=arm, output=out / arm), llm) for arm in ARMS]
    out.mkdir(parents=True, exist_ok=True)
    (out / "swe_search.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "swe_search.md").write_text(table(results, options) + "\n")
    return results


def table(results: list[dict[str, Any]], options: SolveOptions) -> str:
    lines = [
        f"# linear vs SWE-Search: {options.model}, {results[0]['instances']} instances, "
        f"max iterations {options.max_iterations or 'default'}, max cost {options.max_cost}",
        "",
        "| search | resolved | cost $ | wall s / inst | LLM calls / inst | model time | sandbox time | statuses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['search']} | {r['resolved']}/{r['instances']} ({100 * r['resolve_rate']:.0f}%) "
            f"| {r['cost']:.4f} | {r['wall_s_per_instance']:.1f} | {r['llm_calls_per_instance']:.1f} "
            f"| {100 * r['model_share']:.0f}% | {100 * r['sandbox_share']:.0f}% "
            f"| {', '.join(r['statuses'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="local:smollm2")
    p.add_argument("--dataset")
    p.add_argument("--limit", type=int, default=3)
    p.add_argument("--instances", default="")
    p.add_argument("--max-iterations", type=int)
    p.add_argument("--max-cost", type=float)
    p.add_argument("--sandbox", default="auto")
    p.add_argument("--base-url")
    p.add_argument("--output", type=Path, default=Path("runs/bench_swe_search"))
    a = p.parse_args(argv)
    options = SolveOptions(
        model=a.model,
        dataset=a.dataset,
        limit=a.limit,
        instances=tuple(i for i in a.instances.split(",") if i),
        max_iterations=a.max_iterations,
        max_cost=a.max_cost,
        sandbox=a.sandbox,
        base_url=a.base_url,
    )
    results = compare(options, a.output)
    print(table(results, options))


if __name__ == "__main__":
    main()
