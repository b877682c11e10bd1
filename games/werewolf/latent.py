"""LSPO's abstracted Werewolf game (`werewolf_latent`), its MCCFR solution, and the
`cfr:policy=FILE` bot that plays it in the full game.

The latent space (`LatentSpace`, a JSON file) lists, per role, the latent strategies of
speech: LSPO's clusters of free-text statements, each with the base kind its statements
mean (speech.py's `BASE_KINDS`, the majority of its members' parsed kinds), a template
and a few example statements. `LatentSpace.base()` is one strategy per base kind for
every role (no language involved).

The abstracted game is the werewolf game (the same rules, game.py) in which

- players decide only their speech, choosing a latent strategy of their role (action i =
  the role's strategy i); the statement's target follows from the strategy's kind and
  what the speaker knows (`target_for`: accuse the seat it most suspects, support or
  clear the one it trusts most; a seer names a wolf it found, a werewolf names a seer
  claimer or the village's suspect);
- night moves and votes are played by the rule policy (bots.py `decide`); its random
  tie-breaks come from a seed dealt with the roles (one chance node over 420 deals x
  `seeds` seeds), so the game has no hidden randomness and OpenSpiel's solvers see
  every chance outcome;
- the information-state string is a coarse abstraction of the speaker's view
  (`latent_key`): role, day, living count, pressure on self, seer claims alive, whether
  it claimed seer itself, whether it knows a living wolf (seer) / whether the team is
  exposed by a seer claim (werewolves), and how many have spoken before it today.
  Every state behind one key has the same legal actions (its role's strategies), as
  tabular solvers require.

So CFR (OpenSpiel's outcome-sampling MCCFR, `solve`) learns which latent strategy to
use in which situation; nothing else changes. Our choice against the paper (which lets
an LLM play every move): votes and night moves stay with the rule policy, so the
latent policy's gains come from speech alone.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyspiel

from games.errors import BotSpecError, GameError
from games.spec import BotSpec, spec_config
from games.spiel import Bot
from games.werewolf.belief import wolf_probabilities
from games.werewolf.bots import decide
from games.werewolf.game import (
    ASSIGNMENTS,
    DEAL,
    MAX_DAYS,
    NUM_PLAYERS,
    OVER,
    ROLE_NAMES,
    SEER,
    SPEECH,
    SPEECH_BASE,
    WOLF,
    View,
    WerewolfConfig,
    WerewolfState,
    config_of,
    load_werewolf,
)
from games.werewolf.knowledge import Knowledge, knowledge
from games.werewolf.speech import BASE_KINDS, TARGETED, TEMPLATES, Statement

LATENT_NAME = "werewolf_latent"
SEEDS = 8
"""Rule-policy seeds dealt with the roles (the chance node has 420 x SEEDS outcomes)."""


# -- the latent space -------------------------------------------------------------------


@dataclass(frozen=True)
class LatentStrategy:
    name: str
    kind: str
    """The base kind its statements mean (speech.py BASE_KINDS)."""
    template: str = ""
    """An English line for it ({target} filled for targeted kinds); "" = the kind's."""
    examples: tuple[str, ...] = ()
    """Statements of the cluster, nearest to its centroid first."""
    centroid: tuple[float, ...] = ()


@dataclass(frozen=True)
class LatentSpace:
    """Per role (game.py's role numbers), its latent strategies, in action order."""

    roles: tuple[tuple[LatentStrategy, ...], ...]

    def __post_init__(self) -> None:
        if len(self.roles) != len(ROLE_NAMES):
            raise GameError(f"a latent space needs strategies for {len(ROLE_NAMES)} roles")
        for role, strategies in enumerate(self.roles):
            if not strategies:
                raise GameError(f"latent space: no strategy for the {ROLE_NAMES[role]}")
            for s in strategies:
                if s.kind not in BASE_KINDS:
                    raise GameError(
                        f"latent strategy {s.name!r}: unknown kind {s.kind!r}; "
                        f"kinds: {', '.join(BASE_KINDS)}"
                    )

    @classmethod
    def base(cls) -> LatentSpace:
        """One strategy per base kind, for every role."""
        one = tuple(LatentStrategy(k, k, TEMPLATES[k]) for k in BASE_KINDS)
        return cls((one,) * len(ROLE_NAMES))

    @property
    def width(self) -> int:
        return max(len(s) for s in self.roles)

    def line(self, role: int, index: int, target: int | None) -> str:
        s = self.roles[role][index]
        return (s.template or TEMPLATES[s.kind]).format(target=target)

    def to_json(self) -> dict[str, Any]:
        return {
            ROLE_NAMES[r]: [asdict(s) for s in strategies]
            for r, strategies in enumerate(self.roles)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatentSpace:
        try:
            roles = tuple(
                tuple(
                    LatentStrategy(
                        str(d["name"]),
                        str(d["kind"]),
                        str(d.get("template", "")),
                        tuple(str(x) for x in d.get("examples", ())),
                        tuple(float(x) for x in d.get("centroid", ())),
                    )
                    for d in data[name]
                )
                for name in ROLE_NAMES
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GameError(f"bad latent space: {exc}") from None
        return cls(roles)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path) -> LatentSpace:
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except OSError as exc:
            raise GameError(f"cannot read latent space {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise GameError(f"latent space {path}: bad JSON ({exc.msg})") from None


# -- targets and the abstraction ----------------------------------------------------------


def _pick(cands: list[int], score: Callable[[int], float], rng: random.Random) -> int:
    top = max(score(c) for c in cands)
    return rng.choice([c for c in cands if score(c) >= top - 1e-9])


def target_for(kind: str, k: Knowledge, rng: random.Random) -> int | None:
    """The seat a statement of `kind` names, from what the speaker knows (None for the
    untargeted kinds)."""
    if kind not in TARGETED:
        return None
    view, me = k.view, k.me
    others = [p for p in k.living if p != me]
    if view.role == WOLF:
        team = set(view.wolves)
        public = wolf_probabilities(k, public=True)
        village = [p for p in others if p not in team] or others
        partner = [p for p in others if p in team]
        if kind in ("support", "claim_seer_clear") and partner:
            return partner[0]
        if kind == "claim_seer_wolf":
            seers = [c for c in k.seer_claims if c in village]
            if seers:
                return _pick(seers, lambda q: public[q], rng)
        if kind in ("support", "claim_seer_clear"):
            return _pick(village, lambda q: -public[q], rng)
        return _pick(village, lambda q: public[q], rng)
    p = wolf_probabilities(k)
    if view.role == SEER:
        found = [q for q, wolf in k.checks.items() if wolf and view.alive[q]]
        clear = [q for q, wolf in k.checks.items() if not wolf and view.alive[q] and q != me]
        if kind in ("accuse", "claim_seer_wolf") and found:
            return _pick(found, lambda q: k.pressure[q], rng)
        if kind in ("support", "claim_seer_clear") and clear:
            return _pick(clear, lambda q: k.pressure[q], rng)
    if kind in ("support", "claim_seer_clear"):
        return _pick(others, lambda q: -p[q], rng)
    return _pick(others, lambda q: p[q], rng)


def latent_key(view: View) -> str:
    """The abstraction of a speaker's view (see the module docstring)."""
    k = knowledge(view)
    me, alive = view.me, view.alive
    claims = [c for c in k.seer_claims if alive[c] and c != me]
    if view.role == SEER:
        private = int(any(w and alive[q] for q, w in k.checks.items()))
    elif view.role == WOLF:
        private = int(
            any(
                s.kind == "claim_seer_wolf" and s.target in view.wolves and alive[s.speaker]
                for s in k.speeches
                if s.speaker not in view.wolves
            )
        )
    else:
        private = 0
    spoke = sum(1 for s in k.speeches if s.day == view.day)
    return (
        f"{'WSDV'[view.role]} d{min(view.day, 3)} a{len(k.living)} "
        f"p{min(3, max(-1, k.pressure[me]))} s{min(len(claims), 2)} "
        f"m{int(me in k.seer_claims)} k{private} o{min(spoke, 3)}"
    )


# -- the game ---------------------------------------------------------------------------


_LATENT_TYPE = pyspiel.GameType(
    short_name=LATENT_NAME,
    long_name="Werewolf, LSPO's abstracted game (speech as latent strategies)",
    dynamics=pyspiel.GameType.Dynamics.SEQUENTIAL,
    chance_mode=pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC,
    information=pyspiel.GameType.Information.IMPERFECT_INFORMATION,
    utility=pyspiel.GameType.Utility.GENERAL_SUM,
    reward_model=pyspiel.GameType.RewardModel.TERMINAL,
    max_num_players=NUM_PLAYERS,
    min_num_players=NUM_PLAYERS,
    provides_information_state_string=True,
    provides_information_state_tensor=False,
    provides_observation_string=False,
    provides_observation_tensor=False,
    parameter_specification={"space": "", "max_days": MAX_DAYS, "seeds": SEEDS},
)


class LatentGame(pyspiel.Game):  # type: ignore[misc]  # pyspiel has no stubs
    """`werewolf_latent(space=FILE,max_days=N,seeds=S)`; space "" = `LatentSpace.base()`."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        params = dict(params or {})
        path = str(params.get("space", ""))
        self.space = LatentSpace.load(Path(path)) if path else LatentSpace.base()
        self.seeds = int(params.get("seeds", SEEDS))
        if self.seeds < 1:
            raise GameError(f"seeds={self.seeds}: want at least 1")
        n = len(ASSIGNMENTS) * self.seeds
        self.deals = [(a, 1.0 / n) for a in range(n)]
        self.config = WerewolfConfig(max_days=int(params.get("max_days", MAX_DAYS)))
        info = pyspiel.GameInfo(
            num_distinct_actions=self.space.width,
            max_chance_outcomes=len(ASSIGNMENTS) * self.seeds,
            num_players=NUM_PLAYERS,
            min_utility=-1.0,
            max_utility=1.0,
            utility_sum=None,
            max_game_length=NUM_PLAYERS * self.config.max_days,
        )
        super().__init__(_LATENT_TYPE, info, params)

    def new_initial_state(self) -> LatentState:
        return LatentState(self)

    def make_py_observer(
        self,
        iig_obs_type: pyspiel.IIGObservationType | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        return _KeyObserver()


class LatentState(WerewolfState):
    """A werewolf state whose only decisions are speeches (latent strategies)."""

    def __init__(self, game: LatentGame) -> None:
        super().__init__(game)
        self.space = game.space
        self.seeds = game.seeds
        self.deals = game.deals
        self.seed = 0

    def chance_outcomes(self) -> list[tuple[int, float]]:
        return self.deals

    def _legal_actions(self, player: int) -> list[int]:
        return list(range(len(self.space.roles[self.roles[player]])))

    def _rng(self) -> random.Random:
        return random.Random(self.seed * 1_000_003 + len(self.events))

    def _apply_action(self, action: int) -> None:
        if self.phase == DEAL:
            deal, self.seed = divmod(action, self.seeds)
            super()._apply_action(deal)
        else:
            speaker = self.queue[0]
            strategy = self.space.roles[self.roles[speaker]][action]
            k = knowledge(self.view(speaker))
            target = target_for(strategy.kind, k, self._rng())
            index = self.config.catalogue.index(Statement(strategy.kind, target))
            super()._apply_action(SPEECH_BASE + index)
        while self.phase not in (SPEECH, OVER):  # the rule policy's moves
            move, _ = decide(self.view(self.queue[0]), self._rng())
            super()._apply_action(move)

    def _action_to_string(self, player: int, action: int) -> str:
        if player == pyspiel.PlayerId.CHANCE:
            deal, seed = divmod(action, self.seeds)
            return f"{super()._action_to_string(player, deal)} seed {seed}"
        role = self.roles[player]
        return f"say {self.space.roles[role][action].name}"


class _KeyObserver:
    """The information-state string is `latent_key` (no tensor)."""

    def __init__(self) -> None:
        self.tensor = np.zeros(0, np.float32)
        self.dict: dict[str, np.ndarray] = {}

    def set_from(self, state: LatentState, player: int) -> None:
        pass

    def string_from(self, state: LatentState, player: int) -> str:
        if state.phase in (DEAL, OVER):
            return f"{player} {'deal' if state.phase == DEAL else 'over'}"
        return latent_key(state.view(player))


pyspiel.register_game(_LATENT_TYPE, LatentGame)


def load_latent(space: Path | None = None, **params: int) -> pyspiel.Game:
    return pyspiel.load_game(LATENT_NAME, {"space": str(space or ""), **params})


# -- solving ----------------------------------------------------------------------------


@dataclass
class LatentPolicy:
    """A solved latent policy: per information-state key, probabilities over its role's
    strategies; and the solver's state (cumulative regrets and average-policy sums per
    key) for a warm start."""

    space: LatentSpace
    table: dict[str, list[float]] = field(default_factory=dict)
    iterations: int = 0
    seconds: float = 0.0
    regrets: dict[str, list[float]] = field(default_factory=dict)
    sums: dict[str, list[float]] = field(default_factory=dict)
    total_iterations: int = 0
    """MCCFR iterations behind it, counting those of the policies it was warm-started from."""

    def probs(self, key: str, role: int) -> list[float] | None:
        p = self.table.get(key)
        if p is None or len(p) != len(self.space.roles[role]):
            return None
        return p

    def kind_probs(self, key: str, role: int) -> dict[str, float] | None:
        """The policy's probability of each base kind at `key`: the mass of its
        strategies of that kind. Strategies of one kind act alike in the latent game
        (the kind and `target_for` make the move), so this is what the policy prefers
        in game terms; None for a key it never visited."""
        probs = self.probs(key, role)
        if probs is None:
            return None
        out = dict.fromkeys(BASE_KINDS, 0.0)
        for strategy, p in zip(self.space.roles[role], probs, strict=True):
            out[strategy.kind] += p
        return out

    def save(self, path: Path) -> None:
        data = {
            "space": self.space.to_json(),
            "table": self.table,
            "iterations": self.iterations,
            "total_iterations": self.total_iterations,
            "seconds": round(self.seconds, 2),
            "regrets": self.regrets,
            "sums": self.sums,
        }
        path.write_text(json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> LatentPolicy:
        try:
            data = json.loads(Path(path).read_text())
            return cls(
                LatentSpace.from_json(data["space"]),
                {str(k): [float(x) for x in v] for k, v in data["table"].items()},
                int(data.get("iterations", 0)),
                float(data.get("seconds", 0.0)),
                {str(k): [float(x) for x in v] for k, v in data.get("regrets", {}).items()},
                {str(k): [float(x) for x in v] for k, v in data.get("sums", {}).items()},
                int(data.get("total_iterations", data.get("iterations", 0))),
            )
        except OSError as exc:
            raise GameError(f"cannot read latent policy {path}: {exc.strerror}") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise GameError(f"latent policy {path}: not a saved policy ({exc})") from None


def _carry(old: list[float], old_names: list[str], new_names: list[str]) -> np.ndarray:
    """A key's solver values moved to a new space: the base kinds (whose names and
    meanings persist) keep theirs, everything else starts at zero."""
    out = np.zeros(len(new_names))
    where = {n: i for i, n in enumerate(new_names) if n in BASE_KINDS}
    for value, name in zip(old, old_names, strict=True):
        if name in where:
            out[where[name]] = value
    return out


def solve(
    game: pyspiel.Game,
    iterations: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    warm: LatentPolicy | None = None,
) -> LatentPolicy:
    """OpenSpiel's outcome-sampling MCCFR on the latent game; the average policy, per
    key visited. `warm`: continue from that policy's regrets and average-policy sums
    (carried over for the base kinds, `_carry`), so successive LSPO iterations keep
    solving instead of starting over."""
    from open_spiel.python.algorithms import outcome_sampling_mccfr

    np.random.seed(seed)  # OpenSpiel's MCCFR samples with numpy's global generator
    solver = outcome_sampling_mccfr.OutcomeSamplingSolver(game)
    space: LatentSpace = game.space
    if warm is not None:
        for key, warm_regrets in warm.regrets.items():
            role = "WSDV".index(key[0])
            old = [st.name for st in warm.space.roles[role]]
            new = [st.name for st in space.roles[role]]
            state = [_carry(warm_regrets, old, new), _carry(warm.sums[key], old, new)]
            solver._infostates[key] = state  # OpenSpiel's own table: [regrets, avg sums]
    start = time.perf_counter()
    step = max(1, iterations // 100)
    for i in range(iterations):
        solver.iteration()
        if progress is not None and ((i + 1) % step == 0 or i + 1 == iterations):
            progress(i + 1, iterations)
    seconds = time.perf_counter() - start
    table: dict[str, list[float]] = {}
    regrets: dict[str, list[float]] = {}
    sums: dict[str, list[float]] = {}
    for key, (regret, avg) in solver._infostates.items():
        avg = np.asarray(avg, dtype=np.float64)
        total = avg.sum()
        probs = avg / total if total > 0 else np.full(len(avg), 1.0 / len(avg))
        table[str(key)] = [round(float(x), 5) for x in probs]
        regrets[str(key)] = [float(x) for x in regret]
        sums[str(key)] = [float(x) for x in avg]
    before = warm.total_iterations if warm is not None else 0
    return LatentPolicy(space, table, iterations, seconds, regrets, sums, before + iterations)


# -- the bot ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CFRWerewolfConfig:
    """`cfr:policy=FILE,select=argmax|sample` (werewolf): a solved latent policy's file;
    `argmax` plays each key's most probable strategy (the purified policy), `sample`
    draws from the average policy."""

    policy: Path
    select: Literal["argmax", "sample"] = "argmax"


class LatentPolicyBot(Bot):
    """Plays a latent policy in the full werewolf game: at its speech turns it picks
    (`select`: the most probable, or a draw) a latent strategy for its key (the rule policy's statement where the key was never
    visited in solving) and says that strategy's kind at `target_for`'s target; every
    other move is the rule policy's, as in the latent game. `thinking` names the
    strategy; `line` is the English it speaks (the strategy's template)."""

    def __init__(
        self, game: pyspiel.Game, policy: LatentPolicy, seed: int = 0, select: str = "argmax"
    ) -> None:
        super().__init__()
        self.config = config_of(game)
        self.policy = policy
        self.select = select
        self._rng = random.Random(seed)
        self.thinking = ""
        self.line = ""
        self.unseen = 0
        """Speech turns whose key the policy never visited."""
        self.played = 0
        """Speech turns played from the policy."""

    def step(self, state: pyspiel.State) -> int:
        view = state.view(state.current_player())
        if view.phase != SPEECH:
            action, self.thinking = decide(view, self._rng)
            return int(action)
        probs = self.policy.probs(latent_key(view), view.role)
        if probs is None:
            self.unseen += 1
            action, self.thinking = decide(view, self._rng)
            return int(action)
        self.played += 1
        if self.select == "argmax":
            top = max(probs)
            index = self._rng.choice([i for i, p in enumerate(probs) if p >= top - 1e-9])
        else:
            index = self._rng.choices(range(len(probs)), weights=probs)[0]
        strategy = self.policy.space.roles[view.role][index]
        target = target_for(strategy.kind, knowledge(view), self._rng)
        self.thinking = f"latent strategy {strategy.name} (p {probs[index]:.2f})"
        self.line = self.policy.space.line(view.role, index, target)
        return SPEECH_BASE + self.config.catalogue.index(Statement(strategy.kind, target))

    def restart_at(self, state: pyspiel.State) -> None:
        pass

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass


@functools.lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int, size: int) -> LatentPolicy:
    return LatentPolicy.load(Path(path))


def load_policy(path: Path) -> LatentPolicy:
    """`LatentPolicy.load`, cached by the file's path, mtime and size (bots only read
    their policy; a table's seven bots and a benchmark's thousands of games share one):
    a BotSpecError when it cannot be read."""
    try:
        st = Path(path).stat()
        return _load_cached(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    except OSError as exc:
        raise BotSpecError(f"cannot read latent policy {path}: {exc.strerror}") from None
    except GameError as exc:
        raise BotSpecError(str(exc)) from None


def make_cfr_bot(game: pyspiel.Game, spec: BotSpec, seed: int) -> pyspiel.Bot:
    """`cfr:policy=FILE` on werewolf."""
    cfg = spec_config(spec, CFRWerewolfConfig)
    return LatentPolicyBot(game, load_policy(cfg.policy), seed, cfg.select)


def versus_rule(policy_file: Path, games: int, seed: int) -> dict[str, Any]:
    """The latent policy on one side, the rule bot on the other, `games` deals each way
    (the same deals every call); win rates and their mean (overall)."""
    from games.werewolf.bots import RuleBot

    game = load_werewolf()
    policy = LatentPolicy.load(policy_file)
    out: dict[str, Any] = {"games": games}
    for side in ("werewolves", "village"):
        wins = 0
        for g in range(games):
            rng = random.Random(seed * 1_000_003 + g)
            state = game.new_initial_state()
            state.apply_action(rng.randrange(len(state.chance_outcomes())))
            bots = [
                LatentPolicyBot(game, policy, seed * 1000 + g * 7 + p)
                if (state.roles[p] == WOLF) == (side == "werewolves")
                else RuleBot(game, seed * 1000 + g * 7 + p)
                for p in range(7)
            ]
            while not state.is_terminal():
                state.apply_action(bots[state.current_player()].step(state))
            wins += (state.winner == 0) == (side == "werewolves")
        out[side] = wins / games
    out["overall"] = (out["werewolves"] + out["village"]) / 2
    return out
