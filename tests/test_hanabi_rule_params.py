"""benchmarks.hanabi_rule_params: its games are the harness's rule-bot games, and a
variant really changes the bot (in its own processes only)."""

from __future__ import annotations

import games.hanabi.rules as rules
from benchmarks.hanabi import play_game
from benchmarks.hanabi_rule_params import scores

SEEDS = list(range(100_000, 100_030))


def test_current_values_replay_the_harness_games() -> None:
    got = scores({}, SEEDS[:6], workers=1)
    assert got == [play_game("hanabi_rules", 2, s).score for s in SEEDS[:6]]


def test_a_variant_changes_play_in_its_workers_only() -> None:
    base = scores({}, SEEDS, workers=1)
    never_stall = scores({"stall": 0.0}, SEEDS, workers=1)
    assert never_stall != base
    assert rules.STALL_RISK == 0.1 and rules.MYSTERY_DECK == {3: 3, 2: 1}
