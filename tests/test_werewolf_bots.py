"""The werewolf `rule` bot: it beats random play on both sides, plays each role's rules
on hand-built days, reads nothing but its player's view, and make_bot wires it."""

from __future__ import annotations

import random

import pyspiel
import pytest

from games.bots import KINDS, RandomBot, make_bot
from games.errors import BotSpecError
from games.werewolf.bots import RuleBot
from games.werewolf.game import (
    ASSIGNMENTS,
    DOCTOR,
    PICK,
    SEER,
    VILLAGER,
    VOTED,
    WOLF,
    action_name,
    load_werewolf,
    speech_action,
)

W, S, D, V = WOLF, SEER, DOCTOR, VILLAGER
GAME = load_werewolf()


def _game(village: str, wolves: str, seed: int) -> pyspiel.State:
    """One game: the deal drawn from `seed`, then `wolves` bots in the wolf seats and
    `village` bots elsewhere; every bot move is checked legal."""
    state = GAME.new_initial_state()
    state.apply_action(random.Random(seed).randrange(len(ASSIGNMENTS)))
    bots = [
        make_bot(GAME, wolves if role == W else village, seed * 7 + p)
        for p, role in enumerate(state.roles)
    ]
    while not state.is_terminal():
        action = bots[state.current_player()].step(state)
        assert action in state.legal_actions()
        state.apply_action(action)
    return state


def _wolf_rate(village: str, wolves: str, games: int) -> float:
    return sum(int(_game(village, wolves, seed).winner == 0) for seed in range(games)) / games


def test_rule_bots_beat_random_on_both_sides() -> None:
    """Over 2,000 games: the wolves win 90% of all-random games, 34% against rule
    villagers, 98% as rule wolves against random villagers, 36% in all-rule games."""
    random_village = _wolf_rate("random", "random", 300)
    assert random_village > 0.8
    assert _wolf_rate("rule", "random", 300) < random_village - 0.4
    assert _wolf_rate("random", "rule", 300) > random_village + 0.03
    assert 0.2 < _wolf_rate("rule", "rule", 300) < 0.55


def test_rule_wolves_coordinate() -> None:
    """All-rule games: the second wolf copies the first pick; a wolf votes for its
    partner only when the partner already has a majority."""
    for seed in range(60):
        state = _game("rule", "rule", seed)
        nights: dict[int, list[int]] = {}
        votes: dict[int, list[int]] = {}
        alive = set(range(7))
        for e in state.events:
            if e.kind == PICK:
                nights.setdefault(e.day, []).append(e.target)
            elif e.kind == VOTED:
                before = votes.setdefault(e.day, [])
                if state.roles[e.actor] == W and state.roles[e.target] == W:
                    assert 2 * before.count(e.target) > len(alive), seed
                before.append(e.target)
            elif e.target >= 0 and e.kind in (3, 6):  # a death or elimination
                alive.discard(e.target)
        assert all(len(set(picks)) == 1 for picks in nights.values()), seed


def _deal(roles: tuple[int, ...]) -> pyspiel.State:
    state = GAME.new_initial_state()
    state.apply_action(ASSIGNMENTS.index(roles))
    return state


def _do(state: pyspiel.State, *moves: str) -> None:
    for move in moves:
        names = {action_name(state.config.catalogue, a): a for a in state.legal_actions()}
        state.apply_action(names[move])


def _rule_move(state: pyspiel.State, seed: int = 0) -> str:
    """The rule bot's move for the player to act, by name; the move is applied."""
    bot = RuleBot(GAME, seed)
    action = bot.step(state)
    assert 0 < len(bot.thinking) < 80
    name: str = action_name(state.config.catalogue, action)
    state.apply_action(action)
    return name


def test_seer_claims_wolf_wolves_counter_and_village_follows() -> None:
    state = _deal((S, D, V, V, V, W, W))  # seer 0, doctor 1, villagers 2-4, wolves 5-6
    _do(state, "kill 2")
    assert _rule_move(state) == "kill 2"  # the second wolf follows the first
    _do(state, "check 5", "protect 1")  # 2 dies; the seer found werewolf 5
    assert _rule_move(state) == "say claim_seer_wolf 5"
    assert _rule_move(state) == "say accuse 5"  # the doctor believes the sole claim
    _do(state, "say claim_villager", "say claim_villager")
    assert _rule_move(state) == "say claim_seer_wolf 0"  # wolf 5 counter-claims
    _do(state, "say claim_villager")
    votes = [_rule_move(state) for _ in range(6)]
    assert votes[:4] == ["vote 5"] * 4 and votes[4] == "vote 0"  # the village follows
    assert votes[5] == "vote 5"  # wolf 6 joins a majority against its partner
    assert not state.alive[5]
    _do(state, "kill 0")  # wolf 6 attacks the claimed seer
    assert _rule_move(state) in ("check 3", "check 4", "check 6")  # not the doctor 1
    assert _rule_move(state) == "protect 0"  # the doctor guards the claimed seer
    assert all(state.alive[p] for p in (0, 1, 3, 4, 6))


def test_rule_bot_reads_only_its_view() -> None:
    """The bot asks the state for its player's view and nothing else."""

    class ViewOnly:
        def __init__(self, state: pyspiel.State) -> None:
            self._state = state

        def current_player(self) -> int:
            return int(self._state.current_player())

        def view(self, player: int) -> object:
            return self._state.view(player)

    rng = random.Random(4)
    for seed in range(40):
        state = GAME.new_initial_state()
        state.apply_action(rng.randrange(len(ASSIGNMENTS)))
        for _ in range(rng.randrange(0, 40)):
            if state.is_terminal():
                break
            state.apply_action(rng.choice(state.legal_actions()))
        if not state.is_terminal():
            expected = RuleBot(GAME, seed).step(state)
            assert RuleBot(GAME, seed).step(ViewOnly(state)) == expected


def test_make_bot_wires_rule_for_werewolf_only() -> None:
    assert "werewolf only" in KINDS["rule"]
    assert isinstance(make_bot(GAME, "rule", 3), RuleBot)
    assert isinstance(make_bot(GAME, "random", 3), RandomBot)
    with pytest.raises(BotSpecError, match=r"^rule plays werewolf only, not tic_tac_toe$"):
        make_bot(pyspiel.load_game("tic_tac_toe"), "rule")
    with pytest.raises(BotSpecError, match=r"unknown option\(s\) depth for rule"):
        make_bot(GAME, "rule:depth=2")
    state = _deal((W, W, S, D, V, V, V))
    assert make_bot(GAME, "rule").step(state) in state.legal_actions()
    assert speech_action(GAME, "quiet") in range(GAME.num_distinct_actions())


def test_mcts_samples_only_worlds_where_the_past_moves_were_legal() -> None:
    """Determinized MCTS redraws the roles; a world in which a past move is illegal (the
    wolves' victim dealt a wolf) or the game already over is a dead end, not a crash."""
    import numpy as np
    from open_spiel.python.algorithms.evaluate_bots import evaluate_bots

    from games.bots import make_bot
    from games.catalog import load_game

    game = load_game("werewolf")
    for seed in range(2):
        bots = [make_bot(game, "mcts:sims=10" if p == 0 else "rule", p) for p in range(7)]
        returns = evaluate_bots(game.new_initial_state(), bots, np.random.RandomState(seed))
        assert sorted(set(returns)) == [-1.0, 1.0]
