"""Hanabi wrapper and belief: the tracker agrees with OpenSpiel's observations, bad
variants fail clearly, and the belief sampler's marginals equal brute-force enumeration."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pyspiel
import pytest

from games.hanabi.belief import HandBelief, with_hand
from games.hanabi.game import COLORS, HanabiConfig, HanabiConfigError, Tracker, card_name


def _play(game: pyspiel.Game, seed: int, moves: int, hint_bias: float = 0.7) -> pyspiel.State:
    """A seeded state after `moves` entries, favouring hints so knowledge accumulates."""
    rng = random.Random(seed)
    state = game.new_initial_state()
    hs = HanabiConfig.of(game).hands
    for _ in range(moves):
        if state.is_terminal():
            break
        if state.is_chance_node():
            outcomes, probs = zip(*state.chance_outcomes(), strict=False)
            state.apply_action(rng.choices(outcomes, probs)[0])
        else:
            legal = state.legal_actions()
            hints = [a for a in legal if a >= 2 * hs]
            action = rng.choice(hints if hints and rng.random() < hint_bias else legal)
            if state.child(action).is_terminal():
                break
            state.apply_action(action)
    while state.is_chance_node():
        outcomes, probs = zip(*state.chance_outcomes(), strict=False)
        state.apply_action(rng.choices(outcomes, probs)[0])
    return state


def _knowledge_lines(obs: str) -> list[str]:
    return [line.split(" || ")[1].split("|")[1] for line in obs.splitlines() if " || " in line]


@pytest.mark.parametrize("players", [2, 3, 5])
def test_tracker_view_matches_openspiel_observation(players: int) -> None:
    cfg = HanabiConfig(players=players)
    game = cfg.load()
    for seed in range(3):
        for moves in (10, 40, 80):
            state = _play(game, seed, moves)
            if state.is_terminal():
                continue
            me = state.current_player()
            t = Tracker.from_state(state, cfg)
            view = t.view(me)
            obs = state.observation_string(me)
            assert f"Life tokens: {view.lives}" in obs
            assert f"Info tokens: {view.info_tokens}" in obs
            assert f"Deck size: {view.deck_size}" in obs
            assert all(c is None for c in view.hands[me])
            expected = []
            for off in range(players):
                q = (me + off) % players
                for k in view.knowledge[q]:
                    cols = "".join(COLORS[c] for c in range(5) if k.colors >> c & 1)
                    rks = "".join(str(r + 1) for r in range(5) if k.ranks >> r & 1)
                    expected.append(cols + rks)
            assert _knowledge_lines(obs) == expected
            partner = (me + 1) % players
            assert card_name(view.hands[partner][0], 5) in obs


def test_unseen_counts_add_up() -> None:
    cfg = HanabiConfig()
    state = _play(cfg.load(), 1, 60)
    t = Tracker.from_state(state, cfg)
    me = state.current_player()
    view = t.view(me)
    assert sum(view.unseen) == view.deck_size + len(t.hands[me])
    assert all(k >= 0 for k in view.unseen)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"players": 1}, "players"),
        ({"players": 6}, "players"),
        ({"colors": 0}, "colors"),
        ({"ranks": 7}, "ranks"),
        ({"hand_size": 0}, "hand_size"),
        ({"players": 5, "colors": 1, "ranks": 2, "hand_size": 4}, "cards"),
    ],
)
def test_invalid_variants_fail_clearly(kwargs: dict[str, int], word: str) -> None:
    with pytest.raises(HanabiConfigError, match=word):
        HanabiConfig(**kwargs)


def test_random_start_player_is_refused() -> None:
    game = pyspiel.load_game("hanabi", {"random_start_player": True})
    with pytest.raises(HanabiConfigError, match="random_start_player"):
        HanabiConfig.of(game)


def test_default_variant_is_the_full_game() -> None:
    cfg = HanabiConfig.of(pyspiel.load_game("hanabi"))
    assert (cfg.players, cfg.colors, cfg.ranks, cfg.hands, cfg.deck_size) == (2, 5, 5, 5, 50)
    assert HanabiConfig(players=4).hands == 4


SMALL = {"players": 2, "colors": 2, "ranks": 3, "hand_size": 3}


def _brute_force(state: pyspiel.State, player: int, cfg: HanabiConfig) -> dict[tuple, float]:
    """Every assignment of the physical unseen cards to the own slots, kept when OpenSpiel
    shows the player exactly the same observation; weights are counts of physical cards."""
    t = Tracker.from_state(state, cfg)
    unseen = t.unseen_by(player)
    physical = [c for c, k in enumerate(unseen) for _ in range(k)]
    obs = state.observation_string(player)
    counts: Counter[tuple[int, ...]] = Counter()
    for pick in itertools.permutations(range(len(physical)), len(t.hands[player])):
        hand = tuple(physical[i] for i in pick)
        try:
            world = with_hand(state, player, hand, cfg)
        except pyspiel.SpielError:
            continue  # a hint in the history would have touched no card: impossible
        if world.observation_string(player) == obs:
            counts[hand] += 1
    total = sum(counts.values())
    return {h: n / total for h, n in counts.items()}


def _marginals(dist: dict[tuple, float], slots: int, cards: int) -> list[list[float]]:
    out = [[0.0] * cards for _ in range(slots)]
    for hand, p in dist.items():
        for i, c in enumerate(hand):
            out[i][c] += p
    return out


@pytest.mark.parametrize(("seed", "moves"), [(0, 12), (3, 16), (7, 20), (11, 10)])
def test_belief_matches_brute_force_enumeration(seed: int, moves: int) -> None:
    cfg = HanabiConfig(**SMALL)
    state = _play(cfg.load(), seed, moves, hint_bias=0.9)
    assert not state.is_terminal()
    me = state.current_player()
    truth = _brute_force(state, me, cfg)
    belief = HandBelief(Tracker.from_state(state, cfg), me)
    exact = belief.distribution()
    assert set(exact) == set(truth)
    for hand, p in truth.items():
        assert exact[hand] == pytest.approx(p, abs=1e-12)
    rng = random.Random(seed)
    n = 20000
    draws = Counter(belief.sample(rng) for _ in range(n))
    slots, cards = len(next(iter(truth))), cfg.colors * cfg.ranks
    want = _marginals(truth, slots, cards)
    got = _marginals({h: k / n for h, k in draws.items()}, slots, cards)
    for i in range(slots):
        for c in range(cards):
            assert got[i][c] == pytest.approx(want[i][c], abs=0.015), (i, c)
    assert set(draws) <= set(truth)


def test_with_hand_keeps_the_players_observation_and_moves_the_deck() -> None:
    cfg = HanabiConfig()
    state = _play(cfg.load(), 5, 50)
    me = state.current_player()
    belief = HandBelief(Tracker.from_state(state, cfg), me)
    rng = random.Random(0)
    for _ in range(20):
        hand = belief.sample(rng)
        world = with_hand(state, me, hand, cfg)
        assert world.observation_string(me) == state.observation_string(me)
        assert Tracker.from_state(world, cfg).hands[me] == list(hand)


def test_inconsistent_knowledge_is_a_clear_error() -> None:
    cfg = HanabiConfig()
    state = _play(cfg.load(), 0, 10)
    me = state.current_player()
    t = Tracker.from_state(state, cfg)
    t.cmask[me][0], t.rmask[me][0] = 1 << 0, 1 << 4  # "R5" ...
    t.discards.append(4)  # ... whose only copy is gone
    with pytest.raises(ValueError, match="consistent"):
        HandBelief(t, me).sample(random.Random(0))
