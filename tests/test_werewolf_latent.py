"""LSPO's abstracted werewolf game: a valid OpenSpiel game whose only decisions are
latent speech strategies; OpenSpiel's MCCFR solves it; the solved policy plays the full
game as a bot; targets follow what the speaker knows."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

import games.werewolf  # noqa: F401  (registers werewolf)
from games.errors import GameError
from games.werewolf.game import SEER, SPEECH, WOLF, load_werewolf
from games.werewolf.knowledge import knowledge
from games.werewolf.latent import (
    LatentPolicy,
    LatentPolicyBot,
    LatentSpace,
    LatentStrategy,
    latent_key,
    load_latent,
    solve,
    target_for,
)
from games.werewolf.speech import BASE_KINDS


def _space(tmp_path: Path) -> Path:
    """Two strategies for wolves, one for every other role."""
    base = LatentSpace.base()
    wolves = (LatentStrategy("w.0", "accuse"), LatentStrategy("w.1", "claim_seer_wolf"))
    space = LatentSpace((wolves, base.roles[1][:1], base.roles[2][:1], base.roles[3][:2]))
    path = tmp_path / "space.json"
    space.save(path)
    return path


def test_random_games_are_valid_and_every_key_fixes_its_legal_actions(tmp_path: Path) -> None:
    game = load_latent(_space(tmp_path), seeds=2)
    assert game.num_distinct_actions() == 2 and game.max_chance_outcomes() == 840
    rng = random.Random(0)
    legal_of: dict[str, list[int]] = {}
    for _ in range(100):
        s = game.new_initial_state()
        decisions = 0
        while not s.is_terminal():
            if s.is_chance_node():
                s.apply_action(rng.randrange(len(s.chance_outcomes())))
                continue
            assert s.phase == SPEECH  # speech is the only decision
            key = s.information_state_string(s.current_player())
            legal = s.legal_actions()
            assert legal_of.setdefault(key, legal) == legal
            s.apply_action(rng.choice(legal))
            decisions += 1
        assert 1 <= decisions <= game.max_game_length()
        assert sorted(set(s.returns())) == [-1.0, 1.0]
    assert len(legal_of) > 20


def test_the_latent_game_replays_the_rule_moves_from_its_seed() -> None:
    game = load_latent(seeds=4)

    def play(seed: int) -> list[int]:
        s = game.new_initial_state()
        s.apply_action(7 * 4 + seed)
        while not s.is_terminal():
            s.apply_action(s.legal_actions()[0])
        return [e.target for e in s.events]

    assert play(1) == play(1)  # no hidden randomness: the seed is a chance outcome
    assert play(0) != play(1) or play(2) != play(3)


def test_mccfr_solves_it_and_the_policy_round_trips(tmp_path: Path) -> None:
    game = load_latent(_space(tmp_path), seeds=1)
    seen: list[tuple[int, int]] = []
    policy = solve(game, 40, seed=0, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (40, 40) and policy.iterations == 40
    wolf_keys = [k for k in policy.table if k.startswith("W ")]
    assert wolf_keys and all(len(policy.table[k]) == 2 for k in wolf_keys)
    assert all(abs(sum(p) - 1) < 1e-3 for p in policy.table.values())
    policy.save(tmp_path / "policy.json")
    again = LatentPolicy.load(tmp_path / "policy.json")
    assert again.table == policy.table and again.space == policy.space


def test_the_policy_plays_the_full_game_with_openspiel_evaluate_bots(tmp_path: Path) -> None:
    from open_spiel.python.algorithms.evaluate_bots import evaluate_bots

    policy = solve(load_latent(seeds=1), 30, seed=1)
    full = load_werewolf()
    played = unseen = 0
    for seed in range(5):
        bots = [LatentPolicyBot(full, policy, seed * 7 + p) for p in range(7)]
        returns = evaluate_bots(full.new_initial_state(), bots, np.random.RandomState(seed))
        assert sorted(set(returns)) == [-1.0, 1.0]
        played += sum(b.played for b in bots)
        unseen += sum(b.unseen for b in bots)
    assert played > unseen > 0  # mostly from the policy; unvisited keys fall back


def test_targets_follow_what_the_speaker_knows() -> None:
    game = load_werewolf()
    s = game.new_initial_state()
    s.apply_action(0)
    roles = s.roles
    seer = roles.index(SEER)
    wolves = [p for p in range(7) if roles[p] == WOLF]
    rng = random.Random(0)
    # Night 1: wolves kill a non-wolf other than the seer, the seer checks a wolf.
    victim = next(p for p in range(7) if roles[p] not in (WOLF, SEER))
    while s.phase != SPEECH:
        p = s.current_player()
        legal = s.legal_actions()
        if roles[p] == WOLF:
            s.apply_action(victim)
        elif p == seer:
            s.apply_action(7 + wolves[1])
        else:
            s.apply_action(next(a for a in legal if a - 14 != victim))
    k = knowledge(s.view(seer))
    assert target_for("claim_seer_wolf", k, rng) == wolves[1]
    assert target_for("accuse", k, rng) == wolves[1]
    assert target_for("quiet", k, rng) is None
    wolf = knowledge(s.view(wolves[0]))
    assert target_for("support", wolf, rng) == wolves[1]  # a wolf backs its partner
    assert target_for("accuse", wolf, rng) not in wolves
    assert latent_key(s.view(seer)).startswith("S d1 ") and " k1 " in latent_key(s.view(seer))


def test_bad_spaces_and_policies_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(GameError, match="unknown kind 'shout'"):
        LatentSpace.from_json(
            {
                r: [{"name": "x", "kind": "shout"}]
                for r in ("werewolf", "seer", "doctor", "villager")
            }
        )
    with pytest.raises(GameError, match="no strategy for the seer"):
        LatentSpace.from_json(
            {"werewolf": [{"name": "x", "kind": "quiet"}], "seer": [], "doctor": [], "villager": []}
        )
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(GameError, match="not a saved policy"):
        LatentPolicy.load(tmp_path / "junk.json")
    assert len(LatentSpace.base().roles[0]) == len(BASE_KINDS)
    with pytest.raises(GameError, match="cannot read latent space"):
        load_latent(tmp_path / "missing.json")


def test_a_warm_start_carries_the_base_kinds_solver_state_into_a_grown_space(
    tmp_path: Path,
) -> None:
    first = solve(load_latent(seeds=1), 30, seed=0)
    base = LatentSpace.base()
    grown = LatentSpace(
        tuple(
            (*role, LatentStrategy(f"{name}.0", "accuse"))
            for role, name in zip(
                base.roles, ("werewolf", "seer", "doctor", "villager"), strict=True
            )
        )
    )
    path = tmp_path / "grown.json"
    grown.save(path)
    again = solve(load_latent(path, seeds=1), 0, seed=0, warm=first)
    assert again.total_iterations == 30 and set(again.sums) == set(first.sums)
    key = next(iter(first.sums))
    assert again.sums[key][: len(BASE_KINDS)] == first.sums[key]
    assert again.sums[key][len(BASE_KINDS)] == 0.0  # the new cluster starts at zero
    assert again.table[key][: len(BASE_KINDS)] == pytest.approx(first.table[key], abs=1e-4)
    more = solve(load_latent(path, seeds=1), 10, seed=1, warm=first)
    assert more.total_iterations == 40
    policy_file = tmp_path / "p.json"
    more.save(policy_file)
    assert LatentPolicy.load(policy_file).regrets == more.regrets


def test_make_bot_cfr_on_werewolf_plays_a_policy_file_and_refuses_a_bad_one(
    tmp_path: Path,
) -> None:
    from games.bots import make_bot
    from games.catalog import load_game
    from games.errors import BotSpecError

    path = tmp_path / "policy.json"
    solve(load_latent(seeds=1), 20, seed=0).save(path)
    game = load_game("werewolf")
    bot = make_bot(game, f"cfr:policy={path},select=sample", seed=1)
    assert isinstance(bot, LatentPolicyBot) and bot.select == "sample"
    assert make_bot(game, f"cfr:policy={path}", seed=1).select == "argmax"
    with pytest.raises(BotSpecError, match="cannot read latent policy"):
        make_bot(game, f"cfr:policy={tmp_path / 'none.json'}")
    with pytest.raises(BotSpecError, match="select"):
        make_bot(game, f"cfr:policy={path},select=best")
