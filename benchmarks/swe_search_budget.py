"""Linear vs SWE-Search at an equal model-call budget per instance, with the noisy oracle.

    python -m benchmarks.swe_search --budgets 12,24 --sweep 0.3,0.5,0.7,0.9 --seeds 0,1,2 \
        --limit 14 --sandbox local --output OUT
    agents bench swe-search --budgets 12,24 --sweep 0.3,0.5,0.7,0.9 --limit 14 -o OUT

For every p (the oracle's share of correct proposals) and seed, and every budget B (model
calls per instance, the judge's included):

- `mcts@B`: SWE-Search with `--max-calls B` (the search stops at the first simulation
  boundary at or past B; the table shows the calls it actually made). Its finished
  episodes are kept in trajectories/ID.json, so three final-patch rules are compared on
  the same trees: `value` (best mean value: what the agent returns), `visits` (most
  visited) and `discriminator` (the oracle's discriminator, `NoisySweOracle.choose_patch`:
  right with probability 1 - q; one more call, not counted in B).
- `linear`: one linear ReAct trajectory (it stops at its first finish; its own calls).
- `linear-retry@B`: linear restarted on a fresh repository while its patch is empty and
  the next attempt fits in B. `linear-best@B`: as many attempts as fit in B - 1, the final
  patch picked among their non-empty patches by the same discriminator (the last call).
  The attempts are independent linear runs (attempt k: oracle seed S + 1000 k, a run of
  its own under OUT/pP/sS/linear/aK, each resumable and graded by the harness), run while
  some instance has budget left; a restart policy reads them in order. An attempt that
  would not fit in what is left of B is not run (so linear may leave calls unused).
- `linear-retry@tokens`: `linear-retry` with each instance's budget the tokens SWE-Search
  spent on it at B (equal tokens, instance by instance).

Every patch a rule picks is graded by the harness (OUT/regrade for the ones no run graded).
Intervals: 95% Wilson over instance x seed pairs; paired differences (mcts@B by `value`
minus a linear rule) with a normal 95% interval over the same pairs.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.protocol import SWE_SEARCH
from benchmarks.tasks import SolveOptions

ATTEMPT_SEED_STRIDE = 1000
"""Linear attempt k of oracle seed S runs with seed S + 1000 k (attempt 0 is seed S)."""
MAX_ATTEMPTS = 16
LINEAR_ITERATIONS = 16
"""Actions per linear attempt (its --max-iterations)."""
MCTS_ITERATIONS = 64
"""SWE-Search's --max-iterations (x2 simulations): large, so the call cap binds."""
Z = 1.96


@dataclass(frozen=True)
class Attempt:
    calls: int
    tokens: int
    patch: str
    resolved: bool
    seconds: float = 0.0
    """Its wall time (sandbox setup and the agent; grading not included)."""


@dataclass(frozen=True)
class Pick:
    """What one rule returned on one instance: resolved?, calls, tokens and wall seconds
    spent."""

    resolved: bool
    calls: int
    tokens: int
    patch: str = ""
    seconds: float = 0.0


def oracle_spec(p: float, q: float, seed: int, judge: str = "binary") -> str:
    graded = "" if judge == "binary" else f",judge={judge}"
    return f"oracle:swe,p={p:g},q={q:g},seed={seed}{graded}"


# ------------------------------------------------------------------- restart rules


def retry(attempts: Sequence[Attempt], fits: Callable[[int, int], bool]) -> Pick:
    """Restart while the patch is empty and the next attempt fits (`fits(calls, tokens)`
    of the attempts so far plus it)."""
    calls = tokens = 0
    seconds = 0.0
    for a in attempts:
        if not fits(calls + a.calls, tokens + a.tokens):
            break
        calls, tokens, seconds = calls + a.calls, tokens + a.tokens, seconds + a.seconds
        if a.patch.strip():
            return Pick(a.resolved, calls, tokens, a.patch, seconds)
    return Pick(False, calls, tokens, "", seconds)


def best_of(
    attempts: Sequence[Attempt], budget: int, choose: Callable[[list[str]], int]
) -> tuple[Pick, list[str]]:
    """As many attempts as fit in `budget` - 1 calls, then the discriminator's pick among
    their non-empty patches (a call only when there are two or more). Returns the pick
    (resolved filled in for an attempt's patch) and the candidates."""
    calls = tokens = 0
    done: list[Attempt] = []
    for a in attempts:
        if calls + a.calls > budget - 1:
            break
        calls, tokens = calls + a.calls, tokens + a.tokens
        done.append(a)
    seconds = sum(a.seconds for a in done)
    cands = [a for a in done if a.patch.strip()]
    if not cands:
        return Pick(False, calls, tokens, "", seconds), []
    k = choose([a.patch for a in cands]) if len(cands) > 1 else 0
    chosen = cands[k]
    pick = Pick(chosen.resolved, calls + (len(cands) > 1), tokens, chosen.patch, seconds)
    return pick, [a.patch for a in cands]


def _calls_within(budget: int) -> Callable[[int, int], bool]:
    return lambda calls, tokens: calls <= budget


def _tokens_within(budget: int) -> Callable[[int, int], bool]:
    return lambda calls, tokens: tokens <= budget


# ------------------------------------------------------------------------ grading


class Grades:
    """Resolved or not for (instance, patch): from the harness results of the runs (`read`
    each cell's directory once its runs are done), and by grading in OUT/regrade what no
    run graded (resumable: the harness skips a patch it already graded)."""

    def __init__(self, out: Path, options: SolveOptions) -> None:
        self.out, self.options = out, options
        self.known: dict[tuple[str, str], bool] = {}
        self.read(out / "regrade")

    def read(self, root: Path) -> None:
        """Learn the grades of every harness result under `root`."""
        from benchmarks.swe_bench.harness import RESOLVED
        from foundation.jsonl import read_rows

        for results in root.rglob("results.jsonl"):
            for r in read_rows(results):
                if "instance_id" in r and "patch_sha" in r and "status" in r:
                    self.known[(r["instance_id"], r["patch_sha"])] = r["status"] == RESOLVED

    def get(self, iid: str, patch: str) -> bool | None:
        from benchmarks.swe_bench.harness import patch_sha

        if not patch.strip():
            return False
        return self.known.get((iid, patch_sha(patch)))

    def grade(self, wanted: Sequence[tuple[str, str]]) -> None:
        """Grade each (instance, patch) not known yet, one patch per instance per round
        (every instance's next patch in the same round)."""
        from benchmarks.swe_bench import RunPaths, evaluate
        from benchmarks.swe_bench.solve import run_config, select
        from sandboxes import resolve_kind

        todo: dict[str, list[str]] = {}
        for iid, patch in wanted:
            if self.get(iid, patch) is None and patch not in todo.get(iid, []):
                todo.setdefault(iid, []).append(patch)
        if not todo:
            return
        instances = {i["instance_id"]: i for i in select(self.options)}
        run = run_config(self.options, resolve_kind(self.options.sandbox))
        paths = RunPaths(self.out / "regrade", "regrade", "picks")
        while todo:
            preds = {
                iid: {"instance_id": iid, "model_name_or_path": "picks", "model_patch": ps.pop()}
                for iid, ps in todo.items()
            }
            todo = {iid: ps for iid, ps in todo.items() if ps}
            evaluate([instances[i] for i in preds], preds, paths, run)
        self.read(self.out / "regrade")


# --------------------------------------------------------------------------- runs


def _rows(run: Path) -> dict[str, dict[str, Any]]:
    from foundation.jsonl import read_rows

    return {r["instance_id"]: r for r in read_rows(run / "solve.jsonl") if "instance_id" in r}


def _candidates(run: Path, iid: str) -> list[dict[str, Any]]:
    path = run / "trajectories" / f"{iid}.json"
    try:
        found = json.loads(path.read_text()).get("candidates") or []
    except (OSError, ValueError):
        return []
    return [c for c in found if isinstance(c, dict) and c.get("patch")]


def run_cell(
    options: SolveOptions,
    out: Path,
    p: float,
    seed: int,
    q: float,
    budgets: Sequence[int],
    ids: Sequence[str],
    attempts: int = MAX_ATTEMPTS,
    judge: str = "binary",
) -> dict[str, Any]:
    """Every run of one (p, seed): SWE-Search at each budget, then linear attempts while
    some instance has budget left. Returns its directory and the run directories."""
    from benchmarks.swe_search import run_arm

    cell = out / f"p{p:g}" / f"s{seed}"
    searches: dict[int, Path] = {}
    for b in budgets:
        searches[b] = cell / f"mcts-b{b}"
        run_arm(
            replace(options, model=oracle_spec(p, q, seed, judge), search="mcts", max_calls=b,
                    max_iterations=MCTS_ITERATIONS, output=searches[b], instances=tuple(ids))
        )  # fmt: skip
    need = max(budgets)
    spent = dict.fromkeys(ids, 0)
    runs: list[Path] = []
    for k in range(attempts):
        left = tuple(i for i in ids if spent[i] < need)
        if not left:
            break
        run = cell / "linear" / f"a{k}"
        run_arm(
            replace(options, model=oracle_spec(p, q, seed + ATTEMPT_SEED_STRIDE * k, judge),
                    search="linear", max_iterations=LINEAR_ITERATIONS, output=run,
                    instances=left)
        )  # fmt: skip
        runs.append(run)
        for iid, row in _rows(run).items():
            if iid in spent:
                spent[iid] += max(1, int(row.get("llm_calls", 0)))
    return {"dir": cell, "searches": searches, "linear": runs}


def _attempts(
    linear: Sequence[dict[str, dict[str, Any]]], iid: str, grades: Grades
) -> list[Attempt]:
    """`iid`'s linear attempts in order, from each attempt run's rows."""
    out = []
    for rows in linear:
        row = rows.get(iid)
        if row is None:
            break
        patch = str(row.get("model_patch") or "")
        out.append(
            Attempt(int(row.get("llm_calls", 0)), int(row.get("tokens", 0)), patch,
                    bool(grades.get(iid, patch)), float(row.get("seconds", 0.0)))
        )  # fmt: skip
    return out


def picks(
    cell: dict[str, Any], ids: Sequence[str], p: float, q: float, seed: int, grades: Grades,
    instances: Sequence[dict[str, Any]], judge: str = "binary",
) -> dict[str, dict[str, Pick]]:  # fmt: skip
    """Every rule's pick on each instance of one (p, seed), by instance id. Each run's log
    is read once, and the patches no run graded are graded together first."""
    from agents.graphs.swe_search import pick_candidate
    from benchmarks.swe_bench.noisy_oracle import NoisySweOracle, parse_oracle_spec

    oracle = NoisySweOracle(parse_oracle_spec(oracle_spec(p, q, seed, judge)), instances)
    linear = [_rows(run) for run in cell["linear"]]
    search_rows = {b: _rows(run) for b, run in cell["searches"].items()}
    searched: dict[tuple[str, int], tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    wanted: list[tuple[str, str]] = []
    for iid in ids:
        for b, run in cell["searches"].items():
            row = search_rows[b].get(iid)
            if row is None:
                continue
            cands = _candidates(run, iid)
            searched[(iid, b)] = (row, cands)
            wanted += [(iid, str(c["patch"])) for c in cands]
            wanted.append((iid, str(row.get("model_patch") or "")))
    grades.grade(wanted)
    found: dict[str, dict[str, Pick]] = {}
    for iid in ids:
        attempts = _attempts(linear, iid, grades)
        out = found[iid] = {}
        if attempts:
            a0 = attempts[0]
            out["linear"] = Pick(a0.resolved, a0.calls, a0.tokens, a0.patch, a0.seconds)
        for b in cell["searches"]:
            if (iid, b) not in searched:
                continue
            row, cands = searched[(iid, b)]
            calls, tokens = int(row.get("llm_calls", 0)), int(row.get("tokens", 0))
            seconds = float(row.get("seconds", 0.0))
            final = str(row.get("model_patch") or "")
            out[f"mcts@{b} value"] = Pick(
                bool(grades.get(iid, final)), calls, tokens, final, seconds
            )
            for rule in ("visits", "discriminator"):
                if not cands:  # no finished episode: every rule returns the agent's fallback
                    patch = final
                elif rule == "visits":
                    patch = str(pick_candidate(cands, "visits")["patch"])
                else:
                    k = oracle.choose_patch(iid, [c["patch"] for c in cands])
                    patch = str(cands[k]["patch"])
                extra = int(rule == "discriminator" and len(cands) > 1)
                out[f"mcts@{b} {rule}"] = Pick(
                    bool(grades.get(iid, patch)), calls + extra, tokens, patch, seconds
                )
            out[f"linear-retry@{b}"] = retry(attempts, _calls_within(b))
            best, _ = best_of(attempts, b, functools.partial(oracle.choose_patch, iid))
            out[f"linear-best@{b}"] = best
            out[f"linear-retry@tokens{b}"] = retry(attempts, _tokens_within(tokens))
    return found


# ------------------------------------------------------------------------- report


def _paired(diffs: Sequence[int]) -> dict[str, float]:
    n = len(diffs)
    mean = sum(diffs) / n if n else 0.0
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1) if n > 1 else 0.0
    half = Z * math.sqrt(var / n) if n else 0.0
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def budget_sweep(
    options: SolveOptions,
    out: Path,
    ps: Sequence[float] = (0.3, 0.5, 0.7, 0.9),
    seeds: Sequence[int] = (0, 1, 2),
    q: float = 0.1,
    budgets: Sequence[int] = (12, 24),
    attempts: int = MAX_ATTEMPTS,
    judge: str = "binary",
) -> dict[str, Any]:
    """The whole experiment (module docstring); writes OUT/budget.{json,md,png}."""
    from benchmarks.swe_bench.solve import select
    from benchmarks.werewolf import rate

    instances = select(options)
    ids = [str(i["instance_id"]) for i in instances]
    grades = Grades(out, options)
    per: list[dict[str, Any]] = []  # one record per (p, seed, instance)
    for p in ps:
        for seed in seeds:
            cell = run_cell(options, out, p, seed, q, budgets, ids, attempts, judge)
            grades.read(cell["dir"])
            found = picks(cell, ids, p, q, seed, grades, instances, judge)
            for iid in ids:
                for rule, pick in found[iid].items():
                    per.append({"p": p, "seed": seed, "instance_id": iid, "rule": rule,
                                "resolved": pick.resolved, "calls": pick.calls,
                                "tokens": pick.tokens, "seconds": pick.seconds})  # fmt: skip
    rules = list(dict.fromkeys(r["rule"] for r in per))
    rows = []
    for p in ps:
        for rule in rules:
            mine = [r for r in per if r["p"] == p and r["rule"] == rule]
            if not mine:
                continue
            n = len(mine)
            rows.append({"p": p, "rule": rule,
                         "resolved": rate(sum(r["resolved"] for r in mine), n),
                         "calls": sum(r["calls"] for r in mine) / n,
                         "tokens": sum(r["tokens"] for r in mine) / n,
                         "seconds": sum(r["seconds"] for r in mine) / n})  # fmt: skip
    diffs = []
    for p in ps:
        for b in budgets:
            base = {(r["seed"], r["instance_id"]): r for r in per
                    if r["p"] == p and r["rule"] == f"mcts@{b} value"}  # fmt: skip
            for other in (f"linear-retry@{b}", f"linear-best@{b}", f"linear-retry@tokens{b}"):
                pairs = [
                    int(base[k]["resolved"]) - int(r["resolved"])
                    for r in per
                    if r["p"] == p and r["rule"] == other
                    for k in [(r["seed"], r["instance_id"])]
                    if k in base
                ]
                if pairs:
                    diffs.append({"p": p, "budget": b, "versus": other, **_paired(pairs)})
    result = {"q": q, "judge": judge, "seeds": list(seeds), "budgets": list(budgets), "instances": len(ids),
              "rows": rows, "diffs": diffs, "per_instance": per}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "budget.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "budget.md").write_text(budget_table(result) + "\n")
    budget_plot(result, out / "budget.png")
    return result


def budget_table(result: dict[str, Any]) -> str:
    from benchmarks.swe_search import rate_cell

    lines = [
        f"## Equal budget, {result.get('judge', 'binary')} judge: {result['instances']} "
        f"instances x seeds {', '.join(map(str, result['seeds']))}, q = {result['q']:g}, "
        f"budgets (model calls per instance) {', '.join(map(str, result['budgets']))}",
        "",
        SWE_SEARCH,
        "",
        "| p | agent / rule | resolved (95% interval) | calls / inst | tokens / inst "
        "| wall s / inst |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['p']:g} | {r['rule']} | {rate_cell(r['resolved'])} | "
            f"{r['calls']:.1f} | {r['tokens']:.0f} | {r.get('seconds', 0.0):.1f} |"
        )
    lines += [
        "",
        "Paired differences, SWE-Search (`value` rule) minus a linear rule at the same "
        "budget, over the same instance x seed pairs (95% normal interval):",
        "",
        "| p | budget | versus | difference (95% interval) |",
        "|---|---|---|---|",
    ]
    for d in result["diffs"]:
        lines.append(
            f"| {d['p']:g} | {d['budget']} | {d['versus']} | "
            f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] (n = {d['n']}) |"
        )
    return "\n".join(lines)


def budget_plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.swe_search import rate_curve

    budgets = result["budgets"]
    fig, axes = plt.subplots(1, len(budgets), figsize=(5.5 * len(budgets), 3.8), squeeze=False)
    for ax, b in zip(axes[0], budgets, strict=True):
        for rule, style in (
            ("linear", "o:"), (f"linear-retry@{b}", "^-"), (f"linear-best@{b}", "v-"),
            (f"mcts@{b} value", "s-"), (f"mcts@{b} discriminator", "d--"),
        ):  # fmt: skip
            rate_curve(ax, [r for r in result["rows"] if r["rule"] == rule], style, rule)
        ax.set_title(
            f"budget {b} calls / instance ({result.get('judge', 'binary')} judge, "
            f"q = {result['q']:g})"
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
