"""The distilled Hanabi blueprint's pipeline (games/hanabi/distill.py), on tuning decks.

    python -m benchmarks.hanabi_distill label --out DIR --games 2000 --shard 0/2 &
    python -m benchmarks.hanabi_distill label --out DIR --games 2000 --shard 1/2
    python -m benchmarks.hanabi_distill train --data DIR --out FILE

`label`: rule-bot self-play on tuning decks (`benchmarks.protocol.HANABI`, from the
`--first`-th), the searched gain of every legal action at every decision; a chunk of
games is one unit of the run primitive (`foundation.runs`: skip done, error rows), its
labels in an .npz written atomically, so a killed run resumes where it stopped (the
features are not stored: training replays them).
`train`: the gain network, saved as a `hanabi_learned:path=FILE` model.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.protocol import HANABI
from foundation.runs import RunLog, run_units


def label(
    out: Path,
    first: int,
    games: int,
    worlds: int,
    chunk: int = 10,
    shard: str = "0/1",
    keep: int = 0,
    fresh: int = 14,
) -> None:
    """Label `games` tuning decks from the `first`-th, `chunk` games per unit (`keep`,
    `fresh`: see `games.hanabi.distill.label_game`)."""
    from games.hanabi.distill import label_game

    seeds = HANABI.seeds("tuning", games, first)
    i, n = (int(v) for v in shard.split("/"))
    out.mkdir(parents=True, exist_ok=True)
    log = RunLog(
        out / "chunks.jsonl",
        key=lambda r: (r["first"], r["worlds"], r.get("keep", 0)),
        sort_keys=False,
    )
    starts = [s for k, s in enumerate(range(seeds.start, seeds.stop, chunk)) if k % n == i]

    def work(start: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        stop = min(start + chunk, seeds.stop)
        parts = [label_game(s, worlds, keep=keep, fresh=fresh) for s in range(start, stop)]
        merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        name = f"chunk_{start}_w{worlds}" + (f"_k{keep}" if keep else "")
        path, tmp = out / f"{name}.npz", out / f".{name}.tmp.npz"
        # No features (`label_game` leaves them to `load_data`, which replays them): a
        # label run's chunks are small enough to keep with the repository's results.
        np.savez_compressed(
            tmp, bp=merged["bp"], gain=merged["gain"], gain2=merged["gain2"],
            w2=merged["w2"], seed=merged["seed"], score=merged["score"],
        )  # fmt: skip
        os.replace(tmp, path)
        return {
            "first": start, "worlds": worlds, "keep": keep, "file": path.name, "games": len(parts),
            "decisions": len(merged["bp"]), "seconds": time.perf_counter() - t0,
        }  # fmt: skip

    def say(start: int, row: dict[str, Any] | None) -> None:
        if row is not None:
            print(
                f"chunk {start}: {row['decisions']} decisions, {row['seconds']:.0f} s", flush=True
            )

    run_units(log, starts, key=lambda s: (s, worlds, keep), work=work, on_row=say)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lab = sub.add_parser("label", help="search-labelled rule-bot games on tuning decks")
    lab.add_argument("--out", type=Path, required=True)
    lab.add_argument("--first", type=int, default=10_000, help="offset in the tuning seeds")
    lab.add_argument("--games", type=int, default=200)
    lab.add_argument("--worlds", type=int, default=2, help="sampled worlds per decision")
    lab.add_argument("--chunk", type=int, default=10, help="games per unit")
    lab.add_argument("--shard", default="0/1", help="i/n: every n-th chunk from the i-th")
    lab.add_argument("--keep", type=int, default=0, help="actions re-rolled in fresh worlds")
    lab.add_argument("--fresh", type=int, default=14, help="fresh worlds for the kept actions")
    tr = sub.add_parser("train", help="fit the gain network")
    tr.add_argument("--data", type=Path, required=True, help="the label run's directory")
    tr.add_argument("--out", type=Path, required=True)
    tr.add_argument("--epochs", type=int, default=20)
    tr.add_argument("--hidden", type=int, default=256)
    tr.add_argument("--layers", type=int, default=2)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--margin", type=float, default=0.5, help="default deviation margin")
    tr.add_argument(
        "--members", type=int, default=5,
        help="networks in the ensemble (a deviation needs all of them to expect a gain)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.cmd == "label":
        label(args.out, args.first, args.games, args.worlds, args.chunk, args.shard, args.keep,
              args.fresh)  # fmt: skip
        return
    from games.hanabi.distill import train

    train(args.data, args.out, args.epochs, args.hidden, args.layers, args.lr,
          margin=args.margin, members=args.members)  # fmt: skip


if __name__ == "__main__":
    main()
