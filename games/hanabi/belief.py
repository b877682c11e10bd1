"""Exact belief over the acting player's own hand, and histories consistent with it.

The belief is the card-counting posterior: every assignment of the unseen physical
cards (own hand + deck) to the own slots that agrees with every hint (positive and
negative) is equally likely, so a hand of card types weighs the product of falling
factorials of the unseen counts. Sampling is exact rejection: propose each slot's
physical card uniformly from the still-available plausible copies, accept with
probability prod(available) / prod(plausible at start); enumeration is the fallback when
acceptance is poor. Other players' policies are not conditioned on (as in the paper), except through
`excluded`: per-slot identities public conventions ruled out (the rule bot's
`Tracker.notes`), which the caller may pass to narrow each slot further.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pyspiel

from games.hanabi.game import HanabiConfig, Tracker

MAX_REJECTIONS = 200


class HandBelief:
    """The counts-weighted posterior over `player`'s own hand, from its information."""

    def __init__(self, tracker: Tracker, player: int, excluded: list[int] | None = None) -> None:
        self.player = player
        self.unseen = tracker.unseen_by(player)
        slots = len(tracker.hands[player])
        ruled = excluded if excluded is not None else [0] * slots
        self.options: list[list[int]] = [
            [
                c
                for c in tracker.plausible_cards(player, i)
                if self.unseen[c] and not ruled[i] >> c & 1
            ]
            for i in range(slots)
        ]
        self.caps = [sum(self.unseen[c] for c in opts) for opts in self.options]
        self.rejections = 0
        self._table: tuple[list[tuple[int, ...]], list[float]] | None = None

    def sample(self, rng: random.Random) -> tuple[int, ...]:
        """One hand (a card per slot), drawn exactly from the posterior."""
        if self._table is None:
            if not all(self.options):
                raise ValueError(f"no hand of player {self.player} is consistent with its hints")
            for _ in range(MAX_REJECTIONS):
                hand = self._propose(rng)
                if hand is not None:
                    return hand
                self.rejections += 1
            dist = self.distribution()
            if not dist:
                raise ValueError(f"no hand of player {self.player} is consistent with its hints")
            self._table = (list(dist), list(dist.values()))
        hands, weights = self._table
        return rng.choices(hands, weights=weights)[0]

    def _propose(self, rng: random.Random) -> tuple[int, ...] | None:
        left = self.unseen[:]
        hand: list[int] = []
        accept = 1.0
        for opts, cap in zip(self.options, self.caps, strict=False):
            avail = sum(left[c] for c in opts)
            if avail == 0:
                return None
            accept *= avail / cap
            pick = rng.randrange(avail)
            for c in opts:
                pick -= left[c]
                if pick < 0:
                    break
            hand.append(c)
            left[c] -= 1
        return tuple(hand) if rng.random() < accept else None

    def _assignments(self) -> Iterator[tuple[tuple[int, ...], int]]:
        left = self.unseen[:]
        hand: list[int] = []

        def rec(i: int, weight: int) -> Iterator[tuple[tuple[int, ...], int]]:
            if i == len(self.options):
                yield tuple(hand), weight
                return
            for c in self.options[i]:
                if left[c]:
                    w = left[c]
                    left[c] -= 1
                    hand.append(c)
                    yield from rec(i + 1, weight * w)
                    hand.pop()
                    left[c] += 1

        yield from rec(0, 1)

    def distribution(self) -> dict[tuple[int, ...], float]:
        """The exact posterior by enumeration (small hands or narrow knowledge only)."""
        weights = dict(self._assignments())
        total = sum(weights.values())
        return {h: w / total for h, w in weights.items()}


def own_card_origins(history: list[int], cfg: HanabiConfig) -> list[list[int]]:
    """For each seat, the history positions of the deals of the cards now in its hand."""
    t = Tracker(cfg)
    origins: list[list[int]] = [[] for _ in range(cfg.players)]
    for idx, action in enumerate(history):
        if t.deck > 0 and t.to_deal() >= 0:
            origins[t.to_deal()].append(idx)
            t.deal(action)
            continue
        kind, slot, _ = t.decode(action)
        if kind in ("play", "discard"):
            origins[t.turn].pop(slot)
        t.apply_move(t.turn, action)
        t.turn = (t.turn + 1) % cfg.players
    return origins


def with_hand(
    state: pyspiel.State, player: int, hand: tuple[int, ...], cfg: HanabiConfig | None = None
) -> pyspiel.State:
    """The state reached by the same history with `player`'s current cards replaced by
    `hand`: everything `player` has observed is unchanged, the deck absorbs the rest."""
    cfg = cfg or HanabiConfig.of(state.get_game())
    history = state.history()
    for idx, card in zip(own_card_origins(history, cfg)[player], hand, strict=False):
        history[idx] = card
    new = state.get_game().new_initial_state()
    for action in history:
        new.apply_action(action)
    return new
