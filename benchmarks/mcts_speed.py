"""Our MCTS against OpenSpiel's Python `MCTSBot` and C++ `pyspiel.MCTSBot`.

Same game, same kind of leaf evaluator (one uniformly random rollout), same
UCT constant, no solver, no tree reuse unless asked. Measures:
1. simulations per second of each engine at an equal simulation count, over a
   few seeded positions (median of the samples);
2. head-to-head scores with sides swapped every game, (a) at equal simulations
   and (b) at equal wall-clock time per move. OpenSpiel's Python bot has no time
   budget, so for (b) it gets the simulations it can do in that time at the
   rate measured in step 1.
3. where our time goes: an instrumented run of our search splits its time per
   simulation into the C++ rollout, computing child states, expansion, and the
   rest (selection and backup, in Python), beside the reference Node-tree `MCTS`
   with the same evaluator and OpenSpiel's C++ bot.
Games are appended to a JSONL log as they finish; a rerun with the same
settings skips them (resumable). Reports: JSON, a markdown table, a PNG plot.

With a Ray executor (`foundation.executors`) only the games move: each game is a Ray
task (seconds each at the default budgets: no batching), while the speed test and the
profile still run here, alone, before them. The equal-simulation games' results are a
local run's; their ms/move, and the equal-time games' budgets, are the workers' clocks
(the Python bot's equal-time simulations still come from this machine's measured rate).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from foundation.executors import parse_executor
from foundation.runs import RunLog, run_units

PAIRINGS = ("sims_python", "sims_cpp", "time_python", "time_cpp")
ENGINE = "flat-1"
"""Version of our engine in the game log's key: bump it when our bot's play changes, so a
resumed run does not mix games of two engines."""


@dataclass(frozen=True)
class BenchConfig:
    """Settings of one benchmark run; every field is a CLI option of `agents bench mcts`."""

    game: str = "connect_four"
    sims: int = 1000
    """Simulations per move in the speed test and the equal-simulation matches."""
    games: int = 200
    """Games per pairing (sides swapped every game)."""
    seconds: float = 0.05
    """Wall-clock seconds per move in the equal-time matches."""
    positions: int = 4
    """Seeded opening positions (0, 2, 4, ... random plies in) for the speed test."""
    reps: int = 3
    """Timed searches per engine and position."""
    workers: int = 2
    """Processes playing games in parallel (the speed test always runs alone)."""
    seed: int = 0
    reuse: bool = False
    """Let our MCTS keep its subtree between moves (the OpenSpiel bots cannot)."""
    pairings: tuple[str, ...] = PAIRINGS
    out: str = "benchmarks/results"
    note: str = ""
    """Free text for the report (e.g. which seeds development used); no effect on the run."""

    def key(self) -> str:
        """Identifies the settings that change game outcomes (for resuming the log)."""
        raw = json.dumps([self.game, self.sims, self.seconds, self.seed, self.reuse, ENGINE])
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Pairing:
    name: str
    ours: str
    theirs: str
    theirs_label: str
    budget: str


@dataclass
class Progress:
    """Where the run reports what it is doing (the CLI prints it)."""

    say: Callable[[str], None] = field(default=lambda _: None)


# ------------------------------------------------------------------ speed


def _positions(game: Any, count: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        state = game.new_initial_state()
        for _ in range(2 * i):
            if state.is_terminal():
                break
            state.apply_action(rng.choice(state.legal_actions()))
        if state.is_terminal():
            state = game.new_initial_state()
        out.append(state)
    return out


def measure_speed(cfg: BenchConfig) -> dict[str, Any]:
    """Simulations per second of each engine, `cfg.sims` per search."""
    import pyspiel

    from games.adapter import SpielProblem
    from games.bots import make_bot
    from search import Budget, FlatMCTS, MCTSConfig, RandomRollout

    game = pyspiel.load_game(cfg.game)
    positions = _positions(game, cfg.positions, cfg.seed)
    problem = SpielProblem(game)
    py_rollouts = FlatMCTS(
        problem,
        RandomRollout(problem, seed=cfg.seed),
        MCTSConfig(budget=Budget(simulations=cfg.sims), seed=cfg.seed),
    )
    engines: dict[str, Callable[[Any], Any]] = {
        "ours": make_bot(game, f"mcts:sims={cfg.sims},reuse=0", cfg.seed).step,
        "ours_python_rollouts": lambda s: py_rollouts.search(s.clone()),
        "openspiel_python": make_bot(game, f"openspiel_mcts:sims={cfg.sims}", cfg.seed).step,
        "openspiel_cpp": make_bot(game, f"cpp_mcts:sims={cfg.sims}", cfg.seed).step,
    }
    samples: dict[str, list[float]] = {name: [] for name in engines}
    for state in positions:
        for _ in range(cfg.reps):
            for name, step in engines.items():  # interleaved: drifts in load hit all alike
                t = time.perf_counter()
                step(state)
                samples[name].append(cfg.sims / (time.perf_counter() - t))
    rates = {name: statistics.median(v) for name, v in samples.items()}

    def paired(a: str, b: str) -> float:
        """Median of per-rep ratios: each pair ran back to back, so load drift cancels."""
        return statistics.median(x / y for x, y in zip(samples[a], samples[b], strict=True))

    start = {name: statistics.median(v[: cfg.reps]) for name, v in samples.items()}
    profile = measure_profile(cfg, positions)
    profile["openspiel_cpp_us_per_sim"] = 1e6 / rates["openspiel_cpp"]
    return {
        "profile": profile,
        "sims_per_s_start_position": start,
        "sims_per_search": cfg.sims,
        "positions": len(positions),
        "reps": cfg.reps,
        "sims_per_s": rates,
        "samples": samples,
        "ratio_ours_to_python": paired("ours", "openspiel_python"),
        "ratio_ours_to_cpp": paired("ours", "openspiel_cpp"),
    }


class _Timed:
    """Wraps a callable, adding the seconds spent in it to `total`."""

    def __init__(self, inner: Callable[..., Any]) -> None:
        self.inner = inner
        self.total = 0.0
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        t = time.perf_counter()
        out = self.inner(*args)
        self.total += time.perf_counter() - t
        self.calls += 1
        return out


def measure_profile(cfg: BenchConfig, positions: list[Any]) -> dict[str, Any]:
    """Microseconds per simulation of our search by phase (an instrumented run: each
    wrapped call costs ~0.2 us more), and of the reference Node-tree `MCTS` with the same
    C++ rollouts, over the speed test's positions."""
    from games.adapter import SpielProblem, SpielRolloutEvaluator
    from search import MCTS, Budget, FlatMCTS, MCTSConfig

    game = positions[0].get_game()
    problem = SpielProblem(game)
    config = MCTSConfig(budget=Budget(simulations=cfg.sims), seed=cfg.seed)
    flat = FlatMCTS(problem, SpielRolloutEvaluator(game, seed=cfg.seed), config)
    rollout, advance, expand = _Timed(flat._leaf), _Timed(flat._advance), _Timed(flat._expand)
    flat._leaf, flat._advance, flat._expand = rollout, advance, expand  # type: ignore[method-assign,assignment]
    node_tree = MCTS(problem, SpielRolloutEvaluator(game, seed=cfg.seed), config)
    flat_s = node_s = 0.0
    sims = 0
    for state in positions:
        for _ in range(cfg.reps):
            t = time.perf_counter()
            flat.search(state.clone())
            flat_s += time.perf_counter() - t
            t = time.perf_counter()
            node_tree.search(state.clone())
            node_s += time.perf_counter() - t
            sims += cfg.sims
    us = 1e6 / sims
    phases = {
        "rollout (C++, incl. the call)": rollout.total * us,
        "child state (clone+apply, player)": advance.total * us,
        "expansion (legal moves, shuffle, arrays)": expand.total * us,
    }
    phases["selection + backup (Python)"] = flat_s * us - sum(phases.values())
    return {
        "ours_us_per_sim": flat_s * us,
        "phases_us_per_sim": phases,
        "expansions_per_sim": expand.calls / sims,
        "node_tree_us_per_sim": node_s * us,
    }


# ------------------------------------------------------------------ matches


def play_one(game_name: str, ours: str, theirs: str, ours_seat: int, seed: int) -> dict[str, Any]:
    """One game; returns our return, and each side's mean seconds per move."""
    import pyspiel

    from games.bots import make_bot

    game = pyspiel.load_game(game_name)
    bots = {ours_seat: make_bot(game, ours, seed), 1 - ours_seat: make_bot(game, theirs, seed + 1)}
    rng = random.Random(seed)
    state = game.new_initial_state()
    spent = {0: 0.0, 1: 0.0}
    moves = {0: 0, 1: 0}
    while not state.is_terminal():
        if state.is_chance_node():
            outcomes, probs = zip(*state.chance_outcomes(), strict=True)
            state.apply_action(rng.choices(outcomes, probs)[0])
            continue
        player = state.current_player()
        t = time.perf_counter()
        action = bots[player].step(state)
        spent[player] += time.perf_counter() - t
        moves[player] += 1
        state.apply_action(action)
    other = 1 - ours_seat
    return {
        "ours_return": state.returns()[ours_seat],
        "ours_seat": ours_seat,
        "plies": len(state.history()),
        "ours_s_per_move": spent[ours_seat] / max(moves[ours_seat], 1),
        "theirs_s_per_move": spent[other] / max(moves[other], 1),
    }


def _pairings(cfg: BenchConfig, py_sims: int) -> list[Pairing]:
    reuse = int(cfg.reuse)
    table = {
        "sims_python": Pairing(
            "sims_python", f"mcts:sims={cfg.sims},reuse={reuse}",
            f"openspiel_mcts:sims={cfg.sims}", "OpenSpiel Python MCTS", f"{cfg.sims} sims/move",
        ),
        "sims_cpp": Pairing(
            "sims_cpp", f"mcts:sims={cfg.sims},reuse={reuse}",
            f"cpp_mcts:sims={cfg.sims}", "OpenSpiel C++ MCTSBot", f"{cfg.sims} sims/move",
        ),
        "time_python": Pairing(
            "time_python", f"mcts:seconds={cfg.seconds},reuse={reuse}",
            f"openspiel_mcts:sims={py_sims}", "OpenSpiel Python MCTS",
            f"{cfg.seconds}s/move (Python bot: {py_sims} sims = its rate x time)",
        ),
        "time_cpp": Pairing(
            "time_cpp", f"mcts:seconds={cfg.seconds},reuse={reuse}",
            f"cpp_mcts:seconds={cfg.seconds}", "OpenSpiel C++ MCTSBot", f"{cfg.seconds}s/move",
        ),
    }  # fmt: skip
    unknown = set(cfg.pairings) - set(table)
    if unknown:
        raise ValueError(f"unknown pairing(s) {sorted(unknown)}; valid: {', '.join(PAIRINGS)}")
    return [table[name] for name in cfg.pairings]


def _score(records: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [
        1.0 if r["ours_return"] > 0 else 0.5 if r["ours_return"] == 0 else 0.0 for r in records
    ]
    n = len(scores)
    mean = sum(scores) / n if n else 0.0
    sd = statistics.pstdev(scores) if n > 1 else 0.0
    half = 1.96 * sd / math.sqrt(n) if n else 0.0
    first = [s for s, r in zip(scores, records, strict=True) if r["ours_seat"] == 0]
    second = [s for s, r in zip(scores, records, strict=True) if r["ours_seat"] == 1]
    return {
        "games": n,
        "wins": scores.count(1.0),
        "draws": scores.count(0.5),
        "losses": scores.count(0.0),
        "score": mean,
        "ci95": [max(0.0, mean - half), min(1.0, mean + half)],
        "score_moving_first": sum(first) / len(first) if first else None,
        "score_moving_second": sum(second) / len(second) if second else None,
        "ours_ms_per_move": 1000 * statistics.mean(r["ours_s_per_move"] for r in records)
        if n
        else 0,
        "theirs_ms_per_move": 1000 * statistics.mean(r["theirs_s_per_move"] for r in records)
        if n
        else 0,
    }


def _play_job(game: str, seed: int, key: str, job: tuple[Pairing, int]) -> dict[str, Any]:
    """One game of a pairing, in a worker process: its log row."""
    p, i = job
    rec = {"key": key, "pairing": p.name, "index": i, "ours": p.ours, "theirs": p.theirs}
    rec.update(play_one(game, p.ours, p.theirs, i % 2, seed * 100_003 + 2 * i))
    return rec


def run_matches(
    cfg: BenchConfig,
    python_rate: float,
    log_path: Path,
    progress: Progress,
    executor: str = "local",
) -> dict[str, Any]:
    key = cfg.key()
    log = RunLog(
        log_path, key=lambda r: (r["pairing"], r["index"]) if r.get("key") == key else None
    )
    done = log.done
    # The Python bot's equal-time budget is fixed by the first run, so resumed games match.
    recorded = [r["theirs"] for r in done.values() if r["pairing"] == "time_python"]
    py_sims = (
        int(recorded[0].rpartition("=")[2])
        if recorded
        else max(1, round(python_rate * cfg.seconds))
    )
    pairings = _pairings(cfg, py_sims)
    jobs = [(p, i) for p in pairings for i in range(cfg.games)]
    if len(done):
        progress.say(f"resuming: {len(done)} games already in {log_path}")
    played = 0

    def report(job: tuple[Pairing, int], row: dict[str, Any] | None) -> None:
        nonlocal played
        if row is not None:
            played += 1
            if played % 20 == 0:
                progress.say(f"{played} games played")

    outcome = run_units(
        log, jobs, key=lambda job: (job[0].name, job[1]),
        work=functools.partial(_play_job, cfg.game, cfg.seed, key),
        workers=max(1, cfg.workers), processes=True, on_row=report, executor=executor,
    )  # fmt: skip
    if outcome.new:
        progress.say(f"{len(outcome.new)} games played")
    out = {}
    for p in pairings:
        records = [done[(p.name, i)] for i in range(cfg.games)]
        out[p.name] = {"opponent": p.theirs_label, "budget": p.budget, "ours": p.ours,
                       "theirs": p.theirs, **_score(records)}  # fmt: skip
    return out


# ------------------------------------------------------------------ reports


def run(
    cfg: BenchConfig, progress: Progress | None = None, executor: str = "local"
) -> dict[str, Any]:
    """The whole benchmark: speed (here), then the matches (on `executor`: how, not what,
    so not part of `cfg` or the games' key); returns the JSON-able result."""
    import os
    import platform

    executor = str(parse_executor(executor))
    progress = progress or Progress()
    progress.say(f"speed: {cfg.sims} sims x {cfg.positions} positions x {cfg.reps} reps")
    speed = measure_speed(cfg)
    python_rate = speed["sims_per_s"]["openspiel_python"]
    progress.say("sims/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in speed["sims_per_s"].items()))
    log = Path(cfg.out) / "mcts_speed.games.jsonl"
    matches = run_matches(cfg, python_rate, log, progress, executor)
    return {
        "config": {**asdict(cfg), "pairings": list(cfg.pairings)},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "executor": executor,
        "speed": speed,
        "matches": matches,
        "checks": _checks(speed, matches),
    }


def _checks(speed: dict[str, Any], matches: dict[str, Any]) -> dict[str, Any]:
    checks: dict[str, Any] = {
        "ours_3x_python": speed["ratio_ours_to_python"] >= 3.0,
        "ours_0.6x_cpp_sims_per_s": speed["ratio_ours_to_cpp"] >= 0.6,
    }
    sims = matches.get("sims_python")
    if sims:
        checks["equal_sims_45_55_over_200"] = sims["games"] >= 200 and 0.45 <= sims["score"] <= 0.55
    timed = matches.get("time_cpp")
    if timed:
        checks["equal_time_vs_cpp_score_0.45_over_200"] = (
            timed["games"] >= 200 and timed["score"] >= 0.45
        )
    return checks


def write_reports(result: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    slim = {**result, "speed": {k: v for k, v in result["speed"].items() if k != "samples"}}
    paths = [out_dir / "mcts_speed.json", out_dir / "mcts_speed.md", out_dir / "mcts_speed.png"]
    paths[0].write_text(json.dumps(result, indent=2) + "\n")
    paths[1].write_text(markdown(slim))
    _plot(result, paths[2])
    return paths


def markdown(result: dict[str, Any]) -> str:
    cfg = result["config"]
    speed = result["speed"]
    rates = speed["sims_per_s"]
    py, cpp = rates["openspiel_python"], rates["openspiel_cpp"]
    from benchmarks.protocol import MCTS

    seed = cfg.get("seed", 0)
    split = MCTS.which(range(int(seed), int(seed) + 1))
    lines = [
        f"# MCTS speed and strength: {cfg['game']}",
        "",
        f"One random rollout per leaf, UCT c=2, no solver, tree reuse {'on' if cfg['reuse'] else 'off'}; "
        f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}.",
        "",
        MCTS.describe()
        if split == "evaluation"
        else f"Seed {seed} is a {split or 'non-protocol'} seed: the evaluation seed is "
        f"{MCTS.evaluation.start} (benchmarks/protocol.py).",
        "",
        f"## Simulations per second ({speed['sims_per_search']} sims per search, median of "
        f"{speed['positions']} positions x {speed['reps']} reps)",
        "",
        "| engine | sims/s | x OpenSpiel Python | x OpenSpiel C++ | sims/s, start position |",
        "|---|---:|---:|---:|---:|",
    ]
    start = speed.get("sims_per_s_start_position", {})
    for name, rate in rates.items():
        lines.append(
            f"| {name} | {rate:,.0f} | {rate / py:.2f} | {rate / cpp:.2f} | {start.get(name, 0):,.0f} |"
        )
    if "ratio_ours_to_python" in speed:
        lines += [
            "",
            f"Paired ratios (median over back-to-back runs, robust to machine load): ours / "
            f"OpenSpiel Python = **{speed['ratio_ours_to_python']:.2f}x**, ours / OpenSpiel C++ = "
            f"**{speed['ratio_ours_to_cpp']:.2f}x**.",
        ]
    profile = speed.get("profile")
    if profile:
        lines += [
            "",
            "## Where the time goes (us per simulation, instrumented run of ours)",
            "",
            "| phase | us/sim |",
            "|---|---:|",
            *(f"| {k} | {v:.2f} |" for k, v in profile["phases_us_per_sim"].items()),
            f"| **total, ours** | **{profile['ours_us_per_sim']:.2f}** |",
            f"| reference Node-tree MCTS, same C++ rollouts | {profile['node_tree_us_per_sim']:.2f} |",
            f"| OpenSpiel C++ MCTSBot (whole simulation) | {profile['openspiel_cpp_us_per_sim']:.2f} |",
            "",
            f"{profile['expansions_per_sim']:.2f} expansions per simulation.",
        ]
    lines += [
        "",
        "## Head to head (sides swapped every game; score = wins + draws/2)",
        "",
        *_where(result.get("executor", "local")),
        "| ours vs | budget | games | W-D-L | our score | 95% CI | ms/move ours | ms/move theirs |",
        "|---|---|---:|---|---:|---|---:|---:|",
    ]
    for m in result["matches"].values():
        lines.append(
            f"| {m['opponent']} | {m['budget']} | {m['games']} | {m['wins']}-{m['draws']}-{m['losses']} "
            f"| {m['score']:.3f} | {m['ci95'][0]:.3f}-{m['ci95'][1]:.3f} "
            f"| {m['ours_ms_per_move']:.1f} | {m['theirs_ms_per_move']:.1f} |"
        )
    games = max((m["games"] for m in result["matches"].values()), default=0)
    lines += [
        "",
        "## Seeds",
        "",
        f"Speed test: positions from `random.Random({seed})` (0, 2, 4, ... random plies in); "
        f"every engine seeded with {seed}. Game i of each pairing (i = 0..{max(games - 1, 0)}): "
        f"our bot seeded {seed} * 100003 + 2i, the opponent that + 1, chance outcomes from "
        "the game's seed; we move first in even games.",
    ]
    if cfg.get("note"):
        lines += ["", str(cfg["note"])]
    lines += ["", "## Checks (the speed and strength targets)", ""]
    for name, ok in result["checks"].items():
        lines.append(f"- {'PASS' if ok else 'FAIL'}: {name}")
    return "\n".join(lines) + "\n"


def _where(executor: str) -> list[str]:
    """A line saying where the games ran, when not here."""
    if parse_executor(executor).kind == "local":
        return []
    return [
        f"Games played as Ray tasks (`--executor {executor}`): ms/move and the equal-time "
        "budgets are the workers' clocks; the speed test above ran here.",
        "",
    ]


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rates = result["speed"]["sims_per_s"]
    matches = result["matches"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(rates)
    left.barh(
        names, [rates[n] for n in names], color=["tab:blue", "tab:cyan", "tab:orange", "tab:red"]
    )
    left.set_xscale("log")
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for i, n in enumerate(names):
        left.text(rates[n], i, f" {rates[n]:,.0f}", va="center", fontsize=8)
    left.set_xlim(right=max(rates.values()) * 4)
    left.set_xlabel("simulations per second (log)")
    left.set_title(f"{result['config']['game']}: {result['speed']['sims_per_search']} sims/search")
    labels = [
        f"{m['opponent'].replace('OpenSpiel ', '')}\n{m['budget'].split(' (')[0]}"
        for m in matches.values()
    ]
    scores = [m["score"] for m in matches.values()]
    err = [
        [m["score"] - m["ci95"][0] for m in matches.values()],
        [m["ci95"][1] - m["score"] for m in matches.values()],
    ]
    right.bar(range(len(scores)), scores, yerr=err, capsize=4, color="tab:blue")
    right.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    right.set_xticks(range(len(scores)), labels, fontsize=8)
    right.set_ylim(0, 1)
    right.set_ylabel("our score (95% CI)")
    right.set_title("head to head, sides swapped")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
