"""What `--executor ray` costs on one machine, and what a 300-instance run needs per node.

    python -m benchmarks.ray_overhead [--rounds 3] [--games 200] [--cpus 2] [--out DIR]

In one process: a Ray instance is started (`--cpus` CPUs; its start is timed and reported
apart), then, for `--rounds` rounds in alternating order, the same work runs with
`--executor local --workers CPUS` and with `--executor ray` (the instance already up):

- `agents eval swe-bench -p gold` on swe-mini (14 instances, `--sandbox`), each run in a
  fresh output directory (an untimed local run first builds the environments);
- `agents bench hanabi` with `--games` rule-bot games, each run in a fresh directory.

Each arm's reports must be the same as the other's (resolved ids; scores), else the
benchmark fails. Reported: every timing, the medians, ray / local, the Ray workers' peak
memory, the environment cache's size, and a table of what a 300-instance SWE-bench Lite run
needs per node and its expected wall time on N nodes, computed from the measured
per-instance costs here and the model-call costs measured by other benchmarks (cited by
file) — a projection, not a run on several machines.

Writes OUT/ray_overhead.json and OUT/ray.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from foundation.jsonl import write_atomic

INSTANCES = 14  # swe-mini
LITE = 300  # SWE-bench Lite's test split
NODES = (1, 2, 4, 8)
TARGET = 1.10  # ray within 10% of local

# Model-call costs measured by other benchmarks of this repository (per SWE-bench instance;
# seconds per call of the local model). Quoted here with their source, not re-measured.
CALLS: dict[str, dict[str, Any]] = {
    "linear (ReAct)": {"calls": 3.7, "tokens": 2760, "source": "swe_search.md, oracle rows"},
    "SWE-Search": {"calls": 29.0, "tokens": 14970, "source": "swe_search.md, oracle rows"},
}
LOCAL_SECONDS_PER_CALL: dict[str, Any] = {
    "seconds": 1.371,
    "cold": 2.927,
    "source": "llm_throughput.md: local:smollm2, a SWE-Search trace, warm / cold prefix cache",
}
# What the official harness documents for its own images (theirs, not measured here).
HARNESS_DISK = (
    "SWE-bench's README recommends an x86_64 machine with at least 120 GB of free storage, "
    "16 GB of RAM and 8 CPU cores, and fewer than min(0.75 x CPUs, 24) workers"
)


def _eval(out: Path, workers: int, executor: str, sandbox: str) -> tuple[float, list[str]]:
    """`agents eval swe-bench -p gold` on swe-mini, as the command calls the harness."""
    from benchmarks.swe_bench import RunConfig, RunPaths, evaluate, gold_predictions, load_dataset
    from foundation.executors import executor_session
    from sandboxes import resolve_kind

    instances = load_dataset("swe-mini")
    predictions = {p["instance_id"]: p for p in gold_predictions(instances)}
    config = RunConfig(sandbox=resolve_kind(sandbox))
    t0 = time.perf_counter()
    with executor_session(executor):
        report = evaluate(
            instances, predictions, RunPaths(out, "swe-mini.gold", "gold"), config,
            workers=workers, executor=executor,
        )  # fmt: skip
    seconds = time.perf_counter() - t0
    if report["total_instances"] != INSTANCES or report["error_instances"]:
        raise RuntimeError(f"eval did not grade all {INSTANCES} instances: {out}")
    return seconds, sorted(report["resolved_ids"])


def _hanabi(out: Path, games: int, workers: int, executor: str) -> tuple[float, list[float]]:
    """`agents bench hanabi --bot hanabi_rules --games GAMES`, as the command runs it."""
    from benchmarks.hanabi import HanabiBench, run, summarize

    cfg = HanabiBench(bots=("hanabi_rules",), games=games, out=str(out))
    t0 = time.perf_counter()
    summary = summarize(cfg, run(cfg, executor=executor, workers=workers))
    seconds = time.perf_counter() - t0
    bot = cast("dict[str, dict[str, Any]]", summary["bots"])["hanabi_rules"]
    if bot["games"] != games:
        raise RuntimeError(f"bench hanabi played {bot['games']} of {games} games")
    return seconds, [bot["mean"], bot["se"]]


def _worker_peak_mib() -> float | None:
    """The largest peak RSS (VmHWM) of this machine's Ray worker processes, MiB."""
    peak = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"default_worker.py" not in cmd and not cmd.startswith(b"ray::"):
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return round(peak / 1024, 1) if peak else None


def _du_mib(path: Path) -> float:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return round(total / 2**20, 1)


def _median(xs: Sequence[float]) -> float:
    return round(statistics.median(xs), 3)


def measure(rounds: int, games: int, cpus: int, sandbox: str) -> dict[str, Any]:
    """The timings (see the module's docstring); Ray is started and stopped here."""
    import ray

    from sandboxes.cache import cache_dir

    timings: dict[str, dict[str, list[float]]] = {
        w: {"local": [], "ray": []} for w in ("eval", "hanabi")
    }
    results: dict[str, dict[str, Any]] = {"eval": {}, "hanabi": {}}
    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR)
    start = time.perf_counter() - t0
    try:
        with tempfile.TemporaryDirectory(prefix="ray-overhead-") as tmp:
            _eval(Path(tmp) / "warm", cpus, "local", sandbox)  # builds the environments
            for r in range(rounds):
                order = ("local", "ray") if r % 2 == 0 else ("ray", "local")
                for arm in order:
                    executor = "local" if arm == "local" else "ray"
                    where = Path(tmp) / f"{arm}-{r}"
                    seconds, resolved = _eval(where / "eval", cpus, executor, sandbox)
                    timings["eval"][arm].append(seconds)
                    results["eval"].setdefault(arm, resolved)
                    seconds, score = _hanabi(where / "hanabi", games, cpus, executor)
                    timings["hanabi"][arm].append(seconds)
                    results["hanabi"].setdefault(arm, score)
                    print(f"round {r + 1} {arm}: eval {timings['eval'][arm][-1]:.2f} s, "
                          f"hanabi {seconds:.2f} s", file=sys.stderr)  # fmt: skip
        peak = _worker_peak_mib()
    finally:
        ray.shutdown()
    for work, by_arm in results.items():
        if by_arm["local"] != by_arm["ray"]:
            raise RuntimeError(f"{work}: ray reported {by_arm['ray']}, local {by_arm['local']}")
    return {
        "cpus": cpus,
        "sandbox": sandbox,
        "rounds": rounds,
        "games": games,
        "ray_start_s": round(start, 2),
        "timings": {
            w: {a: [round(x, 3) for x in xs] for a, xs in t.items()} for w, t in timings.items()
        },
        "median": {w: {a: _median(xs) for a, xs in t.items()} for w, t in timings.items()},
        "resolved": len(results["eval"]["local"]),
        "hanabi_mean": round(results["hanabi"]["local"][0], 3),
        "worker_peak_mib": peak,
        "env_cache_mib": _du_mib(cache_dir() / "envs"),
    }


def scale(measured: dict[str, Any]) -> list[dict[str, Any]]:
    """Expected wall time of a 300-instance run on N nodes of `cpus` CPUs each (one unit per
    CPU), from the measured per-instance grading time and the quoted model-call costs. Each
    node runs ceil(300 / N) instances in waves of `cpus`; its one local-model host answers
    one call at a time, so a node takes the longer of its waves and its serial model calls
    (plus the last instance's grading); Ray's start comes first."""
    cpus = measured["cpus"]
    grade = measured["median"]["eval"]["ray"] * cpus / INSTANCES  # slot-seconds per instance
    per_call = LOCAL_SECONDS_PER_CALL["seconds"]
    rows = [{"work": "grade only (gold patches)", "calls": 0.0, "instance_s": grade}]
    for agent, cost in CALLS.items():
        rows.append(
            {
                "work": f"solve + grade, {agent}, local SmolLM2",
                "calls": cost["calls"],
                "instance_s": cost["calls"] * per_call + grade,
            }
        )
    for row in rows:
        walls = {}
        for n in NODES:
            per_node = math.ceil(LITE / n)
            waves = math.ceil(per_node / cpus) * row["instance_s"]
            model = per_node * row["calls"] * per_call + grade
            walls[n] = round(measured["ray_start_s"] + max(waves, model), 1)
        row["wall_s"] = walls
        row["instance_s"] = round(row["instance_s"], 2)
        row["calls_total"] = round(row["calls"] * LITE)
    return rows


def markdown(measured: dict[str, Any], rows: list[dict[str, Any]], command: str) -> str:
    med, cpus = measured["median"], measured["cpus"]
    lines = [
        "# `--executor ray` on one machine: overhead, and a 300-instance run on paper",
        "",
        "![Wall time per round, and projected wall time against nodes](ray.png)",
        "",
        f"`{command}` ({cpus} CPUs, one process; sandbox `{measured['sandbox']}`). Ray "
        f"started in **{measured['ray_start_s']:.2f} s** (reported apart: the timings below "
        "start with Ray up). Each round runs both arms, in alternating order; every arm's "
        "reports equal the other's (the same "
        f"{measured['resolved']}/{INSTANCES} resolved ids, the same mean Hanabi score "
        f"{measured['hanabi_mean']}). Local runs use `--workers {cpus}` (processes for "
        "games, threads around sandboxes for eval); Ray runs get one CPU per unit and "
        "batch games several per task.",
        "",
        "| work | local, s (median; all rounds) | ray, s (median; all rounds) | ray / local | within 10% |",
        "|---|---|---|---:|---|",
    ]
    names = {
        "eval": f"`agents eval swe-bench -p gold`, swe-mini ({INSTANCES} instances)",
        "hanabi": f"`agents bench hanabi`, {measured['games']} rule-bot games",
    }
    for work, name in names.items():
        t = measured["timings"][work]
        ratio = med[work]["ray"] / med[work]["local"]
        lines.append(
            f"| {name} | {med[work]['local']:.2f} ({', '.join(f'{x:.2f}' for x in t['local'])}) "
            f"| {med[work]['ray']:.2f} ({', '.join(f'{x:.2f}' for x in t['ray'])}) "
            f"| {ratio:.2f} | {'yes' if ratio <= TARGET else 'NO'} |"
        )
    peak = measured["worker_peak_mib"]
    lines += [
        "",
        "## A 300-instance SWE-bench Lite run on N nodes (projected, not run)",
        "",
        "Only one machine was available, so this is arithmetic on measured costs, not a "
        "multi-node run. Per instance:",
        "",
        f"- **Grading:** {rows[0]['instance_s']:.2f} slot-seconds per swe-mini instance "
        f"(the Ray median above x {cpus} slots / {INSTANCES}). swe-mini's repositories are "
        "small; SWE-bench Lite's test suites take longer, so scale this column by the ratio "
        "of your instances' test time.",
        f"- **Model calls:** linear {CALLS['linear (ReAct)']['calls']}, SWE-Search "
        f"{CALLS['SWE-Search']['calls']} calls per instance "
        f"({CALLS['SWE-Search']['source']}), at {LOCAL_SECONDS_PER_CALL['seconds']} s per "
        f"call warm ({LOCAL_SECONDS_PER_CALL['cold']} s cold) for the local SmolLM2 "
        f"({LOCAL_SECONDS_PER_CALL['source']}). A hosted model's calls cost what its API "
        "takes; its workers need no model memory.",
        f"- **Memory:** Ray workers peaked at {peak if peak is not None else 'n/a'} MiB each "
        "here; a node serving a local model adds one model host, which holds the model.",
        f"- **Disk:** this machine's environment cache holds {measured['env_cache_mib']} MiB "
        "(swe-mini's environments and any others built here). For SWE-bench's Docker "
        f"images, {HARNESS_DISK} (theirs, sized for the full benchmark); each node builds or "
        "caches the images of the instances it runs.",
        "",
        f"Per node: {cpus} CPUs, one unit per CPU, ceil(300 / N) instances in waves of "
        f"{cpus}. A local model is one host per node answering one call at a time, so a "
        "node takes the longer of its waves and its model calls one after another (plus "
        "the last grading). Wall time = Ray start + that:",
        "",
        "| work | s / instance | model calls (300) | " + " | ".join(f"N={n}" for n in NODES) + " |",
        "|---|---:|---:|" + "---:|" * len(NODES),
    ]
    for row in rows:
        walls = " | ".join(_hms(row["wall_s"][n]) for n in NODES)
        lines.append(
            f"| {row['work']} | {row['instance_s']:.2f} | {row['calls_total']} | {walls} |"
        )
    lines += [
        "",
        "The model-bound rows scale with the number of nodes, not with CPUs per node: the "
        "model host is the bottleneck. A hosted model (or `agents serve` with batching, "
        "docs/serve.md) takes the calls in parallel instead; its rows are then the calls "
        "column times its latency, spread over every CPU of the cluster.",
        "",
    ]
    return "\n".join(lines)


def _hms(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of both arms.")
    parser.add_argument("--games", type=int, default=200, help="Hanabi games per run.")
    parser.add_argument("--cpus", type=int, default=2, help="Ray CPUs and local --workers.")
    parser.add_argument("--sandbox", default="local", help="eval's --sandbox.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    if min(args.rounds, args.games, args.cpus) < 1:
        parser.error("--rounds, --games and --cpus must be at least 1")
    measured = measure(args.rounds, args.games, args.cpus, args.sandbox)
    rows = scale(measured)
    command = "python -m benchmarks.ray_overhead " + " ".join(
        f"--{k} {v}" for k, v in vars(args).items() if k != "out"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "ray_overhead.json", json.dumps({**measured, "scale": rows}, indent=2))
    write_atomic(args.out / "ray.md", markdown(measured, rows, command))
    from benchmarks import plots

    plots.ray_overhead({**measured, "scale": rows}, args.out / "ray.png")
    print(args.out / "ray.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
