"""Search bots (MDS, MMDS, SPARTA) against their blueprint in Hanabi, on paired decks.

Seat 0 plays the search bot and the partner the blueprint (`--seats 0`, single-agent
search), or the search bot plays every seat (`--seats all`; each searcher assumes the
others follow the blueprint); every seed is also played by the blueprint in both seats,
on the same deck (paired). Seeds follow the protocol of `benchmarks.protocol.HANABI`:
evaluation seeds by default, `--tuning` for choosing configurations; `--seed` is the
offset within the split. Resumable: one JSON line per game in
benchmarks/results/hanabi_mds_games.jsonl, with the blueprint's hash (the sha256 of
games/hanabi/rules.py, and of the weights for a learned blueprint) the process played
with. `--report` writes hanabi_mds.{json,md} from the evaluation games of the current
blueprints only. Shards (`--shard i/n`) may run at once: each appends whole lines.

    S=mds:eta=10,rollouts=160,keep=1,screen=2,floor=0.1,threshold=0.5,z=2
    python -m benchmarks.hanabi_mds --spec $S --seats all --games 500 --shard 0/2 &
    python -m benchmarks.hanabi_mds --spec $S --seats all --games 500 --shard 1/2
    python -m benchmarks.hanabi_mds --report
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.hanabi import play_game
from benchmarks.protocol import HANABI, SplitName
from foundation.jsonl import read_rows
from foundation.runs import RunLog, run_units

LOG = Path("benchmarks/results/hanabi_mds_games.jsonl")
Z95 = 1.959964
"""The normal quantile of a two-sided 95% interval (every row has >= 100 paired games)."""

NOTES = """Notes. Paired: the same seed deals the same deck to the blueprint pair and to the
search pair, so games without a deviation score the same; the interval is mean ± 1.96 SE of
the per-deck differences. Seats: 0 = only seat 0 searches (the partner is the blueprint),
all = every seat searches. s/move is the search bot's thinking time per searched move on
the 2-core machine, two games at once and, for part of the run, other jobs beside them (a
third process, a CI run), so it overstates one search alone. Equal time: the search rows
at 160 and 240 rollouts share a time per move (SPARTA's 240 matched MDS's 160 in time on
tuning seeds), so their s/move is the measure of equal time; MDS at rollouts=320 spends
twice MDS's budget, the 1 s a move the target allows, and is not an equal-time row. A group is
one blueprint: its spec and the sha256 prefix of its code (and weights); rows played with
an older blueprint are left out.

SPARTA and MMDS. SPARTA's rule (the paper's: play the greedy action when its mean gain
over the blueprint's action exceeds threshold 0.05) spreads the rollouts over every legal
action, about a dozen worlds each at 240 rollouts, and the largest of some fifteen noisy
gains clears 0.05 at most moves: at this budget it deviates on noise (the paper ran far
more rollouts a move). `z=2` adds MDS's guard, which also asks the gain to exceed two
standard errors. MMDS with the blueprint as magnet and eta * alpha = 1 is, in closed form,
MDS at half the step size (pi' ∝ pi * exp(eta * q / 2)), so it needs about twice MDS's gain
to leave the blueprint."""


def _sha(*paths: Path) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def blueprint_sha(partner: str) -> str:
    """The blueprint's fingerprint: games/hanabi/rules.py, plus learned.py and the
    weights for `hanabi_learned` (its features read the rule conventions)."""
    import games.hanabi.rules as rules

    if not partner.startswith("hanabi_learned"):
        return _sha(Path(rules.__file__))
    import games.hanabi.learned as learned
    from games.bots import parse_spec

    path = parse_spec(partner).options.get("path") or str(learned.default_path())
    return _sha(Path(rules.__file__), Path(learned.__file__), Path(path))


def load(path: Path = LOG) -> list[dict[str, Any]]:
    """The logged games; a torn last line (a run killed mid-write) is skipped."""
    return list(read_rows(path))


def play(
    spec: str,
    partner: str,
    seeds: range,
    shard: int,
    shards: int,
    seats: str = "0",
    log_path: Path = LOG,
) -> None:
    """Play `spec` (in seat 0, or in every seat) and the blueprint pair on each seed of the
    shard, skipping games already in the log; one fsynced line per game."""
    sha = blueprint_sha(partner)
    split = HANABI.which(seeds)
    log = RunLog(
        log_path, key=lambda r: (r["bot"], r["partner"], r["seed"], r["blueprint"], r["seats"]),
        sort_keys=False,
    )  # fmt: skip
    units = [
        (bot, where, seed)
        for seed in seeds
        if seed % shards == shard
        for bot, where in ((partner, "0"), (spec, seats))
    ]

    def game(unit: tuple[str, str, int]) -> dict[str, Any]:
        bot, where, seed = unit
        rec = play_game(bot, 2, seed, None if where == "all" else partner)
        return {
            **asdict(rec), "partner": partner, "blueprint": sha, "seats": where, "split": split,
        }  # fmt: skip

    def say(unit: tuple[str, str, int], row: dict[str, Any] | None) -> None:
        if row is not None:
            bot, where, seed = unit
            print(f"{bot} seats {where} seed {seed}: {row['score']:g} ({row['seconds']:.1f} s)",
                  flush=True)  # fmt: skip

    run_units(log, units, key=lambda u: (u[0], partner, u[2], sha, u[1]), work=game, on_row=say)


def _mean_se(xs: list[float]) -> tuple[float, float]:
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")
    return statistics.fmean(xs), se


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per (blueprint, search bot, seats) over the evaluation games played
    with the current version of the blueprint, paired with the blueprint's games."""
    current: dict[str, str] = {}
    groups: dict[str, dict[tuple[str, str], dict[int, dict[str, Any]]]] = {}
    for r in rows:
        if r.get("split") != "evaluation":
            continue
        partner = str(r["partner"])
        if partner not in current:
            current[partner] = blueprint_sha(partner)
        if r["blueprint"] != current[partner]:
            continue
        groups.setdefault(partner, {}).setdefault((str(r["bot"]), str(r["seats"])), {})[
            int(r["seed"])
        ] = r
    summary = []
    for partner, bots in groups.items():
        base = bots.get((partner, "0"), {})
        for (bot, seats), recs in bots.items():
            seeds = sorted(s for s in recs if s in base)
            if bot == partner or not seeds:
                continue
            diffs = [float(recs[s]["score"]) - float(base[s]["score"]) for s in seeds]
            mean, se = _mean_se(diffs)
            secs = math.fsum(float(recs[s]["seconds"]) for s in seeds)
            # Seat 0 alone makes about half of the moves (two players).
            moves = sum(int(recs[s]["moves"]) for s in seeds) / (1 if seats == "all" else 2)
            summary.append(
                {
                    "bot": bot,
                    "partner": partner,
                    "seats": seats,
                    "blueprint_sha": current[partner],
                    "games": len(seeds),
                    "seeds": f"{seeds[0]}..{seeds[-1]}",
                    "mean": statistics.fmean(float(recs[s]["score"]) for s in seeds),
                    "blueprint_mean": statistics.fmean(float(base[s]["score"]) for s in seeds),
                    "mean_diff": mean,
                    "se": se,
                    "ci95": [mean - Z95 * se, mean + Z95 * se],
                    "seconds_per_searched_move": secs / max(moves, 1),
                    "deviations_per_game": sum(int(recs[s]["deviations"]) for s in seeds)
                    / len(seeds),
                    "illegal": sum(int(recs[s]["illegal"]) for s in seeds),
                }
            )
    return summary


def markdown(summary: list[dict[str, Any]]) -> str:
    lines = ["# Hanabi search vs its blueprint (2 players, paired decks)", "", HANABI.describe()]
    lines += ["", "![Gain over the blueprint per search bot](hanabi_mds.png)"]
    for partner in dict.fromkeys(s["partner"] for s in summary):
        rows = [s for s in summary if s["partner"] == partner]
        lines += ["", f"Blueprint `{partner}`, sha256 {rows[0]['blueprint_sha']}…", ""]
        lines += [
            "| bot | seats | paired games | bot mean | blueprint mean | diff [95% interval] | "
            "s/move | deviations/game | illegal |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for s in rows:
            lo, hi = s["ci95"]
            lines.append(
                f"| `{s['bot']}` | {s['seats']} | {s['games']} | {s['mean']:.2f} | "
                f"{s['blueprint_mean']:.2f} | {s['mean_diff']:+.2f} [{lo:+.2f}, {hi:+.2f}] | "
                f"{s['seconds_per_searched_move']:.2f} | {s['deviations_per_game']:.2f} | "
                f"{s['illegal']} |"
            )
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


def report(out: Path = Path("benchmarks/results"), log_path: Path = LOG) -> str:
    """hanabi_mds.{json,md,png} in `out` from the evaluation games of the log."""
    from benchmarks import plots

    summary = summarize(load(log_path))
    text = markdown(summary)
    out.mkdir(parents=True, exist_ok=True)
    result = {"protocol": HANABI.describe(), "rows": summary}
    (out / "hanabi_mds.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "hanabi_mds.md").write_text(text)
    plots.hanabi_search(result, out / "hanabi_mds.png")
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", action="append", default=[], help="search bot spec (repeatable)")
    ap.add_argument("--partner", default="hanabi_rules", help="the blueprint (baseline pair)")
    ap.add_argument(
        "--seats", choices=("0", "all"), default="0", help="0: seat 0 searches; all: every seat"
    )
    ap.add_argument("--games", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="offset of the first seed in the split")
    ap.add_argument("--tuning", action="store_true", help="tuning seeds (default: evaluation)")
    ap.add_argument("--shard", default="0/1", help="i/n: play the seeds with seed %% n == i")
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args()
    if args.report:
        print(report(), end="")
        return
    split: SplitName = "tuning" if args.tuning else "evaluation"
    seeds = HANABI.seeds(split, args.games, args.seed)
    print(f"{split} seeds {seeds.start}..{seeds.stop - 1} ({HANABI.describe()})", flush=True)
    shard, shards = (int(x) for x in args.shard.split("/"))
    for spec in args.spec:
        play(spec, args.partner, seeds, shard, shards, args.seats)


if __name__ == "__main__":
    main()
