"""Mirror-descent search over a Hanabi blueprint, as a `pyspiel.Bot`
(Sokota et al., ICLR 2024; docs/methods.md section 2).

A world is the acting player's hand drawn from the exact belief (belief.py), narrowed by
what the rule conventions publicly ruled out (`Tracker.notes`) and, by rejection, by the
previous player's last move (the rule blueprint in its seat, seeing the sampled hand,
must have made it; our hand has not changed since), plus a shuffled order of the rest of
the unseen cards; every action is rolled out in the same worlds (paired
estimates), all seats following the blueprint. The blueprint is the rule bot
(`hanabi_rules`) or a learned policy (learned.py); either is also the rollout policy.
SPARTA (`sparta:`) is the same bot with eta = infinity: the greedy action over the
same estimates, past a deviation threshold.

Rollouts are lean: one native OpenSpiel clone per rollout, integer actions, the tracker
advanced incrementally (one `rules.apply` per move, through a tracker that caches the
public card counts and hint touches between moves). A blueprint's illegal choice in a
rollout is counted (`illegal`, also when it happens in a worker process) and replaced by
the first legal action, never silently.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pyspiel

from games.hanabi.belief import HandBelief, with_hand
from games.hanabi.game import Flagger, HanabiConfig, Tracker
from games.hanabi.rules import PLAY, Public, RuleBot, apply, decide
from games.spiel import Bot
from search.errors import InvalidConfigError
from search.mirror_descent import MDSConfig, MDSResult, mirror_descent_search


@dataclass(frozen=True)
class MDSBotConfig(MDSConfig):
    """The options of an `mds:` spec: `MDSConfig` with the spec's defaults (eta 5, floor
    0.1; rollouts 200, or none when `seconds` is given, see `games.hanabi.bots`) plus the
    blueprint. Spec keys are the field names."""

    eta: float = 5.0
    floor: float = 0.1
    blueprint: Literal["hanabi_rules", "hanabi_learned"] = "hanabi_rules"
    """The prior and rollout policy."""
    model: str | None = None
    """Weights of hanabi_learned (default: `games.hanabi.learned.default_path()`)."""
    margin: float | None = None
    """A distilled hanabi_learned model's deviation margin (default: the one saved)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.model is not None or self.margin is not None) and (
            self.blueprint != "hanabi_learned"
        ):
            raise InvalidConfigError("model=FILE and margin=M go with blueprint=hanabi_learned")


@dataclass(frozen=True)
class SpartaBotConfig:
    """The options of a `sparta:` spec: SPARTA's single-agent search (Lerer et al., 2020)
    on the same worlds, rollouts and blueprint as `mds:`. Every legal action is rolled out
    in every sampled world (no screening unless `keep` is given) and the greedy action is
    played when its paired gain over the blueprint's exceeds `threshold` (the paper's
    delta, 0.05), else the blueprint's: mirror descent with eta = infinity
    (`search.mirror_descent.policy_iteration`). Spec keys are the field names."""

    rollouts: int | None = 200
    seconds: float | None = None
    threshold: float = 0.05
    z: float = 0.0
    keep: int | None = None
    screen: int = 2
    workers: int = 1
    seed: int | None = None
    blueprint: Literal["hanabi_rules", "hanabi_learned"] = "hanabi_rules"
    model: str | None = None
    margin: float | None = None

    def mds(self) -> MDSBotConfig:
        """The same search as an MDS config (eta = infinity; the prior drops out)."""
        return MDSBotConfig(
            eta=math.inf, floor=0.0, rollouts=self.rollouts, seconds=self.seconds,
            threshold=self.threshold, z=self.z, keep=self.keep, screen=self.screen,
            workers=self.workers, seed=self.seed, blueprint=self.blueprint, model=self.model,
            margin=self.margin,
        )  # fmt: skip


MAX_TRIES = 200
"""Draws per hand when rejecting on the play flags."""

Policy = Callable[[Tracker, pyspiel.State, int], int]
"""A blueprint: (tracker advanced by the rule conventions, state, player) -> action."""


def rule_policy(tracker: Tracker, state: pyspiel.State, player: int) -> int:
    return decide(tracker, player)


class RolloutTracker(Tracker):
    """A `Tracker` that caches `public_unseen` (until a card is played or discarded),
    `touched` (until a hand changes) and the rule bot's `Public` view (until any move or
    deal; `rules.apply` and `rules.decide` both need it, at every move of a rollout)."""

    __slots__ = ("_pub", "_public", "_touched")

    def __init__(self, cfg: HanabiConfig) -> None:
        super().__init__(cfg)
        self._public: list[int] | None = None
        self._pub: Public | None = None
        self._touched: dict[tuple[int, str, int], list[int]] = {}

    @classmethod
    def of(cls, tracker: Tracker) -> RolloutTracker:
        base = Tracker.copy(tracker)
        new = cls.__new__(cls)
        for name in Tracker.__slots__:
            setattr(new, name, getattr(base, name))
        new._public = None
        new._pub = None
        new._touched = {}
        return new

    def copy(self) -> RolloutTracker:
        """A copy that shares the `Public` view (it reads no hand, so the copy may have
        a hand swapped and still use it)."""
        new = RolloutTracker.of(self)
        new._pub = self._pub
        return new

    def cached_public(self) -> Public:
        pub = self._pub
        if pub is None:
            pub = self._pub = Public(self)
        return pub

    def deal(self, card: int) -> None:
        self._touched = {}
        self._pub = None
        Tracker.deal(self, card)

    def apply_move(self, player: int, action: int, flagger: Flagger | None = None) -> None:
        if action < 2 * self.cfg.hands:  # a play or a discard
            self._touched = {}
            self._public = None
        self._pub = None
        Tracker.apply_move(self, player, action, flagger)

    def public_unseen(self) -> list[int]:
        counts: list[int] | None = self._public
        if counts is None:
            counts = self._public = Tracker.public_unseen(self)
        return counts[:]

    def touched(self, target: int, kind: str, value: int) -> list[int]:
        key = (target, kind, value)
        cache: dict[tuple[int, str, int], list[int]] = self._touched
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = Tracker.touched(self, target, kind, value)
        return hit[:]


@dataclass(frozen=True)
class World:
    state: pyspiel.State
    tracker: Tracker
    deck: tuple[int, ...]
    """The order in which the remaining cards will be drawn."""


def rollout(world: World, action: int, policy: Policy, on_illegal: Callable[[], None]) -> float:
    """Play `action` in a clone of the world, then `policy` for every seat to the end."""
    state = world.state.clone()
    tracker = world.tracker.copy()
    cards = iter(world.deck)
    state.apply_action(action)
    apply(tracker, action)
    while not state.is_terminal():
        if state.is_chance_node():
            a = next(cards)
        else:
            a = policy(tracker, state, state.current_player())
            legal = state.legal_actions()
            if a not in legal:
                on_illegal()
                a = legal[0]
        state.apply_action(a)
        apply(tracker, a)
    return float(state.returns()[0])


class MDSBot(Bot):
    """MDS/MMDS (config.alpha > 0) on top of a blueprint policy (the rule bot unless
    `policy` is given, e.g. a learned one), over `config.workers` processes."""

    def __init__(
        self,
        game: pyspiel.Game,
        config: MDSConfig,
        seed: int = 0,
        policy: Policy | None = None,
        policy_tries: int = 20,
    ) -> None:
        super().__init__()
        self._cfg = HanabiConfig.of(game)
        self._config = config
        self._rng = random.Random(seed)
        self._blueprint = RuleBot(game, seed)
        self._policy: Policy = policy or rule_policy
        self._pending = {"illegal": 0, "belief_fallbacks": 0}
        self.policy_tries = policy_tries
        self.illegal = 0
        self.belief_fallbacks = 0
        self.rollouts = 0
        self.deviations = 0
        self.decisions = 0
        self.last: MDSResult[int] | None = None
        self.thinking = ""

    def _count_illegal(self) -> None:
        self._pending["illegal"] += 1

    def _drain(self) -> dict[str, int]:
        """What rollouts and world samples counted (in this process or a worker)."""
        out, self._pending = self._pending, {"illegal": 0, "belief_fallbacks": 0}
        return out

    def step(self, state: pyspiel.State) -> int:
        player = state.current_player()
        legal = state.legal_actions()
        tracker = self._blueprint.tracker(state)
        bp = self._policy(tracker, state, player)
        if bp not in legal:
            self.illegal += 1
            bp = self._rng.choice(legal)
        if len(legal) == 1:
            return int(legal[0])
        root = RolloutTracker.of(tracker)
        root.cached_public()  # computed once, shared by every world's copy
        sample_hand = self._hand_sampler(tracker, player, self._last_move(state))

        def sample_world(rng: random.Random) -> World:
            hand, unseen = sample_hand(rng)
            world_state = with_hand(state, player, hand, self._cfg)
            world_tracker = root.copy()
            world_tracker.hands[player] = list(hand)
            rest = list(unseen)
            for card in hand:
                rest[card] -= 1
            deck = [c for c, k in enumerate(rest) for _ in range(k)]
            rng.shuffle(deck)
            return World(world_state, world_tracker, tuple(deck))

        policy = self._policy
        count = self._count_illegal

        def run(world: World, action: int, rng: random.Random) -> float:
            return rollout(world, action, policy, count)

        result = mirror_descent_search(
            self._config,
            {a: 1.0 if a == bp else 0.0 for a in legal},
            sample_world,
            run,
            self._rng,
            counters=self._drain,
        )
        self.illegal += result.counters.get("illegal", 0)
        self.belief_fallbacks += result.counters.get("belief_fallbacks", 0)
        self.last = result
        self.decisions += 1
        self.rollouts += result.rollouts
        self.deviations += result.deviated
        q = result.q
        self.thinking = (
            f"{state.action_to_string(player, result.action)}: q={q[result.action]:.2f} "
            f"vs blueprint {state.action_to_string(player, bp)} q={q[bp]:.2f} "
            f"({result.rollouts} rollouts, {result.worlds} worlds)"
        )
        return int(result.action)

    def _last_move(self, state: pyspiel.State) -> tuple[Tracker, int, int] | None:
        """The previous player's last move (tracker before it, seat, action): our hand
        has not changed since, so a sampled hand can be checked against it. Only for a
        rule-based blueprint (the rule bot, or a distilled policy, which moves as the rule
        bot does but for rare deviations: a deviation fails every check and the draw falls
        back, counted in `belief_fallbacks`)."""
        history = state.history()
        t = Tracker(self._cfg)
        moves: list[tuple[int, int]] = []  # (history index, seat) of every move
        for idx, action in enumerate(history):
            if not (t.deck > 0 and t.to_deal() >= 0):
                moves.append((idx, t.turn))
            t.apply(action)
        if not moves or not (
            self._policy is rule_policy or getattr(self._policy, "rule_based", False)
        ):
            return None
        idx, seat = moves[-1]
        before = RolloutTracker(self._cfg)
        for action in history[:idx]:
            apply(before, action)
        before.cached_public()  # shared by the copies that test sampled hands
        return before, seat, history[idx]

    def _hand_sampler(
        self, tracker: Tracker, player: int, last: tuple[Tracker, int, int] | None
    ) -> Callable[[random.Random], tuple[tuple[int, ...], list[int]]]:
        """Hands from the card-counting belief narrowed by the conventions' notes and, by
        rejection (up to `policy_tries` draws), by the previous player's last move: the
        blueprint in its seat, seeing the sampled hand, would have made it. When no hand
        agrees with the notes (a partner broke a convention) the plain belief is used, and
        when rejection fails the last draw; both counted in `belief_fallbacks`."""
        notes = getattr(tracker, "notes", None)
        belief = HandBelief(tracker, player, notes[player] if notes else None)
        if notes:
            try:
                belief.sample(random.Random(0))
            except ValueError:
                self.belief_fallbacks += 1
                belief = HandBelief(tracker, player)
        if notes:
            draw = belief.sample
        else:  # a tracker without the conventions' notes: check the play flags instead

            def draw(rng: random.Random) -> tuple[int, ...]:
                return self._sample_hand(belief, tracker, player, rng)

        if last is None or self.policy_tries < 1:
            return lambda rng: (draw(rng), belief.unseen)
        before, seat, action = last

        def sample(rng: random.Random) -> tuple[tuple[int, ...], list[int]]:
            for _ in range(self.policy_tries):
                hand = draw(rng)
                t = before.copy()
                t.hands[player] = list(hand)
                if decide(t, seat) == action:
                    return hand, belief.unseen
            self._pending["belief_fallbacks"] += 1
            return hand, belief.unseen

        return sample

    def _sample_hand(
        self, belief: HandBelief, tracker: Tracker, player: int, rng: random.Random
    ) -> tuple[int, ...]:
        """A hand from `belief` in which every play-flagged card is playable now or
        already played (by rejection; after MAX_TRIES misses the plain belief, counted in
        `belief_fallbacks`)."""
        nr = tracker.nr
        flagged = [i for i, f in enumerate(tracker.flags[player]) if f == PLAY]
        for _ in range(MAX_TRIES):
            hand = belief.sample(rng)
            if all(hand[i] % nr <= tracker.fireworks[hand[i] // nr] for i in flagged):
                return hand
        self._pending["belief_fallbacks"] += 1
        return belief.sample(rng)

    def restart_at(self, state: pyspiel.State) -> None:
        self._blueprint.restart_at(state)

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass
