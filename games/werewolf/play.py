"""Werewolf at the terminal for one human seat (the table `games.play.PlaySession` uses).

Everything written comes from `state.view(seat)`: the seat's role (the partner of a wolf,
the wolves' picks, a seer's checks, a doctor's protections), deaths, each speech as
English (a bot's statement rendered from the catalogue, the human's own words as typed),
votes as cast, eliminations, who is alive, day and phase. Never another seat's role, a
night action the seat did not see, or a bot's reasoning. Roles stay secret at the end
too (the rules never reveal them): the end names the winning side and the seat's result.

The human speaks in free text, read by `speech.parse_statement` to the nearest statement
(shown as "heard as: ..."); a statement naming a dead player or the speaker is refused
with the reason and asked again. Night actions and votes are picked from a numbered list
by number, by name (`kill player 2`, `kill 2`) or by the player (`player 2`). Commands:
`help`, `status`, `quit`.
"""

from __future__ import annotations

import re

import pyspiel

from games.play import ReadLine, Write, move_list
from games.werewolf.game import (
    CHECK,
    CHECKED,
    DEATH,
    DOCTOR,
    ELIM,
    KILL,
    NIGHT,
    NUM_PLAYERS,
    PICK,
    PROTECT,
    PROTECTED,
    RESULTS,
    ROLE_NAMES,
    SAY,
    SEER,
    SPEECH,
    VOTE,
    VOTED,
    VOTING,
    WOLF,
    WOLVES_WIN,
    Ev,
    View,
    action_name,
    config_of,
    speech_action,
    status_line,
)
from games.werewolf.speech import BASE_KINDS, TARGETED, TEMPLATES, Statement, parse_statement

_VERBS = {KILL: "kill player {}", CHECK: "check player {}", PROTECT: "protect player {}"}
_VERBS[VOTE] = "vote for player {}"
_PLAYER = re.compile(r"\b(?:player|seat|p)\s*#?\s*(\d+)\b")
_QUIT = ("quit", "exit", "q")


def role_phrase(role: int) -> str:
    """`a werewolf`, `the seer`, `the doctor`, `a villager`."""
    return ("the " if role in (SEER, DOCTOR) else "a ") + ROLE_NAMES[role]


def statement_text(statement: Statement) -> str:
    """A statement as `accuse player 3` (its strategy and target)."""
    name = statement.strategy.replace("_", " ")
    return name if statement.target is None else f"{name} player {statement.target}"


def choice_label(action: int) -> str:
    """A night action or vote as a list item: `kill player 2`, `vote for player 2`."""
    base = action - action % NUM_PLAYERS
    return _VERBS[base].format(action % NUM_PLAYERS)


def parse_choice(text: str, moves: list[tuple[int, str]], state: pyspiel.State) -> int | None:
    """The action chosen from a numbered list: its number, its label (`kill player 2`),
    its action name (`kill 2`) or the target (`player 2`); None if none matches."""
    t = " ".join(text.lower().split())
    if t.isdigit():
        n = int(t)
        return moves[n - 1][0] if 1 <= n <= len(moves) else None
    cat = config_of(state.get_game()).catalogue
    for action, label in moves:
        if t in (label, action_name(cat, action)):
            return action
    m = _PLAYER.fullmatch(t)
    if m:
        target = int(m[1])
        return next((a for a, _ in moves if a % NUM_PLAYERS == target), None)
    return None


class SpeechRefused(ValueError):
    """The statement a line maps to cannot be said now; the message says why."""

    def __init__(self, reason: str, statement: Statement | None = None) -> None:
        super().__init__(reason)
        self.statement = statement
        """What the line was heard as, when it maps to a statement."""


def heard_statement(text: str, view: View) -> Statement:
    """The statement `view`'s player makes by saying `text` (`parse_statement`'s nearest
    base kind). A line whose first seat number names the speaker or a dead player, or
    that names a seat the game does not have, raises SpeechRefused (the statement is in
    its `statement` attribute when there is one)."""
    me, alive = view.me, view.alive
    living = [p for p in range(NUM_PLAYERS) if alive[p]]
    kind, target = parse_statement(text, me, living)
    if target is not None:
        return Statement(kind, target)
    kind_any, named = parse_statement(text, -1, range(NUM_PLAYERS))
    if named is not None:
        meant = Statement(kind_any, named)
        if named == me:
            raise SpeechRefused(
                "that names yourself; to defend yourself say e.g. 'I am not a werewolf'", meant
            )
        others = " ".join(str(p) for p in living if p != me)
        raise SpeechRefused(f"player {named} is dead; name a living player ({others})", meant)
    for m in _PLAYER.finditer(" ".join(text.lower().split())):
        if int(m[1]) >= NUM_PLAYERS:
            raise SpeechRefused(f"there is no player {m[1]}: seats are 0-{NUM_PLAYERS - 1}")
    return Statement(kind, None)


class WerewolfTable:
    """The terminal of human seat `seat` in a werewolf game."""

    def __init__(self, game: pyspiel.Game, seat: int, write: Write) -> None:
        if not 0 <= seat < NUM_PLAYERS:
            raise ValueError(f"seat {seat}: werewolf has seats 0-{NUM_PLAYERS - 1}")
        self.game = game
        self.catalogue = config_of(game).catalogue
        self.seat = seat
        self.write = write
        self._shown = 0  # events of the seat's view written so far
        self._introduced = False
        self._header = ""
        self._said: dict[int, str] = {}  # day -> what the human typed that day

    # -- what the seat sees ---------------------------------------------------------------

    def show(self, state: pyspiel.State) -> None:
        view: View = state.view(self.seat)
        if view.role >= 0 and not self._introduced:
            self._introduced = True
            self.write(self._role_line(view))
            self.write(self._role_help(view))
        for e in view.events[self._shown :]:
            self._event(e, view)
        self._shown = len(view.events)
        if view.phase == NIGHT:
            self._heading(f"night {view.day}")

    def _heading(self, title: str) -> None:
        if title != self._header:
            self._header = title
            self.write("")
            self.write(f"== {title} ==")

    def _role_line(self, view: View) -> str:
        line = f"you are player {view.me}, {role_phrase(view.role)}"
        if view.role == WOLF:
            partner = [w for w in view.wolves if w != view.me]
            line += f"; your partner is werewolf {partner[0]}" if partner else ""
        return line

    def _role_help(self, view: View) -> str:
        if view.role == WOLF:
            return (
                "each night the werewolves pick a victim (you see each other's picks; on a "
                "disagreement the lower seat's pick counts). You win when werewolves are as "
                "many as the others."
            )
        if view.role == SEER:
            return "each night you check one player and learn whether it is a werewolf."
        if view.role == DOCTOR:
            return "each night you protect one player (yourself too; not the same twice running)."
        return "you sleep at night. The village wins when both werewolves are gone."

    def _event(self, e: Ev, view: View) -> None:
        me, d, a, t = self.seat, e.day, e.actor, e.target
        self._heading(f"night {d}" if e.kind in (PICK, CHECKED, PROTECTED) else f"day {d}")
        if e.kind == PICK:
            who = "you pick" if a == me else f"werewolf {a} picks"
            self.write(f"{who} player {t} as the victim")
        elif e.kind == CHECKED:
            self.write(f"you check player {t}: {'' if e.value else 'not '}a werewolf")
        elif e.kind == PROTECTED:
            self.write(f"you protect player {t}")
        elif e.kind == DEATH:
            if t < 0:
                self.write("nobody died in the night")
            elif t == me:
                self.write("you were killed in the night; you watch the rest of the game")
            else:
                self.write(f"player {t} was killed in the night")
        elif e.kind == SAY:
            st = self.catalogue.statements[e.value]
            if a == me and d in self._said:
                self.write(f'player {a} (you): "{self._said[d]}"')
            else:
                self.write(f'player {a}: "{self.catalogue.render(st)}"')
        elif e.kind == VOTED:
            self.write(f"player {a}{' (you)' if a == me else ''} votes for player {t}")
        elif e.kind == ELIM:
            if t < 0:
                self.write("the vote is tied: nobody is eliminated")
            else:
                n = sum(1 for v in view.events if v.kind == VOTED and v.day == d and v.target == t)
                votes = f"{n} vote{'s' if n != 1 else ''}"
                if t == me:
                    self.write(f"you are eliminated with {votes}; you watch the rest of the game")
                else:
                    self.write(f"player {t} is eliminated with {votes} (roles are never revealed)")

    def game_over(self, state: pyspiel.State) -> None:
        view: View = state.view(self.seat)
        side = "werewolves'" if view.role == WOLF else "village's"
        won = (view.winner == WOLVES_WIN) == (view.role == WOLF)
        self.write(f"result: {RESULTS[view.winner]}")
        self.write(
            f"you were player {view.me}, {role_phrase(view.role)}, on the {side} side: "
            f"you {'win' if won else 'lose'}"
        )

    # -- the seat's moves -----------------------------------------------------------------

    def human_move(self, state: pyspiel.State, read_line: ReadLine) -> int | str:
        view: View = state.view(self.seat)
        if view.phase == SPEECH:
            return self._speak(state, view, read_line)
        moves = [(a, choice_label(a)) for a in state.legal_actions()]
        if view.phase == VOTING:
            ask = f"day {view.day}: your vote: who should be eliminated?"
        elif view.role == WOLF:
            ask = f"night {view.day}: pick the victim"
        elif view.role == SEER:
            ask = f"night {view.day}: check a player"
        else:
            ask = f"night {view.day}: protect a player"
        self.write("")
        self.write(status_line(view))
        self.write(ask)
        self.write(move_list(moves))
        while True:
            line = read_line("your choice (number or name; help, status, quit): ")
            if line is None:
                self.write("input ended: game abandoned")
                return "input ended"
            text = line.strip()
            low = text.lower()
            if low in _QUIT:
                self.write("quit: game abandoned")
                return "quit"
            if low in ("help", "?", ""):
                self.write(ask + "; type a number from the list, e.g. 1, or a name:")
                self.write(move_list(moves))
                continue
            if low == "status":
                self._status(view)
                continue
            action = parse_choice(text, moves, state)
            if action is None:
                self.write(
                    f"{text[:40]!r} is not on the list: type 1-{len(moves)} or a name "
                    f"such as {moves[0][1]!r}"
                )
                continue
            return action

    def _speak(self, state: pyspiel.State, view: View, read_line: ReadLine) -> int | str:
        self.write("")
        self.write(status_line(view))
        self.write(f"day {view.day}: your turn to speak. Say anything (help lists what is heard).")
        while True:
            line = read_line("you say: ")
            if line is None:
                self.write("input ended: game abandoned")
                return "input ended"
            text = " ".join(line.split())
            low = text.lower()
            if low in _QUIT:
                self.write("quit: game abandoned")
                return "quit"
            if low in ("help", "?", ""):
                self._speech_help()
                continue
            if low == "status":
                self._status(view)
                continue
            try:
                statement = heard_statement(text, view)
            except SpeechRefused as exc:
                meant = exc.statement
                heard = f"heard as: {statement_text(meant)}; " if meant else ""
                self.write(f"{heard}not allowed: {exc}. Say it again:")
                continue
            action = speech_action(self.game, statement.strategy, statement.target)
            said = f'"{self.catalogue.render(statement)}"'
            if action not in state.legal_actions():
                self.write(f"heard as: {statement_text(statement)}; not allowed now")
                continue
            self.write(f"heard as: {statement_text(statement)} ({said})")
            self._said[view.day] = text
            return action

    def _speech_help(self) -> None:
        self.write("what you say is heard as the nearest of these statements:")
        for kind in BASE_KINDS:
            template = TEMPLATES[kind].format(target="N")
            name = kind.replace("_", " ") + (" player N" if kind in TARGETED else "")
            self.write(f"  {name:<28} {template}")
        self.write(
            "the first seat number you say is the target (a living player other than you), "
            "e.g. 'I think player 4 is a werewolf' is heard as accuse player 4."
        )
        self.write("commands: help, status, quit")

    def _status(self, view: View) -> None:
        self.write(self._role_line(view))
        self.write(status_line(view))
