"""MDS/MMDS against its blueprint in Hanabi: seat 0 plays the search bot and the partner
the blueprint (`--seats 0`, single-agent search), or the search bot plays every seat
(`--seats all`; each searcher assumes the others follow the blueprint); every seed is also
played by the blueprint in both seats, on the same deck (paired). Resumable: one JSON
line per game in benchmarks/results/hanabi_mds_games.jsonl, with the sha256 of
games/hanabi/rules.py the process imported (the comparison is pinned to it). `--report`
writes hanabi_mds.{json,md}. Shards (`--shard i/n`) may run at once: each appends whole
lines.

    S=mds:eta=10,rollouts=160,keep=1,screen=2,floor=0.1,threshold=0.5,z=2
    python -m benchmarks.hanabi_mds --spec $S --seats all --games 500 --shard 0/2 &
    python -m benchmarks.hanabi_mds --spec $S --seats all --games 500 --shard 1/2
    python -m benchmarks.hanabi_mds --report
    python -m benchmarks.hanabi_mds --selfplay hanabi_learned --games 200
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
from foundation.jsonl import read_rows
from foundation.runs import RunLog, run_units

LOG = Path("benchmarks/results/hanabi_mds_games.jsonl")

NOTES = """Notes. Paired: the same seed deals the same deck to the blueprint pair and to the
search pair, so games without a deviation score the same. Seats: 0 = only seat 0 searches
(the partner is the blueprint), all = every seat searches. s/move is the search bot's
thinking time per searched move, measured on the shared 2-core machine while other jobs
ran (two to five processes at once), so it overstates the cost of one search alone.
A group is one version of games/hanabi/rules.py (its sha256 prefix): the blueprint changed
between runs, and each process plays with the version it imported."""


def rules_sha() -> str:
    import games.hanabi.rules as rules

    return hashlib.sha256(Path(rules.__file__).read_bytes()).hexdigest()[:12]


def load(path: Path = LOG) -> list[dict[str, Any]]:
    """The logged games; a torn last line (a run killed mid-write) is skipped."""
    return list(read_rows(path))


def _seats(row: dict[str, object]) -> str:
    return str(row.get("seats", "0"))  # rows from before --seats searched in seat 0


def play(spec: str, partner: str, seeds: range, shard: int, shards: int, seats: str = "0") -> None:
    """Play `spec` (in seat 0, or in every seat) and the blueprint pair on each seed of the
    shard, skipping games already in the log; one fsynced line per game."""
    sha = rules_sha()
    log = RunLog(
        LOG, key=lambda r: (r["bot"], r["partner"], r["seed"], r["rules"], _seats(r)),
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
        return {**asdict(rec), "partner": partner, "rules": sha, "seats": where}

    def say(unit: tuple[str, str, int], row: dict[str, Any] | None) -> None:
        if row is not None:
            bot, where, seed = unit
            print(f"{bot} seats {where} seed {seed}: {row['score']:g} ({row['seconds']:.1f} s)",
                  flush=True)  # fmt: skip

    run_units(log, units, key=lambda u: (u[0], partner, u[2], sha, u[1]), work=game, on_row=say)


def _mean_se(xs: list[float]) -> tuple[float, float]:
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")
    return statistics.fmean(xs), se


def report(out: Path = Path("benchmarks/results")) -> str:
    rows = load()
    groups: dict[tuple[str, str], dict[tuple[str, str], dict[int, dict[str, Any]]]] = {}
    for r in rows:
        key = (str(r["partner"]), str(r["rules"]))
        who = (str(r["bot"]), _seats(r))
        groups.setdefault(key, {}).setdefault(who, {})[int(r["seed"])] = r
    summary = []
    lines = ["# Hanabi MDS/MMDS vs blueprint (2 players, paired decks)"]
    for (partner, sha), bots in groups.items():
        base = bots.get((partner, "0"), {})
        lines += ["", f"Blueprint `{partner}`, games/hanabi/rules.py sha256 {sha}…", ""]
        lines += [
            "| bot | seats | paired games | bot mean | blueprint mean | diff ± SE | s/move | "
            "deviations/game | illegal |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for (bot, seats), recs in bots.items():
            if bot == partner:
                continue
            seeds = sorted(s for s in recs if s in base)
            if not seeds:
                continue
            diffs = [float(recs[s]["score"]) - float(base[s]["score"]) for s in seeds]
            mean, se = _mean_se(diffs)
            ours = statistics.fmean(float(recs[s]["score"]) for s in seeds)
            theirs = statistics.fmean(float(base[s]["score"]) for s in seeds)
            secs = sum((float(recs[s]["seconds"]) for s in seeds), 0.0)
            # Seat 0 alone makes about half of the moves (two players).
            moves = sum(int(recs[s]["moves"]) for s in seeds) / (1 if seats == "all" else 2)
            devs = sum(int(recs[s]["deviations"]) for s in seeds) / len(seeds)
            bad = sum(int(recs[s]["illegal"]) for s in seeds)
            summary.append(
                {
                    "bot": bot,
                    "partner": partner,
                    "seats": seats,
                    "rules_sha": sha,
                    "games": len(seeds),
                    "mean": ours,
                    "blueprint_mean": theirs,
                    "mean_diff": mean,
                    "se": se,
                    "seconds_per_searched_move": secs / max(moves, 1),
                    "deviations_per_game": devs,
                    "illegal": bad,
                }
            )
            lines.append(
                f"| `{bot}` | {seats} | {len(seeds)} | {ours:.2f} | {theirs:.2f} | {mean:+.2f} ± {se:.2f} | "
                f"{secs / max(moves, 1):.2f} | {devs:.2f} | {bad} |"
            )
    lines += ["", NOTES]
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hanabi_mds.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "hanabi_mds.md").write_text(text)
    return text


def selfplay(spec: str, games: int, seed: int = 0) -> str:
    """Mean ± SE of `spec` in both seats over `games` decks (seeds from `seed`)."""
    recs = [play_game(spec, 2, s) for s in range(seed, seed + games)]
    mean, se = _mean_se([r.score for r in recs])
    zeros = sum(r.score == 0 for r in recs)
    illegal = sum(r.illegal for r in recs)
    return (
        f"{spec}: {games} self-play games (seeds {seed}..{seed + games - 1}, rules.py "
        f"{rules_sha()}): mean {mean:.2f} ± {se:.2f}, zeros {zeros}, illegal {illegal}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", action="append", default=[], help="search bot spec (repeatable)")
    ap.add_argument("--partner", default="hanabi_rules", help="the blueprint (baseline pair)")
    ap.add_argument(
        "--seats", choices=("0", "all"), default="0", help="0: seat 0 searches; all: every seat"
    )
    ap.add_argument("--games", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shard", default="0/1", help="i/n: play the seeds with seed %% n == i")
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--selfplay", default=None, help="only play SPEC in both seats")
    args = ap.parse_args()
    if args.selfplay:
        print(selfplay(args.selfplay, args.games, args.seed))
        return
    if args.report:
        print(report(), end="")
        return
    shard, shards = (int(x) for x in args.shard.split("/"))
    for spec in args.spec:
        play(
            spec, args.partner, range(args.seed, args.seed + args.games), shard, shards, args.seats
        )


if __name__ == "__main__":
    main()
