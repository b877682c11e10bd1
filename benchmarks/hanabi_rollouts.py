"""Rollouts per second of the rule blueprint from seeded mid-game Hanabi positions, through
the same path MDS uses (belief sample, state rebuild, native clone, blueprint to the end).

    python -m benchmarks.hanabi_rollouts --positions 5 --rollouts 200
"""

from __future__ import annotations

import argparse
import random
import time

from games.hanabi.game import HanabiConfig
from games.hanabi.mds_bot import MDSBot
from games.hanabi.rules import RuleBot
from search.mirror_descent import MDSConfig


def positions(count: int, moves: int = 20) -> list:  # type: ignore[type-arg]
    game = HanabiConfig().load()
    out = []
    for seed in range(count):
        rng = random.Random(seed)
        bot = RuleBot(game, seed)
        state = game.new_initial_state()
        while state.is_chance_node() or len(state.history()) < 20 + moves:
            if state.is_chance_node():
                outcomes, probs = zip(*state.chance_outcomes(), strict=True)
                state.apply_action(rng.choices(outcomes, probs)[0])
            else:
                state.apply_action(bot.step(state))
        out.append((game, state))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=5)
    ap.add_argument("--rollouts", type=int, default=200)
    args = ap.parse_args()
    total = 0
    spent = 0.0
    for k, (game, state) in enumerate(positions(args.positions)):
        bot = MDSBot(game, MDSConfig(eta=1.0, rollouts=args.rollouts, prior_floor=0.1), k)
        t0 = time.perf_counter()
        bot.step(state)
        spent += time.perf_counter() - t0
        total += bot.rollouts
    print(f"{total} rollouts in {spent:.2f} s: {total / spent:.0f} rollouts/s (one process)")


if __name__ == "__main__":
    main()
