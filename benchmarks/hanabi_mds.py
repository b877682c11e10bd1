"""MDS/MMDS against its blueprint in Hanabi, single-agent search: seat 0 plays the search
bot, the partner the blueprint; every seed is also played by the blueprint in both seats,
on the same deck (paired). Resumable: one JSON line per game in
benchmarks/results/hanabi_mds_games.jsonl, with the sha256 of games/hanabi/rules.py the
process imported (the comparison is pinned to it). `--report` writes hanabi_mds.{json,md}.

    nice -n 15 python -m benchmarks.hanabi_mds --spec mds:eta=5,threshold=1 --games 500
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

from benchmarks.hanabi import play_game

LOG = Path("benchmarks/results/hanabi_mds_games.jsonl")

NOTES = """Notes. Paired: the same seed deals the same deck to the blueprint pair and to the
search pair; only seat 0 searches, so games without a deviation score the same. s/move is
the search bot's thinking time per searched move (half of the moves), measured on the
shared 2-core machine under the load of other jobs (niced), so it overstates the cost.
A group is one version of games/hanabi/rules.py (its sha256 prefix): the blueprint changed
between runs, and each process plays with the version it imported."""


def rules_sha() -> str:
    import games.hanabi.rules as rules

    return hashlib.sha256(Path(rules.__file__).read_bytes()).hexdigest()[:12]


def load(path: Path = LOG) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def play(spec: str, partner: str, seeds: range, shard: int, shards: int) -> None:
    sha = rules_sha()
    done = {(r["bot"], r["partner"], r["seed"], r["rules"]) for r in load()}
    LOG.parent.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        if seed % shards != shard:
            continue
        for bot in (partner, spec):
            if (bot, partner, seed, sha) in done:
                continue
            rec = play_game(bot, 2, seed, partner)
            row = {**asdict(rec), "rules": sha}
            with LOG.open("a") as f:
                f.write(json.dumps(row) + "\n")
            done.add((bot, partner, seed, sha))
            print(f"{bot} seed {seed}: {rec.score:g} ({rec.seconds:.1f} s)", flush=True)


def _mean_se(xs: list[float]) -> tuple[float, float]:
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")
    return statistics.fmean(xs), se


def report(out: Path = Path("benchmarks/results")) -> str:
    rows = load()
    groups: dict[tuple[str, str], dict[str, dict[int, dict[str, object]]]] = {}
    for r in rows:
        key = (str(r["partner"]), str(r["rules"]))
        groups.setdefault(key, {}).setdefault(str(r["bot"]), {})[int(r["seed"])] = r  # type: ignore[call-overload]
    summary = []
    lines = ["# Hanabi MDS/MMDS vs blueprint (2 players, seat 0 searches, partner = blueprint)"]
    for (partner, sha), bots in groups.items():
        base = bots.get(partner, {})
        lines += ["", f"Blueprint `{partner}`, games/hanabi/rules.py sha256 {sha}…", ""]
        lines += [
            "| bot | paired games | bot mean | blueprint mean | diff ± SE | s/move | "
            "deviations/game | illegal |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for bot, recs in bots.items():
            if bot == partner:
                continue
            seeds = sorted(s for s in recs if s in base)
            if not seeds:
                continue
            diffs = [float(recs[s]["score"]) - float(base[s]["score"]) for s in seeds]  # type: ignore[arg-type]
            mean, se = _mean_se(diffs)
            ours = statistics.fmean(float(recs[s]["score"]) for s in seeds)  # type: ignore[arg-type]
            theirs = statistics.fmean(float(base[s]["score"]) for s in seeds)  # type: ignore[arg-type]
            secs = sum(float(recs[s]["seconds"]) for s in seeds)  # type: ignore[arg-type]
            # Only seat 0 searches: about half of the moves.
            moves = sum(int(recs[s]["moves"]) for s in seeds) / 2  # type: ignore[call-overload]
            devs = sum(int(recs[s]["deviations"]) for s in seeds) / len(seeds)  # type: ignore[call-overload]
            bad = sum(int(recs[s]["illegal"]) for s in seeds)  # type: ignore[call-overload]
            summary.append(
                {
                    "bot": bot,
                    "partner": partner,
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
                f"| `{bot}` | {len(seeds)} | {ours:.2f} | {theirs:.2f} | {mean:+.2f} ± {se:.2f} | "
                f"{secs / max(moves, 1):.2f} | {devs:.2f} | {bad} |"
            )
    lines += ["", NOTES]
    text = "\n".join(lines) + "\n"
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
    ap.add_argument("--partner", default="hanabi_rules")
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
        play(spec, args.partner, range(args.seed, args.seed + args.games), shard, shards)


if __name__ == "__main__":
    main()
