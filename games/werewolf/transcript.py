"""What was said at one werewolf table: the text of each speech, shared by the language
bots of one game, and the record a player reads, built from its `View` and that text.

A speech action is a catalogue statement; a language bot also says free text, which it
records here (`Transcript.record`) under (day, speaker) before its action is applied.
Listeners read that text; a speech nobody recorded text for (a rule or random bot, a
human) reads as its statement's rendered template. So a bot that is not language-based
contributes its template without doing anything.

`Transcript` is a dict (day, speaker) -> text, so code that takes such a dict (LSPO's
self-play) can take a transcript. `share_transcript(bots)` gives every bot of one game
that has a `transcript` attribute the same new transcript.
"""

from __future__ import annotations

from collections.abc import Iterable

from games.werewolf.game import (
    CHECKED,
    DEATH,
    DOCTOR,
    ELIM,
    NUM_PLAYERS,
    PICK,
    PROTECTED,
    ROLE_NAMES,
    SAY,
    SEER,
    VOTED,
    WOLF,
    Ev,
    View,
    describe_event,
)


class Transcript(dict[tuple[int, int], str]):
    """(day, speaker) -> the text said; one per game, shared by its language bots."""

    def record(self, day: int, speaker: int, text: str) -> None:
        self[day, speaker] = " ".join(text.split())

    def reset_if_new_game(self, view: View) -> None:
        """Forget earlier games' text when `view` shows no speech yet (a bot reused across
        games). Nothing is lost: before the first speech of a game nothing was said."""
        if self and not any(e.kind == SAY for e in view.events):
            self.clear()

    def said(self, e: Ev, view: View) -> str:
        """The text of speech event `e`: what was recorded, else the statement's template."""
        text = self.get((e.day, e.actor))
        if text:
            return text
        cat = view.config.catalogue
        return cat.render(cat.statements[e.value])

    def line(self, e: Ev, view: View) -> str:
        """One line of the record; a speech as `day 1: player 2 said: "..."`."""
        if e.kind == SAY:
            return f'day {e.day}: player {e.actor} said: "{self.said(e, view)}"'
        return describe_event(e, view.config.catalogue)

    def lines(self, view: View, day: int | None = None) -> list[str]:
        """The public record as `view`'s player saw it (speeches as text), without its
        private events (see `private_lines`); only day `day`'s when given."""
        return [
            self.line(e, view)
            for e in view.events
            if e.kind in (DEATH, SAY, VOTED, ELIM) and (day is None or e.day == day)
        ]


PRIVATE = (PICK, CHECKED, PROTECTED)


def private_lines(view: View) -> list[str]:
    """What `view`'s player alone knows: its role, the wolf team (a werewolf), the
    wolves' picks, its checks (seer) or protections (doctor)."""
    if view.role < 0:
        return [f"You are player {view.me}; roles are not dealt yet."]
    article = "the" if view.role in (SEER, DOCTOR) else "a"
    lines = [f"You are player {view.me}, {article} {ROLE_NAMES[view.role]}."]
    if view.role == WOLF:
        partner = [p for p in view.wolves if p != view.me]
        if partner:
            lines.append(f"Your fellow werewolf is player {partner[0]}.")
    cat = view.config.catalogue
    lines += [describe_event(e, cat) for e in view.events if e.kind in PRIVATE]
    return lines


def alive_line(view: View) -> str:
    return "Alive: " + ", ".join(f"player {p}" for p in range(NUM_PLAYERS) if view.alive[p])


def share_transcript(bots: Iterable[object]) -> Transcript:
    """One new transcript, set on every bot that has a `transcript` attribute."""
    transcript = Transcript()
    for bot in bots:
        if hasattr(bot, "transcript"):
            setattr(bot, "transcript", transcript)  # noqa: B010  (any bot type)
    return transcript
