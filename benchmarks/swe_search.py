"""Linear ReAct vs SWE-Search on the same instances, model and budget (docs/methods.md section 3).

    python -m benchmarks.swe_search --model local:smollm2 --limit 3
    python -m benchmarks.swe_search --sweep 0.3,0.5,0.7,0.9 --seeds 0,1,2 --limit 14 \
        --sandbox local --linear-iterations 24 --mcts-iterations 4   # the noisy oracle
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

from benchmarks.protocol import SWE_SEARCH
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
        "tokens_per_instance": (
            summary["usage"].get("input_tokens", 0) + summary["usage"].get("output_tokens", 0)
        )
        / n,
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


def sweep(
    options: SolveOptions,
    out: Path,
    ps: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9),
    seeds: tuple[int, ...] = (0, 1, 2),
    q: float = 0.1,
    iterations: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Linear vs SWE-Search with the noisy SWE oracle (`oracle:swe,p=P,q=Q,seed=S`) for
    every p and seed: each (p, seed, arm) an ordinary resumable solve run under
    OUT/p{P}/s{S}/{arm}. `iterations` per arm (`--max-iterations`): set them so the arms'
    model calls per instance match (the table reports calls and tokens per instance, so
    the budget actually spent is visible). Writes OUT/sweep.json, OUT/sweep.md and
    OUT/sweep.png (resolved rate vs p, 95% Wilson intervals over instances x seeds)."""
    from benchmarks.werewolf import rate

    iterations = iterations or {}
    cells: list[dict[str, Any]] = []
    for p in ps:
        for seed in seeds:
            model = f"oracle:swe,p={p:g},q={q:g},seed={seed}"
            for arm in ARMS:
                run = replace(
                    options,
                    model=model,
                    search=arm,
                    max_iterations=iterations.get(arm, options.max_iterations),
                    output=out / f"p{p:g}" / f"s{seed}" / arm,
                )
                cells.append({"p": p, "seed": seed, **run_arm(run)})
    rows = []
    for p in ps:
        for arm in ARMS:
            mine = [c for c in cells if c["p"] == p and c["search"] == arm]
            n = sum(c["instances"] for c in mine)
            k = sum(c["resolved"] for c in mine)

            def per(key: str, cells_: list[dict[str, Any]] = mine, n_: int = n) -> float:
                return float(sum(c[key] * c["instances"] for c in cells_)) / max(n_, 1)

            rows.append(
                {
                    "p": p,
                    "search": arm,
                    "resolved": rate(k, n),
                    "llm_calls_per_instance": per("llm_calls_per_instance"),
                    "tokens_per_instance": per("tokens_per_instance"),
                    "wall_s_per_instance": per("wall_s_per_instance"),
                }
            )
    result = {"q": q, "seeds": list(seeds), "iterations": iterations, "rows": rows, "cells": cells}
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "sweep.md").write_text(sweep_table(result, options) + "\n")
    sweep_plot(result, out / "sweep.png")
    return result


def sweep_table(result: dict[str, Any], options: SolveOptions) -> str:
    lines = [
        f"# linear vs SWE-Search with the noisy SWE oracle (q = {result['q']:g}, seeds "
        f"{', '.join(map(str, result['seeds']))}; max iterations per arm "
        f"{result['iterations'] or options.max_iterations or 'default'})",
        "",
        SWE_SEARCH,
        "",
        "| p | search | resolved (95% interval) | LLM calls / inst | tokens / inst | wall s / inst |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['p']:g} | {r['search']} | {rate_cell(r['resolved'])} | "
            f"{r['llm_calls_per_instance']:.1f} | {r['tokens_per_instance']:.0f} | "
            f"{r['wall_s_per_instance']:.1f} |"
        )
    return "\n".join(lines)


def rate_cell(v: dict[str, Any]) -> str:
    """A `benchmarks.werewolf.rate` as "k/n = r [low, high]" ("-" for the rate when n = 0)."""
    shown = "-" if v["rate"] is None else f"{v['rate']:.2f} [{v['low']:.2f}, {v['high']:.2f}]"
    return f"{v['wins']}/{v['games']} = {shown}"


def rate_curve(ax: Any, rows: list[dict[str, Any]], style: str, label: str) -> None:
    """Resolved rate vs p of `rows` (each with "p" and a "resolved" rate) with its 95%
    interval as error bars, on the axes `ax` (their labels and limits set too)."""
    mine = [r for r in rows if r["resolved"]["rate"] is not None]
    if mine:
        ys = [r["resolved"]["rate"] for r in mine]
        err = [
            [y - r["resolved"]["low"] for y, r in zip(ys, mine, strict=True)],
            [r["resolved"]["high"] - y for y, r in zip(ys, mine, strict=True)],
        ]
        ax.errorbar([r["p"] for r in mine], ys, yerr=err, fmt=style, capsize=3, label=label)
    ax.set_xlabel("p (share of correct proposals)")
    ax.set_ylabel("resolved rate")
    ax.set_ylim(-0.02, 1.02)


def sweep_plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for arm, style in zip(ARMS, ("o-", "s-"), strict=True):
        rate_curve(ax, [r for r in result["rows"] if r["search"] == arm], style, arm)
    ax.set_title(f"linear vs SWE-Search, noisy oracle (q = {result['q']:g})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    p.add_argument(
        "--sweep",
        default="",
        help="noisy-oracle sweep: comma-separated p values (the model is oracle:swe,p=P,...)",
    )
    p.add_argument("--seeds", default="0,1,2", help="sweep: oracle seeds")
    p.add_argument("--q", type=float, default=0.1, help="sweep: the judge's flip probability")
    p.add_argument(
        "--judge", default="binary", choices=("binary", "graded"), help="sweep: the value's shape"
    )
    p.add_argument("--linear-iterations", type=int, help="sweep: linear's --max-iterations")
    p.add_argument("--mcts-iterations", type=int, help="sweep: SWE-Search's --max-iterations")
    p.add_argument(
        "--budgets",
        default="",
        help="sweep at equal budgets: comma-separated model calls per instance "
        "(benchmarks/swe_search_budget.py)",
    )
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
    if a.sweep and a.budgets:
        from benchmarks.swe_search_budget import budget_sweep, budget_table

        found = budget_sweep(
            options,
            a.output,
            tuple(float(x) for x in a.sweep.split(",")),
            tuple(int(x) for x in a.seeds.split(",")),
            a.q,
            tuple(int(x) for x in a.budgets.split(",")),
            judge=a.judge,
        )
        print(budget_table(found))
        return
    if a.sweep:
        iterations = {
            arm: n
            for arm, n in (("linear", a.linear_iterations), ("mcts", a.mcts_iterations))
            if n is not None
        }
        ps = tuple(float(x) for x in a.sweep.split(","))
        seeds = tuple(int(x) for x in a.seeds.split(","))
        found = sweep(options, a.output, ps, seeds, a.q, iterations)
        print(sweep_table(found, options))
        return
    results = compare(options, a.output)
    print(table(results, options))


if __name__ == "__main__":
    main()
