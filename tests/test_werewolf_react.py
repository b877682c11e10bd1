"""The werewolf `react:MODEL` agent with scripted models: free speech becomes the nearest
statement and its text reaches other language bots through the shared transcript; votes
pick the named player; unusable answers are retried, then fall back to the rule bot and
are counted; prompts show nothing of the omniscient state."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pyspiel
import pytest

from agents.llm import ScriptedLLM
from agents.llm.scripted import PlannedLLM
from games.bots import KINDS, make_bot, parse_spec
from games.catalog import load_game
from games.errors import BotSpecError
from games.werewolf.bots import decide
from games.werewolf.game import (
    ASSIGNMENTS,
    CHECKED,
    NIGHT,
    NUM_PLAYERS,
    ROLE_NAMES,
    SAY,
    SPEECH,
    SPEECH_BASE,
    VOTE,
    VOTING,
    WOLF,
    describe_event,
    load_werewolf,
    speech_action,
)
from games.werewolf.react import ReactBot, parse_choice, parse_speech, parse_to_action
from games.werewolf.transcript import Transcript, share_transcript

GAME = load_werewolf()


def _until(seed: int, phase: int, day: int = 1) -> pyspiel.State:
    """A game on deal `seed`, the rule policy playing every move until day `day`'s
    `phase` begins."""
    rng = random.Random(seed)
    state = GAME.new_initial_state()
    state.apply_action(rng.randrange(len(ASSIGNMENTS)))
    while not state.is_terminal():
        view = state.view(state.current_player())
        if view.phase == phase and view.day == day:
            return state
        state.apply_action(decide(view, rng)[0])
    raise AssertionError(f"game {seed} ended before day {day} phase {phase}")


def _bot(answers: list[str], seed: int = 0, transcript: Transcript | None = None) -> ReactBot:
    llm = ScriptedLLM(answers, on_exhausted="error")
    return ReactBot(GAME, "scripted:test", seed, llm=llm, transcript=transcript)


def _prompt(bot: ReactBot, call: int = -1) -> str:
    return "\n".join(str(m["content"]) for m in bot.llm.calls[call].messages)


def test_speech_becomes_its_statement_and_its_text_reaches_the_next_react_speaker() -> None:
    state = _until(seed=1, phase=SPEECH)
    first = state.current_player()
    target = next(p for p in range(NUM_PLAYERS) if state.alive[p] and p != first)
    said = f"I think player {target} is a werewolf."
    table = Transcript()
    speaker = _bot([f"Thought: {target} voted oddly.\nSay: {said}"], transcript=table)
    action = speaker.step(state)
    assert action == speech_action(GAME, "accuse", target)
    assert table == {(1, first): said}
    state.apply_action(action)

    listener = _bot(["Say: I have nothing to add."], seed=1, transcript=table)
    second = state.current_player()
    listener.step(state)
    assert f'day 1: player {first} said: "{said}"' in _prompt(listener)
    assert table[(1, second)] == "I have nothing to add."
    assert listener.fallbacks == speaker.fallbacks == 0


def test_other_bots_speeches_read_as_their_rendered_templates() -> None:
    state = _until(seed=2, phase=SPEECH)
    rng = random.Random(0)
    for _ in range(2):  # two rule speeches, no text recorded
        state.apply_action(decide(state.view(state.current_player()), rng)[0])
    bot = _bot(["Say: Hello."])
    bot.step(state)
    cat = GAME.config.catalogue
    for e in [e for e in state.events if e.kind == SAY]:
        assert f'player {e.actor} said: "{cat.render(cat.statements[e.value])}"' in _prompt(bot)


@pytest.mark.parametrize(
    "answer",
    ["Thought: they pushed me.\nChoice: {t}", "I vote for player {t}.", "{t}"],
)
def test_a_vote_answer_picks_the_named_player(answer: str) -> None:
    state = _until(seed=3, phase=VOTING)
    me = state.current_player()
    target = [a - VOTE for a in state.legal_actions()][-1]
    bot = _bot([answer.format(t=target)])
    assert bot.step(state) == VOTE + target
    assert bot.invalid_answers == bot.fallbacks == 0
    assert f"{target}. vote for player {target}" in _prompt(bot)
    assert f"{me}. vote for player {me}" not in _prompt(bot)  # not a legal move


def test_garbage_answers_are_retried_then_fall_back_to_the_rule_bot_and_are_counted() -> None:
    state = _until(seed=4, phase=VOTING)
    view = state.view(state.current_player())
    bot = _bot(["no idea", "still nothing usable"], seed=7)
    action = bot.step(state)
    assert action == decide(view, random.Random(7))[0]
    assert (bot.invalid_answers, bot.fallbacks, len(bot.llm.calls)) == (2, 1, 2)
    assert "cannot be used" in _prompt(bot, 1)
    assert "no usable answer" in bot.thinking

    speech = _until(seed=4, phase=SPEECH)
    table = Transcript()
    talker = _bot(["Thought: I only think.", ""], seed=7, transcript=table)
    rule_move = decide(speech.view(speech.current_player()), random.Random(7))[0]
    assert talker.step(speech) == rule_move
    cat = GAME.config.catalogue
    template = cat.render(cat.statements[rule_move - SPEECH_BASE])
    assert table == {(1, speech.current_player()): template}
    assert talker.fallbacks == 1 and talker.invalid_answers == 2


def test_answers_parse_from_their_fields() -> None:
    assert parse_speech("Thought: hmm\nSay: I am the seer: player 4 is a werewolf.") == (
        "hmm",
        "I am the seer: player 4 is a werewolf.",
    )
    assert parse_speech("Say: 'I trust player 2. He is good. More talk.'")[1] == (
        "I trust player 2. He is good."
    )
    assert parse_speech("Thought: only a thought") == ("only a thought", "")
    legal = [VOTE + 1, VOTE + 4]
    assert parse_choice("Thought: player 1 lied\nChoice: 4", legal) == ("player 1 lied", VOTE + 4)
    assert parse_choice("Choice: 6", legal)[1] is None
    state = _until(seed=5, phase=SPEECH)
    view = state.view(state.current_player())
    assert parse_to_action(GAME, view, "blah") == speech_action(GAME, "quiet")
    dead = [p for p in range(NUM_PLAYERS) if not view.alive[p]]
    if dead:  # a dead player cannot be named: the nearest statement has no target
        assert parse_to_action(GAME, view, f"player {dead[0]} was nice") in (state.legal_actions())


def test_react_is_a_werewolf_bot_spec_with_a_model_tail(tmp_path: Path) -> None:
    assert "react" in KINDS
    parsed = parse_spec("react:local:smollm2")
    assert (parsed.kind, parsed.rest, parsed.options) == ("react", "local:smollm2", {})
    with pytest.raises(BotSpecError, match="react needs a model spec"):
        parse_spec("react")
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps(["Say: hi"]))
    with pytest.raises(BotSpecError, match="werewolf only"):
        make_bot(load_game("tic_tac_toe"), f"react:scripted:{answers}")
    bot = make_bot(GAME, f"react:scripted:{answers}", seed=3)
    assert isinstance(bot, ReactBot) and bot.model_spec == f"scripted:{answers}"
    assert share_transcript([bot, object()]) is bot.transcript


_ROLE = "|".join(ROLE_NAMES)


def test_prompts_never_show_what_the_player_cannot_know() -> None:
    """A whole game of react bots: no prompt holds an event its player did not see, the
    omniscient header, or a role word next to a seat whose role the player does not know;
    and a non-wolf's prompt is the same when the other seats' roles are swapped."""
    speech = ["Thought: hmm.\nSay: I have a bad feeling about player 2."]
    llm = PlannedLLM({"turn to speak": speech}, ["Thought: fine.\nChoice: 4", "Choice: 1"])
    table = Transcript()
    bots = [ReactBot(GAME, "scripted:x", p, llm=llm, transcript=table) for p in range(7)]
    state = GAME.new_initial_state()
    state.apply_action(123)
    checked = 0
    while not state.is_terminal():
        me = state.current_player()
        view = state.view(me)
        before = len(llm.calls)
        action = bots[me].step(state)
        known = {me, *view.wolves} | {e.target for e in view.events if e.kind == CHECKED}
        hidden = [describe_event(e, GAME.config.catalogue) for e in state.events]
        hidden = [h for h, e in zip(hidden, state.events, strict=True) if e not in view.events]
        for call in llm.calls[before:]:
            text = "\n".join(str(m["content"]) for m in call.messages)
            assert "roles:" not in text
            assert not [h for h in hidden if h in text]
            text = re.sub(r'said: ".*"', "said: ...", text)  # public words, claims included
            for q in set(range(NUM_PLAYERS)) - known:
                assert not re.search(rf"player {q}\b[^\n]{{0,12}}\b({_ROLE})", text), (q, text)
                assert not re.search(rf"\b({_ROLE}) {q}\b", text), (q, text)
            checked += 1
        if view.role != WOLF and view.phase in (SPEECH, VOTING, NIGHT):
            swapped = state.clone()
            others = [state.roles[p] for p in range(NUM_PLAYERS) if p != me][::-1]
            swapped.roles = (*others[:me], view.role, *others[me:])
            prompt = bots[me].prompt(view, state.legal_actions())
            assert bots[me].prompt(swapped.view(me), swapped.legal_actions()) == prompt
        state.apply_action(action)
    assert checked > 20 and len(table) > 5
