"""`agents play werewolf --seat N`: one human seat against rule bots, driven line by line.
The transcript shows only what the seat may know (checked against the omniscient state
of the same game), free text is heard as the nearest statement, and a statement naming a
dead player or the speaker is refused and asked again. Thinking lines are hidden in
imperfect-information games with a human seated."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyspiel
import pytest

import games.play
from games.bots import make_bot
from games.catalog import load_game
from games.play import PlaySession, Seat
from games.werewolf.game import (
    NUM_PLAYERS,
    PICK,
    ROLE_NAMES,
    SAY,
    VOTED,
    VOTING,
    WOLF,
    describe_event,
)
from games.werewolf.play import SpeechRefused, choice_label, heard_statement, role_phrase
from games.werewolf.speech import Statement

ROOT = Path(__file__).resolve().parents[1]
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
WEREWOLF = load_game("werewolf")


@dataclass
class Driven:
    """A game played through PlaySession with a scripted human seat."""

    session: PlaySession
    seat: int
    lines: list[str] = field(default_factory=list)
    """Everything written, one entry per write."""
    prompts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """What the human said that must be refused."""
    spoken: list[tuple[str, int]] = field(default_factory=list)
    """What the human said that must be heard as `accuse target`."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _drive(seat: int, seed: int) -> Driven:
    """Play a game as `seat`: each day first a statement that must be refused (naming a
    dead player, else the speaker), then an accusation of a living player in free text;
    night actions and votes alternately by number and by name."""
    seats = [
        Seat("human") if p == seat else Seat("rule", make_bot(WEREWOLF, "rule", seed + p))
        for p in range(NUM_PLAYERS)
    ]
    tried_bad: set[int] = set()
    run: Driven

    def read_line(prompt: str) -> str:
        run.prompts.append(prompt)
        view = run.session.state.view(seat)
        if prompt.startswith("you say"):
            if view.day not in tried_bad:
                tried_bad.add(view.day)
                dead = [p for p in range(NUM_PLAYERS) if not view.alive[p]]
                bad = dead[0] if dead else seat
                run.refused.append(f"I am sure player {bad} is a werewolf")
                return run.refused[-1]
            target = max(p for p in range(NUM_PLAYERS) if view.alive[p] and p != seat)
            run.spoken.append((f"I think player {target} is a werewolf", target))
            return run.spoken[-1][0]
        legal = run.session.state.legal_actions()
        if len(run.prompts) % 2:
            return str(len(legal))  # the last item, by number
        return choice_label(legal[0]) if view.phase == VOTING else f"player {legal[0] % 7}"

    lines: list[str] = []
    run = Driven(PlaySession(WEREWOLF, seats, read_line, lines.append, seed=seed), seat, lines)
    result = run.session.run()
    assert result.reason == "finished"
    return run


def _forbidden(run: Driven) -> list[str]:
    """What the seat must never see, from the omniscient state: other seats' roles as the
    game phrases them, night actions the seat did not see, bots' reasoning and moves,
    and the per-seat returns (they tell the teams)."""
    state = run.session.state
    seat, roles = run.seat, state.roles
    view = state.view(seat)
    cat = state.config.catalogue
    wolf = roles[seat] == WOLF
    out = ["roles:", "thinking:", " plays ", "result: player", "checks player", "protects"]
    if not wolf:
        out.append("picks player")
    for p, r in enumerate(roles):
        if p == seat or (wolf and r == WOLF):
            continue
        out += [f"{ROLE_NAMES[r]} {p}", f"player {p}, {role_phrase(r)}", f"{p} {ROLE_NAMES[r]}"]
    out += [describe_event(e, cat) for e in state.events if e not in view.events]
    return out


def _leaks(run: Driven) -> list[str]:
    """The forbidden strings in the transcript, each as a whole (`3 villager` is not in
    `3 villagers`)."""
    ends = {f: r"(?!\w)" if f[-1].isalnum() else "" for f in _forbidden(run)}
    return [f for f, end in ends.items() if re.search(re.escape(f) + end, run.text)]


@pytest.fixture(scope="module")
def played() -> list[Driven]:
    return [_drive(seat=seed % NUM_PLAYERS, seed=seed) for seed in range(12)]


def test_games_finish_with_the_side_and_the_seats_own_result(played: list[Driven]) -> None:
    roles = set()
    for run in played:
        state = run.session.state
        role = state.roles[run.seat]
        roles.add(role)
        assert state.is_terminal()
        assert run.lines[-2] in ("result: the village wins", "result: the werewolves win")
        won = state.returns()[run.seat] > 0
        assert run.lines[-1].startswith(f"you were player {run.seat}, {role_phrase(role)}")
        assert run.lines[-1].endswith("you win" if won else "you lose")
    assert roles == {0, 1, 2, 3}  # every role was played by the human seat


def test_the_transcript_shows_only_what_the_seat_may_know(played: list[Driven]) -> None:
    for run in played:
        assert _forbidden(run) and _leaks(run) == [], (run.seat, _leaks(run))
        role = run.session.state.roles[run.seat]
        if role == WOLF:
            partner = next(w for w in run.session.state.view(run.seat).wolves if w != run.seat)
            assert f"your partner is werewolf {partner}" in run.text
            picks = [e for e in run.session.state.events if e.kind == PICK and e.actor == partner]
            assert all(f"werewolf {partner} picks player {e.target}" in run.text for e in picks)
        elif ROLE_NAMES[role] == "seer" and "night 1" in run.text:
            assert "you check player" in run.text


def test_the_leak_check_catches_the_generic_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the werewolf table the same game prints moves and the omniscient end."""
    monkeypatch.setattr(games.play, "table_for", lambda *_: None)
    seats = [Seat("human")] + [Seat("rule", make_bot(WEREWOLF, "rule", p)) for p in range(1, 7)]
    lines: list[str] = []
    answers = iter(["1"] * 100)
    session = PlaySession(WEREWOLF, seats, lambda _: next(answers), lines.append, seed=3)
    session.run()
    run = Driven(session, 0, lines)
    assert _leaks(run)


def test_bot_speeches_read_as_english_and_votes_as_cast(played: list[Driven]) -> None:
    run = played[0]
    cat = run.session.state.config.catalogue
    for e in run.session.state.events:
        if e.kind == SAY and e.actor != run.seat:
            assert f'player {e.actor}: "{cat.render(cat.statements[e.value])}"' in run.text
        if e.kind == VOTED:
            you = " (you)" if e.actor == run.seat else ""
            assert f"player {e.actor}{you} votes for player {e.target}" in run.text


def test_free_text_is_heard_as_the_intended_statement(played: list[Driven]) -> None:
    spoken = [s for run in played for s in run.spoken]
    assert len(spoken) >= 10
    for run in played:
        for said, target in run.spoken:
            assert f"heard as: accuse player {target} (" in run.text
            assert f'player {run.seat} (you): "{said}"' in run.text


def test_a_statement_naming_a_dead_player_or_oneself_is_refused_and_asked_again(
    played: list[Driven],
) -> None:
    refusals = 0
    for run in played:
        refusals += len(run.refused)
        assert run.text.count("not allowed:") == len(run.refused)
        assert run.prompts.count("you say: ") == len(run.refused) + len(run.spoken)
        for said in run.refused:
            bad = int(said.split("player ")[1].split()[0])
            reason = (
                "that names yourself"
                if bad == run.seat
                else f"player {bad} is dead; name a living player"
            )
            assert f"heard as: accuse player {bad}; not allowed: {reason}" in run.text
    assert refusals >= 10


@pytest.mark.parametrize(
    ("text", "heard"),
    [
        ("I think player 4 is a werewolf", Statement("accuse", 4)),
        ("honestly 5 is lying, vote them out", Statement("accuse", 5)),
        ("I trust player 2", Statement("support", 2)),
        ("I am the seer: 6 is a wolf", Statement("claim_seer_wolf", 6)),
        ("as the seer I checked 1, not a werewolf", Statement("claim_seer_clear", 1)),
        ("I'm not a werewolf!", Statement("defend_self")),
        ("I am the doctor", Statement("claim_doctor")),
        ("pass", Statement("quiet")),
        ("I, player 0, think 3 is a werewolf", Statement("accuse", 3)),
    ],
)
def test_heard_statement(text: str, heard: Statement) -> None:
    state = WEREWOLF.new_initial_state()
    state.apply_action(0)
    assert heard_statement(text, state.view(0)) == heard


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("player 0 is a werewolf", "that names yourself"),
        ("I think player 9 is a wolf", "there is no player 9: seats are 0-6"),
    ],
)
def test_heard_statement_refuses(text: str, reason: str) -> None:
    state = WEREWOLF.new_initial_state()
    state.apply_action(0)
    with pytest.raises(SpeechRefused, match=reason):
        heard_statement(text, state.view(0))


def _agents(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENTS, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_cli_plays_a_whole_game_from_piped_lines() -> None:
    lines = ["I think player 0 is a werewolf", "I think player 4 is a werewolf", "1", "2"] * 20
    out = _agents(["play", "werewolf", "--seat", "2", "--seed", "6"], "\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "player 1 [rule]" in text and "player 2 [human] (you)" in text  # rule by default
    assert "you are player 2, " in text and "-- game over --" in text
    assert "result: the village wins" in text or "result: the werewolves win" in text
    assert "heard as: accuse player 4 (" in text and "not allowed: player 0 is dead" in text
    assert 'player 2 (you): "I think player 4 is a werewolf"' in text
    assert "thinking:" not in text and " plays " not in text and "roles:" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seat", "7"], "--seat/--human 7: werewolf has seats 0-6"),
        (["--seat", "-1"], "--seat/--human -1: seats are numbered from 0"),
        (["--seat", "1", "--human", "2"], "one human seat per terminal, not 2"),
    ],
)
def test_bad_seats_are_one_line_naming_the_range(args: list[str], message: str) -> None:
    out = _agents(["play", "werewolf", *args], "")
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def _bot_game(name: str, spec: str, answers: list[str]) -> list[str]:
    game = pyspiel.load_game(name)
    seats = [Seat("human"), Seat(spec, make_bot(game, spec, seed=0))]
    it = iter(answers)
    lines: list[str] = []
    PlaySession(game, seats, lambda _: next(it, "quit"), lines.append, seed=1).run()
    return lines


def test_thinking_is_hidden_with_hidden_information_and_shown_without() -> None:
    kuhn = _bot_game("kuhn_poker", "mcts:sims=30,worlds=2", ["1"] * 4 + [""])
    assert any("[mcts:sims=30,worlds=2] plays" in line for line in kuhn)
    assert not any("thinking:" in line for line in kuhn)
    ttt = _bot_game("tic_tac_toe", "mcts:sims=30", ["1"] * 5 + [""])
    assert any(line.startswith("  thinking: mcts 30 sims") for line in ttt)


def test_thinking_is_shown_when_no_human_sits_at_a_hidden_information_game() -> None:
    game = pyspiel.load_game("kuhn_poker")
    seats = [Seat(f"m{p}", make_bot(game, "mcts:sims=30,worlds=2", seed=p)) for p in range(2)]
    lines: list[str] = []
    PlaySession(game, seats, lambda _: None, lines.append, seed=1).run()
    assert any("thinking:" in line for line in lines)
