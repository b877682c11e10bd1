"""Rollouts per second of Hanabi blueprints from seeded mid-game positions, through the
path MDS uses (belief sample, state rebuild, native clone, blueprint to the end).

Same process, same worlds, same seeds: the rule blueprint over a plain `Tracker` (the
previous rollout path) against the lean path (`RolloutTracker` caches); both must return
the same scores, the ratio is the speed-up. `--learned PATH` adds the learned blueprint.

    python -m benchmarks.hanabi_rollouts --positions 5 --rollouts 200
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import pyspiel

from games.hanabi.belief import HandBelief, with_hand
from games.hanabi.game import HanabiConfig, Tracker
from games.hanabi.mds_bot import Policy, RolloutTracker, World, rollout, rule_policy
from games.hanabi.rules import apply, rule_position


def positions(count: int, moves: int = 20) -> list[tuple[pyspiel.Game, pyspiel.State]]:
    return [rule_position(seed, 20 + moves) for seed in range(count)]


def worlds(state: pyspiel.State, count: int, seed: int) -> list[World]:
    """`count` worlds of the acting player at `state` (plain trackers)."""
    cfg = HanabiConfig.of(state.get_game())
    player = state.current_player()
    tracker = Tracker(cfg)
    for action in state.history():
        apply(tracker, action)
    belief = HandBelief(tracker, player)
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        hand = belief.sample(rng)
        t = tracker.copy()
        t.hands[player] = list(hand)
        rest = list(belief.unseen)
        for card in hand:
            rest[card] -= 1
        deck = [c for c, k in enumerate(rest) for _ in range(k)]
        rng.shuffle(deck)
        out.append(World(with_hand(state, player, hand, cfg), t, tuple(deck)))
    return out


def measure(
    jobs: list[tuple[World, int]], policy: Policy, lean: bool
) -> tuple[float, list[float], int]:
    """Seconds for all rollouts, their returns, and illegal blueprint actions replaced."""
    illegal = [0]

    def bump() -> None:
        illegal[0] += 1

    if lean:
        jobs = [(World(w.state, RolloutTracker.of(w.tracker), w.deck), a) for w, a in jobs]
    t0 = time.perf_counter()
    returns = [rollout(w, a, policy, bump) for w, a in jobs]
    return time.perf_counter() - t0, returns, illegal[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=5)
    ap.add_argument("--rollouts", type=int, default=200, help="per position")
    ap.add_argument("--learned", default=None, help="weights of a learned blueprint")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    jobs: list[tuple[World, int]] = []
    for k, (_, state) in enumerate(positions(args.positions)):
        legal = state.legal_actions()
        ws = worlds(state, max(1, args.rollouts // len(legal)), seed=k)
        jobs += [(w, a) for w in ws for a in legal][: args.rollouts]
    n = len(jobs)
    ratios = []
    for _ in range(args.rounds):  # alternate, so a change in machine load hits both
        base_s, base_r, _ = measure(jobs, rule_policy, lean=False)
        lean_s, lean_r, bad = measure(jobs, rule_policy, lean=True)
        assert base_r == lean_r, "the lean rollout path changed the rule blueprint's returns"
        ratios.append(base_s / lean_s)
        print(
            f"rules: previous path {n / base_s:.0f}/s, lean path {n / lean_s:.0f}/s "
            f"({n} rollouts each; illegal {bad})"
        )
    print(f"speed-up, median of {len(ratios)} rounds: {statistics.median(ratios):.2f}x")
    if args.learned:
        from games.hanabi.learned import LearnedPolicy

        learned = LearnedPolicy.load(args.learned)
        sec, rets, bad = measure(jobs, learned, lean=True)
        print(
            f"learned ({args.learned}): {n} rollouts in {sec:.2f} s = {n / sec:.0f}/s, "
            f"{sec and base_s / sec:.2f}x the previous rule path; mean return "
            f"{sum(rets) / n:.2f} vs rules {sum(base_r) / n:.2f}; illegal {bad}"
        )


if __name__ == "__main__":
    main()
