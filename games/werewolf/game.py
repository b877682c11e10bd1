"""Werewolf (7 players, alternating nights and days) as an OpenSpiel Python game, `werewolf`.

Rules, every choice:

- Players 0-6: 2 werewolves, 1 seer, 1 doctor, 3 villagers. Roles are dealt by one chance
  node over the 420 distinct role assignments (`ASSIGNMENTS`, uniform). Each player learns
  its own role; each werewolf also learns who the other werewolf is.
- The game starts with night 1; night d is followed by day d.
- Night, in this order, each step skipped when its actor is dead:
  1. every living werewolf, in seat order, picks a victim among the living non-wolves
     (`kill P`); wolves see each other's picks (the second picks knowing the first). On
     a disagreement the first (lowest-seated living) wolf's pick is the victim;
  2. the seer checks a living player other than itself (`check P`) and learns whether
     that player is a werewolf;
  3. the doctor protects a living player (`protect P`); itself is allowed; not the player
     it protected the night before.
  The victim dies unless protected, in which case nobody dies.
- Day: the night's death (or "nobody died") is announced. Each living player speaks once
  (a speech action, see speech.py), in seat order starting at the first living seat at or
  after seat (d - 1) mod 7; then each living player votes, in the same order, for a
  living player other than itself (no abstaining). Votes are open: later voters see
  earlier votes. The player with the most votes is eliminated; a tie eliminates nobody.
- Roles are never revealed: not on a death, not on an elimination, not at the end. Only
  the winning side is announced. `str(state)` is the omniscient view (roles and all
  private actions), for referees and logs, never a player's view.
- The village wins when no werewolf lives; the werewolves win when living wolves >= living
  non-wolves. Both are checked after every death (night and day). If day `max_days`
  (game parameter, default 5) ends without a winner, the village wins: the werewolves
  ran out of time.
- Returns: +1 to each winner, -1 to each loser (GENERAL_SUM: a village win sums to +3, a
  werewolf win to -3; no declared utility sum).
- Actions: `kill P` = P, `check P` = 7 + P, `protect P` = 14 + P, `vote P` = 21 + P, and
  speech from `SPEECH_BASE` = 28 on, one action per catalogue statement (speech.py); the
  catalogue grows with the game parameter `strategies`. `max_game_length` = 18 *
  max_days player actions (4 at night, at most 7 speeches and 7 votes a day; the deal is
  one chance node on top).

What each player may know (its `View`, the only input of the observers and the rule bot):
its own role; the other werewolf and all wolves' picks (werewolves); its own checks and
their results (seer); its own protections (doctor); the public record: deaths, speeches,
votes, eliminations, who is alive, the day and public phase (night, speech, vote, over),
whose turn it is by day, and the winner. At night a non-acting player only sees "night",
not which night step is running (that would tell which roles are alive).

Observers (`make_py_observer`, observer.py): `perfect_recall=True` is the information
state (the whole visible history), `perfect_recall=False` the observation (the current
day, the last night, and the player's private knowledge so far). The game parameter
`abstraction="lspo"` swaps the perfect-recall string and tensor for a compact
abstraction (knowledge.py, `abstraction_key`), so tabular solvers that key on
`information_state_string` (OpenSpiel's MCCFR) solve an abstracted game unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pyspiel

from games.errors import GameError
from games.werewolf.speech import Catalogue, Statement, WerewolfConfigError

NAME = "werewolf"
NUM_PLAYERS = 7
WOLF, SEER, DOCTOR, VILLAGER = range(4)
ROLE_NAMES = ("werewolf", "seer", "doctor", "villager")
WOLVES_WIN, VILLAGE_WINS = 0, 1
RESULTS = ("the werewolves win", "the village wins")

KILL, CHECK, PROTECT, VOTE = 0, 7, 14, 21
"""First action id of each targeted move; the target seat is added."""
SPEECH_BASE = 28

DEAL, NIGHT_WOLF, NIGHT_SEER, NIGHT_DOCTOR, SPEECH, VOTING, OVER = range(7)
"""Phases. A player's view shows NIGHT for the three night steps."""
NIGHT = NIGHT_WOLF
_PHASES = ("deal", "night {} (werewolves)", "night {} (seer)", "night {} (doctor)")
PHASE_NAMES = {DEAL: "deal", NIGHT: "night", SPEECH: "speeches", VOTING: "vote", OVER: "over"}

ASSIGNMENTS: tuple[tuple[int, ...], ...] = tuple(
    sorted(set(itertools.permutations((WOLF, WOLF, SEER, DOCTOR, VILLAGER, VILLAGER, VILLAGER))))
)
"""The 420 distinct role assignments; chance outcome k deals ASSIGNMENTS[k]."""

_DEAL_OUTCOMES = [(k, 1.0 / len(ASSIGNMENTS)) for k in range(len(ASSIGNMENTS))]

MAX_DAYS = 5
ABSTRACTIONS = ("full", "lspo")


class Ev(NamedTuple):
    """One event of the game record. kind is one of PICK ... ELIM; target -1 means none
    (nobody died, a tied vote, an untargeted statement); value is the check result (1 =
    werewolf) or the statement index."""

    kind: int
    day: int
    actor: int
    target: int
    value: int = 0

    def __deepcopy__(self, memo: dict[int, object]) -> Ev:
        return self


class EventLog(list[Ev]):
    """The record; copied shallowly by deepcopy (its events are immutable)."""

    def __deepcopy__(self, memo: dict[int, object]) -> EventLog:
        return EventLog(self)


PICK, CHECKED, PROTECTED, DEATH, SAY, VOTED, ELIM = range(7)


@dataclass(frozen=True)
class WerewolfConfig:
    """The game parameters, checked; shared by the game and its states."""

    max_days: int = MAX_DAYS
    abstraction: str = "full"
    catalogue: Catalogue = field(default_factory=lambda: Catalogue(NUM_PLAYERS))
    _speech: dict[tuple[int, tuple[bool, ...]], list[int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Legal speech actions by (speaker, alive), filled as they are asked for."""

    def speech_actions(self, speaker: int, alive: tuple[bool, ...]) -> list[int]:
        """The legal speech actions: untargeted statements and those naming a living other."""
        legal = self._speech.get((speaker, alive))
        if legal is None:
            legal = [
                SPEECH_BASE + i
                for i, st in enumerate(self.catalogue.statements)
                if st.target is None or (st.target != speaker and alive[st.target])
            ]
            self._speech[speaker, alive] = legal
        return legal

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> WerewolfConfig:
        max_days = int(params.get("max_days", MAX_DAYS))
        if max_days < 1:
            raise WerewolfConfigError(f"max_days={max_days}: want at least 1")
        abstraction = str(params.get("abstraction", "full"))
        if abstraction not in ABSTRACTIONS:
            raise WerewolfConfigError(
                f"abstraction={abstraction!r}; valid: {', '.join(ABSTRACTIONS)}"
            )
        catalogue = Catalogue.parse(str(params.get("strategies", "")), NUM_PLAYERS)
        return cls(max_days, abstraction, catalogue)

    def __deepcopy__(self, memo: dict[int, object]) -> WerewolfConfig:
        return self  # immutable: states share it (OpenSpiel's clone deep-copies attributes)


_GAME_TYPE = pyspiel.GameType(
    short_name=NAME,
    long_name="Werewolf (7 players: 2 werewolves, seer, doctor, 3 villagers)",
    dynamics=pyspiel.GameType.Dynamics.SEQUENTIAL,
    chance_mode=pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC,
    information=pyspiel.GameType.Information.IMPERFECT_INFORMATION,
    utility=pyspiel.GameType.Utility.GENERAL_SUM,
    reward_model=pyspiel.GameType.RewardModel.TERMINAL,
    max_num_players=NUM_PLAYERS,
    min_num_players=NUM_PLAYERS,
    provides_information_state_string=True,
    provides_information_state_tensor=True,
    provides_observation_string=True,
    provides_observation_tensor=True,
    parameter_specification={"max_days": MAX_DAYS, "strategies": "", "abstraction": "full"},
)


@dataclass(frozen=True)
class View:
    """What player `me` may know at a state (see the module docstring)."""

    me: int
    role: int
    """-1 before the deal."""
    wolves: tuple[int, ...]
    """The werewolf team when `me` is a werewolf, else ()."""
    day: int
    phase: int
    """DEAL, NIGHT, SPEECH, VOTING or OVER."""
    my_turn: bool
    to_act: int
    """The player to act by day, -1 otherwise (at night only the actor knows it acts)."""
    alive: tuple[bool, ...]
    events: tuple[Ev, ...]
    """The events `me` saw, in order."""
    winner: int
    """WOLVES_WIN, VILLAGE_WINS or -1."""
    config: WerewolfConfig


class WerewolfGame(pyspiel.Game):  # type: ignore[misc]  # pyspiel has no stubs
    """The game; `config` holds the checked parameters."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self.config = WerewolfConfig.from_params(params or {})
        info = pyspiel.GameInfo(
            num_distinct_actions=SPEECH_BASE + len(self.config.catalogue.statements),
            max_chance_outcomes=len(ASSIGNMENTS),
            num_players=NUM_PLAYERS,
            min_utility=-1.0,
            max_utility=1.0,
            utility_sum=None,
            max_game_length=18 * self.config.max_days,
        )
        super().__init__(_GAME_TYPE, info, dict(params or {}))

    def new_initial_state(self) -> WerewolfState:
        return WerewolfState(self)

    def make_py_observer(
        self,
        iig_obs_type: pyspiel.IIGObservationType | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        from games.werewolf.observer import WerewolfObserver

        if params:
            raise WerewolfConfigError(f"werewolf observers take no parameters, got {params}")
        return WerewolfObserver(
            self.config, iig_obs_type or pyspiel.IIGObservationType(perfect_recall=False)
        )


class WerewolfState(pyspiel.State):  # type: ignore[misc]  # pyspiel has no stubs
    """A game state. Attributes are few and cheap to copy (OpenSpiel's clone deep-copies
    each attribute); `events` holds immutable tuples."""

    def __init__(self, game: WerewolfGame) -> None:
        super().__init__(game)
        self.config: WerewolfConfig = game.config
        self.roles: tuple[int, ...] = ()
        """The dealt roles, () before the deal. Omniscient: for referees and tests."""
        self.alive = [True] * NUM_PLAYERS
        self.day = 1
        self.phase = DEAL
        self.queue: list[int] = []
        """Players still to act in the current phase, in order."""
        self.picks: list[int] = []
        self.protect = -1
        self.last_protect = -1
        self.votes: list[int] = []
        self.events = EventLog()
        self.winner = -1

    # -- OpenSpiel API --------------------------------------------------------------------

    def current_player(self) -> int:
        if self.phase == OVER:
            return int(pyspiel.PlayerId.TERMINAL)
        if self.phase == DEAL:
            return int(pyspiel.PlayerId.CHANCE)
        return self.queue[0]

    def is_terminal(self) -> bool:
        return self.phase == OVER

    def chance_outcomes(self) -> list[tuple[int, float]]:
        return _DEAL_OUTCOMES

    def _legal_actions(self, player: int) -> list[int]:
        alive = self.alive
        if self.phase == NIGHT_WOLF:
            roles = self.roles
            return [KILL + t for t in range(NUM_PLAYERS) if alive[t] and roles[t] != WOLF]
        if self.phase == NIGHT_SEER:
            return [CHECK + t for t in range(NUM_PLAYERS) if alive[t] and t != player]
        if self.phase == NIGHT_DOCTOR:
            last = self.last_protect
            return [PROTECT + t for t in range(NUM_PLAYERS) if alive[t] and t != last]
        if self.phase == VOTING:
            return [VOTE + t for t in range(NUM_PLAYERS) if alive[t] and t != player]
        return self.config.speech_actions(player, tuple(alive))

    def _apply_action(self, action: int) -> None:
        if self.phase == DEAL:
            self.roles = ASSIGNMENTS[action]
            self._start_night()
            return
        actor = self.queue.pop(0)
        day = self.day
        if self.phase == NIGHT_WOLF:
            self.picks.append(action - KILL)
            self.events.append(Ev(PICK, day, actor, action - KILL))
            if not self.queue:
                self._night_step(SEER)
        elif self.phase == NIGHT_SEER:
            t = action - CHECK
            self.events.append(Ev(CHECKED, day, actor, t, int(self.roles[t] == WOLF)))
            self._night_step(DOCTOR)
        elif self.phase == NIGHT_DOCTOR:
            self.protect = action - PROTECT
            self.events.append(Ev(PROTECTED, day, actor, self.protect))
            self._resolve_night()
        elif self.phase == SPEECH:
            index = action - SPEECH_BASE
            target = self.config.catalogue.statements[index].target
            self.events.append(Ev(SAY, day, actor, -1 if target is None else target, index))
            if not self.queue:
                self.phase = VOTING
                self.queue = self._day_order()
        else:
            self.votes.append(action - VOTE)
            self.events.append(Ev(VOTED, day, actor, action - VOTE))
            if not self.queue:
                self._resolve_vote()

    def _action_to_string(self, player: int, action: int) -> str:
        if player == pyspiel.PlayerId.CHANCE:
            roles = ASSIGNMENTS[action]
            return "deal " + " ".join(f"{p}:{ROLE_NAMES[r]}" for p, r in enumerate(roles))
        return action_name(self.config.catalogue, action)

    def returns(self) -> list[float]:
        if self.winner < 0:
            return [0.0] * NUM_PLAYERS
        wolves_won = self.winner == WOLVES_WIN
        return [1.0 if (r == WOLF) == wolves_won else -1.0 for r in self.roles]

    def __str__(self) -> str:
        if not self.roles:
            return "roles not dealt yet"
        roles = ", ".join(f"{p} {ROLE_NAMES[r]}" for p, r in enumerate(self.roles))
        lines = [f"roles: {roles}"]
        lines += [describe_event(e, self.config.catalogue) for e in self.events]
        if self.phase == OVER:
            lines.append(f"game over: {RESULTS[self.winner]}")
        else:
            when = (
                _PHASES[self.phase].format(self.day)
                if self.phase < SPEECH
                else f"day {self.day}, {PHASE_NAMES[self.phase]}"
            )
            lines.append(f"now: {when}; player {self.queue[0]} to act")
        return "\n".join(lines)

    # -- rules ----------------------------------------------------------------------------

    def _start_night(self) -> None:
        self.phase = NIGHT_WOLF
        self.picks = []
        self.protect = -1
        self.queue = [p for p in range(NUM_PLAYERS) if self.alive[p] and self.roles[p] == WOLF]

    def _night_step(self, role: int) -> None:
        """Hand the night to the living seer (role SEER) or doctor, else resolve it."""
        holder = self.roles.index(role)
        if self.alive[holder]:
            self.phase = NIGHT_SEER if role == SEER else NIGHT_DOCTOR
            self.queue = [holder]
        elif role == SEER:
            self._night_step(DOCTOR)
        else:
            self._resolve_night()

    def _resolve_night(self) -> None:
        victim = self.picks[0]
        self.last_protect = self.protect
        dead = -1 if victim == self.protect else victim
        self.events.append(Ev(DEATH, self.day, -1, dead))
        if dead >= 0:
            self.alive[dead] = False
            if self._check_win():
                return
        self.phase = SPEECH
        self.votes = []
        self.queue = self._day_order()

    def _day_order(self) -> list[int]:
        start = (self.day - 1) % NUM_PLAYERS
        seats = [(start + i) % NUM_PLAYERS for i in range(NUM_PLAYERS)]
        return [p for p in seats if self.alive[p]]

    def _resolve_vote(self) -> None:
        counts = [0] * NUM_PLAYERS
        for t in self.votes:
            counts[t] += 1
        top = max(counts)
        out = counts.index(top) if counts.count(top) == 1 else -1
        self.events.append(Ev(ELIM, self.day, -1, out))
        if out >= 0:
            self.alive[out] = False
            if self._check_win():
                return
        if self.day >= self.config.max_days:
            self._finish(VILLAGE_WINS)
            return
        self.day += 1
        self._start_night()

    def _check_win(self) -> bool:
        wolves = sum(1 for p in range(NUM_PLAYERS) if self.alive[p] and self.roles[p] == WOLF)
        others = sum(self.alive) - wolves
        if wolves == 0:
            self._finish(VILLAGE_WINS)
        elif wolves >= others:
            self._finish(WOLVES_WIN)
        return self.phase == OVER

    def _finish(self, winner: int) -> None:
        self.winner = winner
        self.phase = OVER
        self.queue = []

    # -- views ----------------------------------------------------------------------------

    def view(self, player: int) -> View:
        """What `player` may know now (the only input of observers and the rule bot)."""
        roles = self.roles
        role = roles[player] if roles else -1
        wolves = tuple(p for p in range(NUM_PLAYERS) if roles[p] == WOLF) if role == WOLF else ()
        events = tuple(e for e in self.events if _sees(e, player, role))
        phase = self.phase
        acting = self.queue[0] if self.queue else -1
        return View(
            me=player,
            role=role,
            wolves=wolves,
            day=self.day,
            phase=NIGHT if phase in (NIGHT_WOLF, NIGHT_SEER, NIGHT_DOCTOR) else phase,
            my_turn=acting == player,
            to_act=acting if phase in (SPEECH, VOTING) else -1,
            alive=tuple(self.alive),
            events=events,
            winner=self.winner,
            config=self.config,
        )


def _sees(e: Ev, player: int, role: int) -> bool:
    if e.kind == PICK:
        return role == WOLF
    if e.kind in (CHECKED, PROTECTED):
        return e.actor == player
    return True


def action_name(catalogue: Catalogue, action: int) -> str:
    """`kill 3`, `check 3`, `protect 3`, `vote 3`, `say accuse 3`, `say quiet`."""
    if action < SPEECH_BASE:
        verb = ("kill", "check", "protect", "vote")[action // NUM_PLAYERS]
        return f"{verb} {action % NUM_PLAYERS}"
    st = catalogue.statements[action - SPEECH_BASE]
    return f"say {st.strategy}" + ("" if st.target is None else f" {st.target}")


def describe_event(e: Ev, catalogue: Catalogue) -> str:
    """One line of the record, e.g. `day 1: player 2 votes for player 5`."""
    d, a, t = e.day, e.actor, e.target
    if e.kind == PICK:
        return f"night {d}: werewolf {a} picks player {t}"
    if e.kind == CHECKED:
        return f"night {d}: seer {a} checks player {t}: {'' if e.value else 'not '}a werewolf"
    if e.kind == PROTECTED:
        return f"night {d}: doctor {a} protects player {t}"
    if e.kind == DEATH:
        return f"day {d}: " + (
            "nobody died in the night" if t < 0 else f"player {t} was killed in the night"
        )
    if e.kind == SAY:
        st = catalogue.statements[e.value]
        move = st.strategy + ("" if st.target is None else f" {st.target}")
        return f'day {d}: player {a} says [{move}] "{catalogue.render(st)}"'
    if e.kind == VOTED:
        return f"day {d}: player {a} votes for player {t}"
    return f"day {d}: " + (
        "the vote is tied; nobody is eliminated"
        if t < 0
        else f"player {t} is eliminated (role not revealed)"
    )


def status_line(view: View) -> str:
    """Where the game stands, as `view`'s player sees it."""
    if view.phase == OVER:
        return f"game over: {RESULTS[view.winner]}"
    if view.phase == DEAL:
        return "roles not dealt yet"
    alive = " ".join(str(p) for p in range(NUM_PLAYERS) if view.alive[p])
    when = (
        f"night {view.day}" if view.phase == NIGHT else f"day {view.day}, {PHASE_NAMES[view.phase]}"
    )
    turn = ""
    if view.my_turn:
        turn = "; your turn"
    elif view.to_act >= 0:
        turn = f"; player {view.to_act} to act"
    return f"now: {when}; alive: {alive}{turn}"


def config_of(game: pyspiel.Game) -> WerewolfConfig:
    """The parameters of a werewolf game; GameError for any other game."""
    config = getattr(game, "config", None)
    if not isinstance(config, WerewolfConfig):
        raise GameError(f"not a werewolf game: {game.get_type().short_name}")
    return config


def speech_action(game: pyspiel.Game, strategy: str, target: int | None = None) -> int:
    """The action id of a statement, e.g. speech_action(game, "claim_seer_wolf", 3)."""
    return SPEECH_BASE + config_of(game).catalogue.index(Statement(strategy, target))


def action_statement(game: pyspiel.Game, action: int) -> Statement | None:
    """The statement of a speech action; None for any other action."""
    statements = config_of(game).catalogue.statements
    if SPEECH_BASE <= action < SPEECH_BASE + len(statements):
        return statements[action - SPEECH_BASE]
    return None


def load_werewolf(**params: int | str) -> pyspiel.Game:
    """The werewolf game with `params` (max_days, strategies, abstraction)."""
    return pyspiel.load_game(NAME, dict(params))


if NAME not in pyspiel.registered_names():
    pyspiel.register_game(_GAME_TYPE, WerewolfGame)
