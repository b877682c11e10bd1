"""Werewolf as an OpenSpiel game: random play stays valid, each rule on hand-built
scenarios, no player view leaks a hidden fact, the speech catalogue and its parameters,
and OpenSpiel's MCCFR and evaluate_bots run on it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyspiel
import pytest
from open_spiel.python.algorithms import evaluate_bots, outcome_sampling_mccfr

from games.bots import make_bot
from games.catalog import OFFERED, load_game
from games.werewolf.game import (
    ASSIGNMENTS,
    CHECKED,
    DEATH,
    DOCTOR,
    ELIM,
    NIGHT,
    OVER,
    PICK,
    PROTECTED,
    SAY,
    SEER,
    SPEECH,
    SPEECH_BASE,
    VILLAGER,
    VOTED,
    VOTING,
    WOLF,
    action_name,
    action_statement,
    config_of,
    load_werewolf,
    speech_action,
)
from games.werewolf.speech import (
    BASE_KINDS,
    TARGETED,
    Catalogue,
    Statement,
    WerewolfConfigError,
    parse_statement,
    render_statement,
)

W, S, D, V = WOLF, SEER, DOCTOR, VILLAGER
ROLES = (W, W, S, D, V, V, V)
"""The scenarios' deal: wolves 0 and 1, seer 2, doctor 3, villagers 4-6."""
PUBLIC = (DEATH, SAY, VOTED, ELIM)
INFO = pyspiel.IIGObservationType(perfect_recall=True)
OBS = pyspiel.IIGObservationType(perfect_recall=False)


def _deal(roles: tuple[int, ...] = ROLES, **params: int | str) -> pyspiel.State:
    game = load_werewolf(**params)
    state = game.new_initial_state()
    state.apply_action(ASSIGNMENTS.index(roles))
    return state


def _do(state: pyspiel.State, *moves: str) -> None:
    """Apply moves by name (`kill 4`, `vote 2`, `say accuse 3`), each checked legal."""
    cat = state.config.catalogue
    for move in moves:
        names = {action_name(cat, a): a for a in state.legal_actions()}
        assert move in names, (move, sorted(names))
        state.apply_action(names[move])


def _quiet_day(state: pyspiel.State) -> None:
    while state.phase == SPEECH:
        _do(state, "say quiet")


def _votes(state: pyspiel.State, targets: dict[int, int]) -> None:
    """Every living player votes: `targets[voter]`, in the day's order."""
    while state.phase == VOTING:
        _do(state, f"vote {targets[state.current_player()]}")


def _random_state(game: pyspiel.Game, rng: random.Random, moves: int) -> pyspiel.State:
    state = game.new_initial_state()
    state.apply_action(rng.randrange(len(ASSIGNMENTS)))
    for _ in range(moves):
        if state.is_terminal():
            break
        state.apply_action(rng.choice(state.legal_actions()))
    return state


# -- random play --------------------------------------------------------------------------


def test_two_thousand_random_games_are_valid() -> None:
    """Our own loop (faster than pyspiel.random_sim_test, which also runs below on a few
    games for the API checks: serialization, clones, observations)."""
    game = load_werewolf()
    n_actions, longest = game.num_distinct_actions(), game.max_game_length()
    rng = random.Random(0)
    sides = {3.0: 0, -3.0: 0}
    for _ in range(2000):
        state = game.new_initial_state()
        state.apply_action(rng.randrange(len(ASSIGNMENTS)))
        while not state.is_terminal():
            legal = state.legal_actions()
            assert legal and all(0 <= a < n_actions for a in legal)
            state.apply_action(rng.choice(legal))
        returns = state.returns()
        assert all(r in (-1.0, 1.0) for r in returns)
        assert all(
            (r == 1.0) == ((state.roles[p] == W) == (state.winner == 0))
            for p, r in enumerate(returns)
        )
        sides[sum(returns)] += 1
        assert len(state.history()) - 1 <= longest
    assert sides[3.0] > 50 and sides[-3.0] > 1000  # random wolves mostly win
    pyspiel.random_sim_test(game, num_sims=5, serialize=True, verbose=False)


def test_game_declares_its_sizes() -> None:
    game = load_game("werewolf(max_days=4)")
    assert "werewolf" in OFFERED
    assert game.num_players() == 7 and game.max_chance_outcomes() == len(ASSIGNMENTS) == 420
    assert game.num_distinct_actions() == SPEECH_BASE + 4 + 4 * 7
    assert game.max_game_length() == 18 * 4
    assert (game.min_utility(), game.max_utility()) == (-1.0, 1.0)
    assert game.get_type().utility == pyspiel.GameType.Utility.GENERAL_SUM
    import games.werewolf.game as module  # importing again keeps one registration

    assert module.NAME in pyspiel.registered_names()


# -- rules on hand-built scenarios ----------------------------------------------------------


def test_doctor_save_and_seer_result() -> None:
    state = _deal()
    _do(state, "kill 4", "kill 4", "check 0", "protect 4")
    assert all(state.alive) and state.events[-1] == (DEATH, 1, -1, -1, 0)
    seer = state.information_state_string(2)
    assert "seer 2 checks player 0: a werewolf" in seer
    assert "nobody died" in state.observation_string(5)
    _quiet_day(state)
    _votes(state, {p: (p + 1) % 7 for p in range(7)})  # all tied at one vote
    _do(state, "kill 5", "kill 5", "check 6", "protect 3")
    assert "seer 2 checks player 6: not a werewolf" in state.information_state_string(2)
    assert not state.alive[5] and "player 5 was killed" in state.information_state_string(0)


def test_tie_vote_eliminates_nobody_and_plurality_eliminates() -> None:
    state = _deal()
    _do(state, "kill 4", "kill 4", "check 0", "protect 4")
    _quiet_day(state)
    _votes(state, {0: 4, 1: 4, 2: 0, 3: 0, 4: 1, 5: 1, 6: 2})  # 2-2-2-1
    assert state.events[-1].kind == ELIM and state.events[-1].target == -1
    assert all(state.alive) and state.day == 2
    _do(state, "kill 6", "kill 6", "check 1", "protect 3")
    _quiet_day(state)
    _votes(state, {0: 4, 1: 4, 2: 0, 3: 0, 4: 0, 5: 1})  # 0 has 3 votes
    assert not state.alive[0] and state.events[-1] == (ELIM, 2, -1, 0, 0)
    assert "player 0 is eliminated (role not revealed)" in state.observation_string(4)


def test_village_wins_when_no_wolf_lives() -> None:
    state = _deal()
    _do(state, "kill 4", "kill 4", "check 0", "protect 4")
    _quiet_day(state)
    _votes(state, {0: 2, 1: 2, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0})
    _do(state, "kill 5", "check 1", "protect 5")
    _quiet_day(state)
    _votes(state, {1: 2, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1})
    assert state.is_terminal() and state.winner == 1
    assert state.returns() == [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert "game over: the village wins" in state.information_state_string(0)


def test_wolves_win_at_parity_checked_after_a_night_death() -> None:
    state = _deal()
    _do(state, "kill 4", "kill 4", "check 5", "protect 3")  # 4 dies: 2 wolves, 4 others
    _quiet_day(state)
    _votes(state, {0: 5, 1: 5, 2: 5, 3: 5, 5: 6, 6: 5})  # 5 out: 2 vs 3
    assert not state.is_terminal()
    _do(state, "kill 6", "kill 6", "check 0", "protect 2")  # 6 dies: 2 vs 2
    assert state.is_terminal() and state.winner == 0
    assert state.returns() == [1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0]
    assert sum(state.returns()) == -3.0


def test_first_wolf_pick_decides_and_wolves_share_knowledge() -> None:
    state = _deal()
    _do(state, "kill 4")
    assert state.current_player() == 1
    assert "werewolf 0 picks player 4" in state.information_state_string(1)
    assert state.information_state_string(1).startswith(
        "you are player 1, a werewolf; the werewolves are players 0 and 1"
    )
    _do(state, "kill 5", "check 6", "protect 6")
    assert not state.alive[4] and state.alive[5]  # the first wolf's pick stands
    for p in range(2, 7):
        view = state.information_state_string(p)
        assert "picks" not in view and "werewolves are" not in view
    assert "werewolf 1 picks player 5" in state.information_state_string(0)


def test_doctor_cannot_protect_the_same_player_two_nights_running() -> None:
    state = _deal()
    _do(state, "kill 4", "kill 4", "check 0", "protect 3")
    _quiet_day(state)
    _votes(state, {p: (p + 1) % 7 if p != 3 else 5 for p in range(7) if p != 4})
    _do(state, "kill 5", "kill 5", "check 1")
    names = [action_name(state.config.catalogue, a) for a in state.legal_actions()]
    assert "protect 3" not in names and "protect 6" in names
    _do(state, "protect 6")
    _quiet_day(state)
    _votes(state, {0: 2, 1: 2, 2: 0, 3: 1, 6: 0})  # 2-2-1: tie
    _do(state, "kill 6", "kill 6", "check 6")
    assert "protect 3" in [action_name(state.config.catalogue, a) for a in state.legal_actions()]


def test_day_limit_ends_as_a_werewolf_loss() -> None:
    state = _deal(max_days=1)
    _do(state, "kill 4", "kill 4", "check 0", "protect 4")
    _quiet_day(state)
    _votes(state, {p: (p + 1) % 7 for p in range(7)})
    assert state.is_terminal() and state.winner == 1 and state.returns()[0] == -1.0
    assert len(state.history()) - 1 == state.get_game().max_game_length()


def test_speech_and_votes_rotate_and_are_open() -> None:
    state = _deal()
    _do(state, "kill 4", "kill 4", "check 0", "protect 3")
    assert state.queue == [0, 1, 2, 3, 5, 6]
    _do(state, "say claim_seer_wolf 2")
    said = 'player 0 says [claim_seer_wolf 2] "I am the seer: player 2 is a werewolf."'
    assert said in state.information_state_string(5) and said in state.observation_string(6)
    _quiet_day(state)
    _do(state, "vote 5")
    assert "player 0 votes for player 5" in state.observation_string(1)
    _votes(state, {1: 2, 2: 0, 3: 0, 5: 0, 6: 0})
    assert not state.alive[0]
    _do(state, "kill 5", "check 1", "protect 2")
    assert state.queue == [1, 2, 3, 6]  # day 2 starts at seat 1


def test_night_steps_are_hidden_from_those_who_do_not_act() -> None:
    state = _deal()

    def villager_views() -> list[object]:
        return [_views(state.get_game(), state, p) for p in (4, 5, 6)]

    before = villager_views()
    _do(state, "kill 4", "kill 4", "check 0")
    assert villager_views() == before
    assert "your turn" in state.information_state_string(3)
    assert "your turn" not in state.information_state_string(4)


# -- leaks --------------------------------------------------------------------------------


def _legit(state: pyspiel.State, p: int) -> tuple[object, ...]:
    """Everything player p may know, computed from the omniscient state."""
    roles = state.roles
    events = state.events
    wolf = roles[p] == W
    return (
        roles[p],
        tuple(q for q in range(7) if roles[q] == W) if wolf else (),
        tuple(e for e in events if e.kind in PUBLIC),
        tuple(e for e in events if e.kind in (CHECKED, PROTECTED) and e.actor == p),
        tuple(e for e in events if e.kind == PICK) if wolf else (),
        state.winner,
        state.day,
        state.phase if state.phase in (SPEECH, VOTING, OVER) else NIGHT,
        state.current_player() if state.phase in (SPEECH, VOTING) else -1,
        state.current_player() == p,
        tuple(state.alive),
    )


def _views(game: pyspiel.Game, state: pyspiel.State, p: int) -> tuple[object, ...]:
    views: list[object] = [
        state.observation_string(p),
        tuple(state.observation_tensor(p)),
        state.information_state_string(p),
        tuple(state.information_state_tensor(p)),
    ]
    for obs_type in (INFO, OBS):
        obs = game.make_py_observer(obs_type)
        obs.set_from(state, p)
        views += [obs.string_from(state, p), tuple(obs.tensor)]
    return tuple(views)


def _replay(game: pyspiel.Game, roles: tuple[int, ...], actions: list[int]) -> pyspiel.State | None:
    state = game.new_initial_state()
    state.apply_action(ASSIGNMENTS.index(roles))
    for a in actions:
        if state.is_terminal() or a not in state.legal_actions():
            return None
        state.apply_action(a)
    return state


@pytest.mark.parametrize("abstraction", ["full", "lspo"])
def test_views_hold_only_what_the_player_may_know(abstraction: str) -> None:
    """Worlds that differ only in hidden facts (other players' roles, others' private
    night moves) give a player identical views (strings, tensors, terminal included)."""
    game = load_werewolf(abstraction=abstraction)
    rng = random.Random(1)
    compared = differed = 0
    for trial in range(120):
        state = _random_state(game, rng, rng.randrange(4, 70))
        actions = state.history()[1:]
        for p in range(7):
            for _ in range(3):
                roles = list(state.roles)
                if rng.random() < 0.6:  # shuffle the roles p cannot see
                    hidden = [q for q in range(7) if q != p and (roles[p] != W or roles[q] != W)]
                    shuffled = [roles[q] for q in hidden]
                    rng.shuffle(shuffled)
                    for q, r in zip(hidden, shuffled, strict=True):
                        roles[q] = r
                    alt = _replay(game, tuple(roles), actions)
                else:  # change one night move by someone else
                    nights = [i for i, a in enumerate(actions) if a < 21]
                    if not nights:
                        continue
                    i = rng.choice(nights)
                    prefix = _replay(game, state.roles, actions[:i])
                    assert prefix is not None
                    other = rng.choice(prefix.legal_actions())
                    alt = _replay(game, state.roles, [*actions[:i], other, *actions[i + 1 :]])
                if alt is None:
                    continue
                if _legit(alt, p) == _legit(state, p):
                    compared += 1
                    differed += alt.roles != state.roles or alt.history() != state.history()
                    assert _views(game, alt, p) == _views(game, state, p), (trial, p)
                elif abstraction == "full" and roles[p] == S and alt.history() == state.history():
                    assert _views(game, alt, p) != _views(game, state, p)  # its checks differ
    assert compared > 500 and differed > 300


def test_views_never_name_private_facts_of_others() -> None:
    game = load_werewolf()
    rng = random.Random(2)
    for _ in range(200):
        state = _random_state(game, rng, rng.randrange(0, 90))
        for p in range(7):
            role = state.roles[p]
            for text in (state.information_state_string(p), state.observation_string(p)):
                assert "roles:" not in text and "deal" not in text
                assert ("checks player" in text) <= (role == S)
                assert ("protects player" in text) <= (role == D)
                assert ("picks player" in text) <= (role == W)
                assert text.count("you are player") == 1 and f"you are player {p}," in text
        if state.is_terminal():
            assert "game over" in state.information_state_string(0)


# -- speech ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BASE_KINDS)
def test_render_and_parse_round_trip_every_base_kind(kind: str) -> None:
    cat = Catalogue(7)
    target = 3 if kind in TARGETED else None
    text = render_statement(kind, target, cat)
    assert text and "{" not in text
    assert parse_statement(text, speaker=1, living=range(7)) == (kind, target)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("I'm the seer and P4 is a wolf!", ("claim_seer_wolf", 4)),
        ("As the seer I checked 4, they are innocent", ("claim_seer_clear", 4)),
        ("Let's vote out player 6, very suspicious", ("accuse", 6)),
        ("player 2 isn't a werewolf, I believe them", ("support", 2)),
        ("I am the doctor, trust me", ("claim_doctor", None)),
        ("It's not me, I'm innocent", ("defend_self", None)),
        ("i am just a plain villager", ("claim_villager", None)),
        ("hmm, let me think", ("quiet", None)),
        ("player 5 is a wolf", ("quiet", None)),  # 5 is dead here: no target
        ("I think 1 is a wolf", ("quiet", None)),  # the speaker itself: no target
    ],
)
def test_parse_statement_reads_free_english(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_statement(text, speaker=1, living=[0, 1, 2, 3, 4, 6]) == expected


def test_extra_strategies_are_distinct_actions_with_base_semantics(tmp_path: Path) -> None:
    game = load_game("werewolf(strategies=accuse.1:accuse;calm.2:quiet)")
    cat = config_of(game).catalogue
    assert game.num_distinct_actions() == SPEECH_BASE + 4 + 4 * 7 + 7 + 1
    a = speech_action(game, "accuse.1", 4)
    assert a != speech_action(game, "accuse", 4)
    assert action_statement(game, a) == Statement("accuse.1", 4)
    assert action_statement(game, 3) is None
    assert cat.kind("accuse.1") == "accuse" and cat.render(Statement("accuse.1", 4)) == (
        "I think player 4 is a werewolf."
    )
    state = game.new_initial_state()
    state.apply_action(ASSIGNMENTS.index(ROLES))
    _do(state, "kill 4", "kill 4", "check 0", "protect 3")
    twin = state.clone()
    state.apply_action(speech_action(game, "accuse.1", 5))
    twin.apply_action(speech_action(game, "accuse", 5))
    assert state.information_state_string(3) != twin.information_state_string(3)
    assert state.information_state_tensor(3) != twin.information_state_tensor(3)

    path = tmp_path / "lspo.json"
    path.write_text(
        json.dumps([{"name": "c1", "kind": "claim_seer_wolf", "template": "Seer here: {target}!"}])
    )
    game = load_werewolf(strategies=str(path))
    assert config_of(game).catalogue.render(Statement("c1", 2)) == "Seer here: 2!"
    with pytest.raises(WerewolfConfigError, match="kind 'shout'"):
        load_werewolf(strategies="x:shout")
    with pytest.raises(WerewolfConfigError, match="duplicate"):
        load_werewolf(strategies="x:quiet;x:accuse")
    with pytest.raises(WerewolfConfigError, match="name:kind"):
        load_werewolf(strategies="accuse")
    path.write_text(json.dumps([{"name": "c2", "kind": "quiet", "template": "{target}"}]))
    with pytest.raises(WerewolfConfigError, match="must not have"):
        load_werewolf(strategies=str(path))
    with pytest.raises(WerewolfConfigError, match="abstraction"):
        load_werewolf(abstraction="tiny")
    with pytest.raises(WerewolfConfigError, match="max_days"):
        load_werewolf(max_days=0)


# -- OpenSpiel algorithms ---------------------------------------------------------------------


def test_lspo_key_merges_histories_and_fixes_legal_actions() -> None:
    full, lspo = load_werewolf(), load_werewolf(abstraction="lspo")
    a, b = (_deal(abstraction="lspo") for _ in range(2))
    _do(a, "kill 4", "kill 4", "check 0", "protect 3", "say quiet")
    _do(b, "kill 4", "kill 4", "check 0", "protect 3", "say claim_villager")
    assert a.information_state_string(1) == b.information_state_string(1)
    assert a.information_state_tensor(1) == b.information_state_tensor(1)
    assert a.observation_string(1) != b.observation_string(1)  # observations stay full
    rng = random.Random(3)
    legal_of: dict[str, list[int]] = {}
    for _ in range(300):
        state = _random_state(lspo, rng, rng.randrange(0, 60))
        if state.is_terminal():
            continue
        key = state.information_state_string(state.current_player())
        assert legal_of.setdefault(key, state.legal_actions()) == state.legal_actions(), key
    assert len(full.new_initial_state().information_state_tensor(0)) > len(
        lspo.new_initial_state().information_state_tensor(0)
    )


def test_openspiel_mccfr_and_evaluate_bots_run() -> None:
    game = load_werewolf(abstraction="lspo")
    np.random.seed(0)
    solver = outcome_sampling_mccfr.OutcomeSamplingSolver(game)
    for _ in range(200):
        solver.iteration()
    policy = solver.average_policy()
    state = game.new_initial_state()
    state.apply_action(0)
    probs = policy.action_probabilities(state)
    assert set(probs) == set(state.legal_actions()) and abs(sum(probs.values()) - 1) < 1e-6
    assert state.information_state_string(state.current_player()) in solver._infostates

    game = load_werewolf()
    for seed in range(3):
        bots = [make_bot(game, "rule" if p % 2 else "random", seed * 7 + p) for p in range(7)]
        returns = evaluate_bots.evaluate_bots(
            game.new_initial_state(), bots, np.random.RandomState(seed)
        )
        assert sorted(set(returns)) == [-1.0, 1.0]
    bots = [make_bot(game, "rule" if p % 2 else "random", p) for p in range(7)]
    assert sorted(set(pyspiel.evaluate_bots(game.new_initial_state(), bots, 3))) == [-1.0, 1.0]
