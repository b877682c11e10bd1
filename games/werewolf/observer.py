"""Werewolf observers (OpenSpiel's PyObserver interface: `tensor`, `dict`, `set_from`,
`string_from`), built from a player's `View` only.

`perfect_recall=True` (the information state): the player's whole visible record. The
string is the record in English, one event a line, under a header naming the player's
role (and the wolf team, for a wolf) and over a status line. The tensor has, per day d,
the night's death, every speech (speaker x statement), every vote (voter x target) and
the elimination; privately the wolves' picks, the seer's checks and the doctor's
protections per night.

`perfect_recall=False` (the observation): the latest day's record only (today's by day,
yesterday's at night), the last night's death, tonight's wolf picks, all of the seer's
check results, the doctor's last protection.

Both: the player, its role, the wolf team (wolves), who is alive, day, public phase,
whose turn by day, own turn, winner. `public_info=False` drops the public parts,
`private_info=NONE` the private ones; ALL_PLAYERS is refused (no omniscient observer).
With the game parameter `abstraction="lspo"` the default information state (perfect
recall, public and single-player private info) is the LSPO abstraction instead
(knowledge.py): the string is `key_string`, the tensor one-hot fields of the key.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyspiel

from games.werewolf.game import (
    CHECKED,
    DEAL,
    DEATH,
    DOCTOR,
    NIGHT,
    NUM_PLAYERS,
    OVER,
    PICK,
    PROTECTED,
    ROLE_NAMES,
    SAY,
    SEER,
    SPEECH,
    VOTED,
    VOTING,
    WOLF,
    Ev,
    View,
    WerewolfConfig,
    describe_event,
    status_line,
)
from games.werewolf.knowledge import SEAT_CODES, abstraction_key, key_string
from games.werewolf.speech import WerewolfConfigError

N = NUM_PLAYERS
PRIVATE_EVENTS = (PICK, CHECKED, PROTECTED)
PHASE_INDEX = {DEAL: 0, NIGHT: 1, SPEECH: 2, VOTING: 3, OVER: 4}


class WerewolfObserver:
    """One observation type of one werewolf game; reused across states and players."""

    def __init__(self, config: WerewolfConfig, iig_obs_type: pyspiel.IIGObservationType) -> None:
        if iig_obs_type.private_info == pyspiel.PrivateInfoType.ALL_PLAYERS:
            raise WerewolfConfigError("werewolf has no omniscient observer (ALL_PLAYERS)")
        self.config = config
        self.recall = bool(iig_obs_type.perfect_recall)
        self.public = bool(iig_obs_type.public_info)
        self.private = iig_obs_type.private_info == pyspiel.PrivateInfoType.SINGLE_PLAYER
        self.abstract = (
            config.abstraction == "lspo" and self.recall and self.public and self.private
        )
        days, statements = config.max_days, len(config.catalogue.statements)
        pieces: list[tuple[str, tuple[int, ...]]] = []
        if self.abstract:
            pieces = [(f"key{i}", (size,)) for i, size in enumerate(self._key_sizes())]
        else:
            if self.private:
                pieces += [("player", (N,)), ("role", (4,)), ("wolves", (N,)), ("my_turn", (1,))]
                if self.recall:
                    pieces += [
                        ("picks", (days, N, N)),
                        ("checks", (days, N, 2)),
                        ("protects", (days, N)),
                    ]
                else:
                    pieces += [("picks", (N, N)), ("checks", (N, 2)), ("protect", (N,))]
            if self.public:
                pieces += [
                    ("alive", (N,)),
                    ("phase", (len(PHASE_INDEX),)),
                    ("day", (days,)),
                    ("to_act", (N,)),
                    ("winner", (2,)),
                ]
                if self.recall:
                    pieces += [
                        ("deaths", (days, N + 1)),
                        ("speech", (days, N, statements)),
                        ("votes", (days, N, N)),
                        ("elims", (days, N + 1)),
                    ]
                else:
                    pieces += [
                        ("death", (N + 1,)),
                        ("speech", (N, statements)),
                        ("votes", (N, N)),
                        ("elim", (N + 1,)),
                    ]
        self.tensor = np.zeros(sum(int(np.prod(shape)) for _, shape in pieces), np.float32)
        self.dict: dict[str, np.ndarray] = {}
        offset = 0
        for name, shape in pieces:
            size = int(np.prod(shape))
            self.dict[name] = self.tensor[offset : offset + size].reshape(shape)
            offset += size

    def _key_sizes(self) -> list[int]:
        """The number of values of each field of `abstraction_key`."""
        d = self.config.max_days
        return [5, d + 1, 7, 2, N + 1, *([len(SEAT_CODES)] * N), 5, N + 1, N + 1]

    def _events(self, view: View) -> Iterable[Ev]:
        for e in view.events:
            if self.private if e.kind in PRIVATE_EVENTS else self.public:
                yield e

    def set_from(self, state: pyspiel.State, player: int) -> None:
        view: View = state.view(player)
        self.tensor.fill(0)
        d = self.dict
        if self.abstract:
            key = abstraction_key(view)
            shifted = (key[0] + 1, key[1] - 1, *key[2:])  # role -1.., day 1..
            for i, value in enumerate(shifted):
                d[f"key{i}"][value] = 1
            return
        if self.private:
            d["player"][view.me] = 1
            if view.role >= 0:
                d["role"][view.role] = 1
            for w in view.wolves:
                d["wolves"][w] = 1
            d["my_turn"][0] = view.my_turn
        if self.public:
            d["alive"][:] = view.alive
            d["phase"][PHASE_INDEX[view.phase]] = 1
            d["day"][view.day - 1] = 1
            if view.to_act >= 0:
                d["to_act"][view.to_act] = 1
            if view.winner >= 0:
                d["winner"][view.winner] = 1
        shown = _record_day(view)
        last_protect = -1
        for e in self._events(view):
            i = e.day - 1
            if self.recall:
                if e.kind == PICK:
                    d["picks"][i, e.actor, e.target] = 1
                elif e.kind == CHECKED:
                    d["checks"][i, e.target, e.value] = 1
                elif e.kind == PROTECTED:
                    d["protects"][i, e.target] = 1
                elif e.kind == DEATH:
                    d["deaths"][i, e.target] = 1  # -1 (nobody) is the last column
                elif e.kind == SAY:
                    d["speech"][i, e.actor, e.value] = 1
                elif e.kind == VOTED:
                    d["votes"][i, e.actor, e.target] = 1
                else:
                    d["elims"][i, e.target] = 1
            elif e.kind == CHECKED:
                d["checks"][e.target, e.value] = 1
            elif e.kind == PROTECTED:
                last_protect = e.target
            elif e.kind == PICK:
                if e.day == view.day:
                    d["picks"][e.actor, e.target] = 1
            elif e.day == shown:
                if e.kind == DEATH:
                    d["death"][e.target] = 1
                elif e.kind == SAY:
                    d["speech"][e.actor, e.value] = 1
                elif e.kind == VOTED:
                    d["votes"][e.actor, e.target] = 1
                else:
                    d["elim"][e.target] = 1
        if last_protect >= 0:
            d["protect"][last_protect] = 1

    def string_from(self, state: pyspiel.State, player: int) -> str:
        view: View = state.view(player)
        if self.abstract:
            return key_string(abstraction_key(view))
        cat = self.config.catalogue
        lines = [_header(view)] if self.private else []
        if self.recall:
            lines += [describe_event(e, cat) for e in self._events(view)]
        else:
            shown = _record_day(view)
            protection: list[str] = []
            for e in self._events(view):
                if e.kind == PROTECTED:
                    protection = [describe_event(e, cat)]
                elif e.kind == CHECKED or e.day == (view.day if e.kind == PICK else shown):
                    lines.append(describe_event(e, cat))
            lines += protection
        if self.public:
            lines.append(status_line(view))
        return "\n".join(lines)


def _record_day(view: View) -> int:
    """The day whose public record an observation shows: today by day or at the end,
    yesterday at night."""
    return view.day - 1 if view.phase == NIGHT else view.day


def _header(view: View) -> str:
    if view.role < 0:
        return f"you are player {view.me}; roles are not dealt yet"
    article = "the" if view.role in (SEER, DOCTOR) else "a"
    line = f"you are player {view.me}, {article} {ROLE_NAMES[view.role]}"
    if view.role == WOLF:
        line += "; the werewolves are players " + " and ".join(map(str, view.wolves))
    return line
