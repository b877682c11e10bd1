"""Does self-play fitting of the rule bot's own numbers beat it? (docs/hanabi_blueprint.md)

    python -m benchmarks.hanabi_rule_params --games 3000 --first 100000

Plays rule-bot self-play on paired tuning decks with each variant of its module constants
(`STALL_RISK`, `MYSTERY_DECK`) and of a minimum probability for its bets, and prints each
variant's mean and paired difference to the current values with its standard error. A
variant is set by rebinding `games.hanabi.rules`' constants inside a worker process of
its own (a fresh pool per variant), so nothing else sees it. A game costs about
2 ms, so no run log: a rerun takes seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from typing import Any

VARIANTS: list[dict[str, Any]] = [
    {},
    {"stall": 0.0}, {"stall": 0.03}, {"stall": 0.05}, {"stall": 0.08}, {"stall": 0.12},
    {"stall": 0.15},
    {"mystery": {3: 3, 2: 0}}, {"mystery": {3: 3, 2: 2}}, {"mystery": {3: 1, 2: 1}},
    {"pmin": 0.1}, {"pmin": 0.2},
]  # fmt: skip
"""The current values ({}) first: stall = STALL_RISK, mystery = MYSTERY_DECK (lives ->
the deck size from which it bets), pmin = the least playable probability of a bet."""


def _set(variant: dict[str, Any]) -> None:
    import games.hanabi.rules as rules

    # A fresh process: the module's values are still the current ones.
    rules.STALL_RISK = float(variant.get("stall", rules.STALL_RISK))
    rules.MYSTERY_DECK = dict(variant.get("mystery", rules.MYSTERY_DECK))
    pmin = float(variant.get("pmin", 0.0))
    if pmin <= 0:
        return
    mystery: Callable[..., int | None] = rules._mystery  # the original: a fresh process

    def bounded(t: Any, pub: Any, eyes: Any) -> int | None:
        best = mystery(t, pub, eyes)
        if best is None or eyes.prob(best, pub.playable) < pmin:
            return None
        return best

    rules._mystery = bounded


def _play(seed: int) -> float:
    from games.hanabi.distill import decisions

    # Rule-bot self-play: the state of its last decision ends as the finished game.
    state = deque(decisions(seed), maxlen=1)[0][0]
    assert state.is_terminal()
    return float(state.returns()[0])


def scores(variant: dict[str, Any], seeds: Sequence[int], workers: int = 2) -> list[float]:
    """Self-play scores of `variant` on `seeds`, in order."""
    with get_context("spawn").Pool(workers, initializer=_set, initargs=(variant,)) as pool:
        return pool.map(_play, seeds, chunksize=50)


def main(argv: Sequence[str] | None = None) -> None:
    from benchmarks.protocol import HANABI

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=3000)
    ap.add_argument("--first", type=int, default=100_000, help="offset in the tuning seeds")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    seeds = list(HANABI.seeds("tuning", args.games, args.first))
    print(f"tuning decks {seeds[0]}..{seeds[-1]}, rule-bot self-play", flush=True)
    base: list[float] = []
    for variant in VARIANTS:
        got = scores(variant, seeds, args.workers)
        base = base or got
        diff = [a - b for a, b in zip(got, base, strict=True)]
        se = statistics.pstdev(diff) / len(diff) ** 0.5
        print(
            f"{json.dumps(variant) if variant else 'current':32s} mean {statistics.mean(got):.3f}  "
            f"paired {statistics.mean(diff):+.3f} ± {se:.3f} (SE)",
            flush=True,
        )


if __name__ == "__main__":
    main()
