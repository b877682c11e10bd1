"""What a werewolf player can conclude from its `View`: the record sorted by kind, known
werewolves and non-wolves, seer claims, and the public pressure on each seat. The rule
bot and the `lspo` abstraction read this; it reads nothing but the view.

The LSPO abstraction (`abstraction_key`) of a player's information state is
`role | day | phase | my turn | living count | seat codes | pressure on self | last
protection | vote leader`. Seat codes, one per seat, first match wins: `x` dead, `*`
self, `W` known werewolf (the other wolf; a seer's wolf check), `S` has claimed seer,
`D` has claimed doctor, `C` known non-wolf by private evidence (a seer's clear check, a
doctor's protection on a night nobody died), `+` public pressure >= 2, `-` pressure <=
-1, `.` otherwise. Pressure sums the speeches about a seat: accuse +1, claim_seer_wolf
+2, support -1, claim_seer_clear -2 (extra strategies by their base kind); on self it is
clipped to -1..3. The last protection (doctor only) and the seats and codes fix the
legal actions, so every state behind one key has the same legal actions, as tabular
solvers require. The vote leader is the seat with the most votes so far today (-1 for
none or a tie).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from games.werewolf.game import (
    CHECKED,
    DEAL,
    DEATH,
    ELIM,
    NIGHT,
    NUM_PLAYERS,
    OVER,
    PICK,
    PROTECTED,
    SAY,
    SPEECH,
    VOTED,
    VOTING,
    WOLF,
    View,
)

PRESSURE = {"accuse": 1, "claim_seer_wolf": 2, "support": -1, "claim_seer_clear": -2}
"""Public pressure of each statement kind on its target."""
SEAT_CODES = "x*WSDC+-."
ROLE_LETTERS = "WSDV"
PHASE_LETTERS = {DEAL: "-", NIGHT: "n", SPEECH: "s", VOTING: "v", OVER: "o"}


@dataclass(frozen=True)
class Speech:
    day: int
    speaker: int
    kind: str
    """The base kind of the statement's strategy."""
    target: int


@dataclass
class Knowledge:
    """Facts player `view.me` knows or was told, from its view only."""

    view: View
    living: list[int]
    known_wolves: set[int] = field(default_factory=set)
    known_good: set[int] = field(default_factory=set)
    """Non-wolves it knows: itself (a non-wolf), night victims (wolves kill non-wolves
    only), and its private evidence; for a werewolf, every non-wolf."""
    private_good: set[int] = field(default_factory=set)
    """Non-wolves known by its own checks or saves."""
    speeches: list[Speech] = field(default_factory=list)
    seer_claims: dict[int, list[Speech]] = field(default_factory=dict)
    """Claimer -> its seer claims, claimers in order of first claim."""
    doctor_claims: list[int] = field(default_factory=list)
    pressure: list[int] = field(default_factory=lambda: [0] * NUM_PLAYERS)
    votes: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """Day -> (voter, target) in order."""
    deaths: dict[int, int] = field(default_factory=dict)
    """Day -> the night's victim (-1: nobody died)."""
    removed: list[int] = field(default_factory=list)
    """Every death and elimination, in order."""
    picks: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """Night -> (wolf, pick), werewolves only."""
    checks: dict[int, bool] = field(default_factory=dict)
    """Seer only: checked seat -> is a werewolf."""
    protections: dict[int, int] = field(default_factory=dict)
    """Doctor only: night -> protected seat."""

    @property
    def me(self) -> int:
        return self.view.me

    def today_votes(self) -> list[int]:
        counts = [0] * NUM_PLAYERS
        for _, t in self.votes.get(self.view.day, []):
            counts[t] += 1
        return counts

    def last_protect(self) -> int:
        """The doctor's protection of the night before the coming one (-1: none)."""
        return self.protections.get(self.view.day - int(self.view.phase == NIGHT), -1)


def knowledge(view: View) -> Knowledge:
    """Sort `view`'s record into facts."""
    cat = view.config.catalogue
    k = Knowledge(view, [p for p in range(NUM_PLAYERS) if view.alive[p]])
    if view.role == WOLF:
        k.known_wolves.update(view.wolves)
        k.known_good.update(p for p in range(NUM_PLAYERS) if p not in view.wolves)
    elif view.role >= 0:
        k.known_good.add(view.me)
    for e in view.events:
        if e.kind == SAY:
            s = Speech(e.day, e.actor, cat.kinds[e.value], e.target)
            k.speeches.append(s)
            if s.target >= 0:
                k.pressure[s.target] += PRESSURE[s.kind]
            if s.kind in ("claim_seer_wolf", "claim_seer_clear"):
                k.seer_claims.setdefault(s.speaker, []).append(s)
            elif s.kind == "claim_doctor" and s.speaker not in k.doctor_claims:
                k.doctor_claims.append(s.speaker)
        elif e.kind == VOTED:
            k.votes.setdefault(e.day, []).append((e.actor, e.target))
        elif e.kind == DEATH:
            k.deaths[e.day] = e.target
            if e.target >= 0:
                k.known_good.add(e.target)
                k.removed.append(e.target)
            elif e.day in k.protections:  # the doctor saved its protectee: a non-wolf
                k.private_good.add(k.protections[e.day])
        elif e.kind == ELIM:
            if e.target >= 0:
                k.removed.append(e.target)
        elif e.kind == PICK:
            k.picks.setdefault(e.day, []).append((e.actor, e.target))
        elif e.kind == CHECKED:
            k.checks[e.target] = bool(e.value)
            (k.known_wolves if e.value else k.private_good).add(e.target)
        elif e.kind == PROTECTED:
            k.protections[e.day] = e.target
    k.known_good |= k.private_good
    return k


def abstraction_key(view: View) -> tuple[int, ...]:
    """The LSPO abstraction of `view` as numbers: role, day, phase, my turn, living
    count, one code index per seat (SEAT_CODES), pressure on self + 1 (0..4), last
    protection + 1, vote leader + 1."""
    k = knowledge(view)
    me = view.me
    codes = []
    for p in range(NUM_PLAYERS):
        if not view.alive[p]:
            c = "x"
        elif p == me:
            c = "*"
        elif p in k.known_wolves:
            c = "W"
        elif p in k.seer_claims:
            c = "S"
        elif p in k.doctor_claims:
            c = "D"
        elif p in k.private_good:
            c = "C"
        elif k.pressure[p] >= 2:
            c = "+"
        elif k.pressure[p] <= -1:
            c = "-"
        else:
            c = "."
        codes.append(SEAT_CODES.index(c))
    votes = k.today_votes() if view.phase == VOTING else [0] * NUM_PLAYERS
    top = max(votes)
    leader = votes.index(top) if top > 0 and votes.count(top) == 1 else -1
    return (
        view.role,
        view.day,
        view.phase,
        int(view.my_turn),
        len(k.living),
        *codes,
        min(3, max(-1, k.pressure[me])) + 1,
        k.last_protect() + 1,
        leader + 1,
    )


def key_string(key: tuple[int, ...]) -> str:
    """`abstraction_key` as a short string, e.g. `W d3 n* a5 SSx*WSx p-1 l-1 v-1`: a
    werewolf, night 3, its turn, 5 alive, the seat codes, pressure on self, last
    protection, vote leader."""
    role, day, phase, turn, n, *rest = key
    codes, (pressure, last, leader) = rest[:NUM_PLAYERS], rest[NUM_PLAYERS:]
    letter = ROLE_LETTERS[role] if role >= 0 else "?"
    seats = "".join(SEAT_CODES[c] for c in codes)
    return (
        f"{letter} d{day} {PHASE_LETTERS[phase]}{'*' if turn else ''} a{n} {seats} "
        f"p{pressure - 1} l{last - 1} v{leader - 1}"
    )
