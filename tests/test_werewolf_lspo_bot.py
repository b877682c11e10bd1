"""The `lspo:` language agent with scripted models: the latent policy picks, among the
model's statements, the one whose heard kind it favours at the speaker's key; its text is
what listeners read; unvisited keys and empty answers have their documented fallbacks;
the spec names a run's iteration or a policy file, and bad ones are one-line errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyspiel
import pytest

from agents.llm import ScriptedLLM
from benchmarks.werewolf import play_game
from games.bots import make_bot
from games.errors import BotSpecError
from games.werewolf.bots import decide
from games.werewolf.game import (
    ASSIGNMENTS,
    NUM_PLAYERS,
    SPEECH,
    SPEECH_BASE,
    load_werewolf,
)
from games.werewolf.latent import LatentPolicy, LatentSpace, latent_key
from games.werewolf.lspo_bot import LspoBot, LspoConfig

GAME = load_werewolf()
SPACE = LatentSpace.base()


def _speaking(seed: int) -> pyspiel.State:
    """Deal `seed`, rule moves until the first speaking turn."""
    rng = random.Random(seed)
    state = GAME.new_initial_state()
    state.apply_action(rng.randrange(len(ASSIGNMENTS)))
    while state.view(state.current_player()).phase != SPEECH:
        state.apply_action(decide(state.view(state.current_player()), rng)[0])
    return state


def _policy(key: str, role: int, favour: str) -> LatentPolicy:
    roles = SPACE.roles[role]
    row = [0.9 if s.kind == favour else 0.1 / (len(roles) - 1) for s in roles]
    return LatentPolicy(SPACE, {key: row})


def _kind(state: pyspiel.State, action: int) -> str:
    cat = state.view(0).config.catalogue
    return cat.kind(cat.statements[action - SPEECH_BASE].strategy)


@pytest.mark.parametrize("favour", ["accuse", "quiet"])
def test_the_policy_chooses_which_statement_is_said(favour: str) -> None:
    state = _speaking(seed=2)
    me = state.current_player()
    view = state.view(me)
    other = next(p for p in range(NUM_PLAYERS) if view.alive[p] and p != me)
    accuse = f"I think player {other} is a werewolf, vote for player {other}."
    quiet = "I have nothing to add."
    llm = ScriptedLLM([quiet, accuse, quiet], on_exhausted="error")
    policy = _policy(latent_key(view), view.role, favour)
    bot = LspoBot(GAME, policy, "scripted:x", 0, config=LspoConfig(candidates=3), llm=llm)
    action = bot.step(state)
    assert action in state.legal_actions()
    assert _kind(state, action) == favour
    assert bot.transcript[view.day, me] == (accuse if favour == "accuse" else quiet)
    assert bot.guided == 1 and bot.unseen == 0 and bot.calls == 1
    # The prompt is the self-play prompt: the speaker's own role, nothing of others'.
    prompt = "\n".join(str(m["content"]) for m in llm.calls[0].messages)
    assert f"You are player {me}" in prompt
    assert llm.calls[0].n == 3


def test_unvisited_keys_say_the_first_statement_and_empty_answers_fall_back() -> None:
    state = _speaking(seed=4)
    me = state.current_player()
    first = "Player 1 seems honest to me."
    llm = ScriptedLLM([first, "I have nothing to add."], on_exhausted="error")
    bot = LspoBot(GAME, LatentPolicy(SPACE, {}), "scripted:x", 0, llm=llm,
                  config=LspoConfig(candidates=2))  # fmt: skip
    bot.step(state)
    assert bot.unseen == 1 and bot.transcript[state.view(me).day, me] == first
    empty = LspoBot(GAME, LatentPolicy(SPACE, {}), "scripted:x", 0,
                    llm=ScriptedLLM(["", "  "]), config=LspoConfig(candidates=2))  # fmt: skip
    action = empty.step(state)
    assert action in state.legal_actions()
    assert empty.fallbacks == 1 and empty.invalid_answers == 1
    assert empty.transcript[state.view(me).day, me]  # the rule statement's text


def test_a_whole_game_against_the_rule_bot_through_make_bot(tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.json"
    _policy("unused", 3, "accuse").save(policy_file)
    answers = tmp_path / "answers.json"
    lines = ["I am just a villager.", "Player 2 is a werewolf."]
    answers.write_text(json.dumps({"responses": lines, "on_exhausted": "cycle"}))
    spec = f"lspo:policy={policy_file},model=scripted:{answers},candidates=2"
    bot = make_bot(GAME, spec, seed=1)
    assert isinstance(bot, LspoBot) and bot.config.candidates == 2
    row = play_game(GAME, spec, "rule", seed=5)
    assert row["winner"] in ("werewolves", "village") and row["wolves_moves"] > 0


def test_a_run_directory_gives_its_iteration_policy_and_model(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for it in (1, 2):
        step = run / f"iter{it}"
        step.mkdir(parents=True)
        _policy(f"k{it}", 3, "accuse").save(step / "policy.json")
        (step / "summary.json").write_text(json.dumps({"model": f"scripted:m{it}"}))
    from games.werewolf.lspo_bot import resolve

    assert resolve(LspoConfig(run=run)) == (run / "iter2" / "policy.json", "scripted:m2")
    assert resolve(LspoConfig(run=run, iteration=1))[1] == "scripted:m1"
    assert resolve(LspoConfig(run=run, model="local:smollm2"))[1] == "local:smollm2"
    with pytest.raises(BotSpecError, match="no policy for iteration 5"):
        resolve(LspoConfig(run=run, iteration=5))
    with pytest.raises(BotSpecError, match="no iteration with a policy"):
        resolve(LspoConfig(run=tmp_path))
    with pytest.raises(BotSpecError, match=r"run=DIR .* or policy=FILE"):
        make_bot(GAME, "lspo:candidates=2")
    with pytest.raises(BotSpecError, match=r"not a saved policy|cannot read"):
        make_bot(GAME, f"lspo:policy={tmp_path / 'missing.json'},model=scripted:x")
    with pytest.raises(BotSpecError, match="werewolf only"):
        make_bot(pyspiel.load_game("tic_tac_toe"), f"lspo:run={run}")
