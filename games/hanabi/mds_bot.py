"""Mirror-descent search over the rule blueprint in Hanabi, as a `pyspiel.Bot`
(Sokota et al., ICLR 2024; ALGORITHMS.md section 2).

A world is the acting player's hand drawn from the exact belief (belief.py), conditioned
on what the blueprint's conventions revealed, plus a shuffled order of the rest of the
unseen cards; every action is rolled out in the same
worlds (paired estimates), all seats following the blueprint. Rollouts run on native
OpenSpiel state clones; the blueprint's illegal choices in rollouts are counted in
`illegal` and replaced by a legal action, never silently.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyspiel

from games.hanabi.belief import HandBelief, with_hand
from games.hanabi.game import HanabiConfig, Tracker
from games.hanabi.rules import PLAY, RuleBot, apply, decide
from search.mirror_descent import MDSConfig, MDSResult, mirror_descent_search

MAX_TRIES = 200


@dataclass(frozen=True)
class World:
    state: pyspiel.State
    tracker: Tracker
    deck: tuple[int, ...]
    """The order in which the remaining cards will be drawn."""


class MDSBot(pyspiel.Bot):
    """MDS/MMDS (config.alpha > 0) on top of the rule blueprint."""

    def __init__(self, game: pyspiel.Game, config: MDSConfig, seed: int = 0) -> None:
        pyspiel.Bot.__init__(self)
        self._cfg = HanabiConfig.of(game)
        self._config = config
        self._rng = random.Random(seed)
        self._blueprint = RuleBot(game, seed)
        self.illegal = 0
        self.belief_fallbacks = 0
        self.rollouts = 0
        self.deviations = 0
        self.decisions = 0
        self.last: MDSResult[int] | None = None
        self.thinking = ""

    def step(self, state: pyspiel.State) -> int:
        player = state.current_player()
        legal = state.legal_actions()
        tracker = self._blueprint.tracker(state)
        bp = decide(tracker, player)
        if bp not in legal:
            self.illegal += 1
            bp = self._rng.choice(legal)
        if len(legal) == 1:
            return int(legal[0])
        belief = HandBelief(tracker, player)

        def sample_world(rng: random.Random) -> World:
            hand = self._sample_hand(belief, tracker, player, rng)
            world_state = with_hand(state, player, hand, self._cfg)
            world_tracker = tracker.copy()
            world_tracker.hands[player] = list(hand)
            rest = list(belief.unseen)
            for card in hand:
                rest[card] -= 1
            deck = [c for c, k in enumerate(rest) for _ in range(k)]
            rng.shuffle(deck)
            return World(world_state, world_tracker, tuple(deck))

        result = mirror_descent_search(
            self._config,
            {a: 1.0 if a == bp else 0.0 for a in legal},
            sample_world,
            lambda world, action, rng: self._rollout(world, action),
            self._rng,
        )
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

    def _sample_hand(
        self, belief: HandBelief, tracker: Tracker, player: int, rng: random.Random
    ) -> tuple[int, ...]:
        """A hand from the card-counting belief, conditioned (by rejection) on what the
        conventions told this player: a play-flagged card was playable when hinted, so it
        is playable now or already played. After MAX_TRIES misses the plain belief is
        used and counted in `belief_fallbacks`."""
        nr = tracker.nr
        flagged = [i for i, f in enumerate(tracker.flags[player]) if f == PLAY]
        for _ in range(MAX_TRIES):
            hand = belief.sample(rng)
            if all(hand[i] % nr <= tracker.fireworks[hand[i] // nr] for i in flagged):
                return hand
        self.belief_fallbacks += 1
        return belief.sample(rng)

    def _rollout(self, world: World, action: int) -> float:
        state = world.state.clone()
        tracker = world.tracker.copy()
        deck = world.deck
        drawn = 0
        state.apply_action(action)
        apply(tracker, action)
        while not state.is_terminal():
            if state.is_chance_node():
                a = deck[drawn]
                drawn += 1
            else:
                a = decide(tracker, state.current_player())
                legal = state.legal_actions()
                if a not in legal:
                    self.illegal += 1
                    a = legal[0]
            state.apply_action(a)
            apply(tracker, a)
        return float(state.returns()[0])

    def restart_at(self, state: pyspiel.State) -> None:
        self._blueprint.restart_at(state)

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass
