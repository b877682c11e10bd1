"""Hanabi over OpenSpiel's `hanabi`: loading with checked parameters, and a `Tracker`
that replays a state's history into what every player knows (hands, hint knowledge,
fireworks, discards, unseen-card counts).

Cards are OpenSpiel's chance outcomes: card = color * ranks + rank (both 0-based).
The tracker follows the Hanabi Learning Environment's rules exactly (a played or
discarded card leaves the hand and the newcomer goes to the end; the first player with a
short hand is dealt to), so `Tracker.view(p)` equals what `observation_string(p)` shows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import pyspiel

from games.errors import GameError

COLORS = "RYGWB"
_PLAUSIBLE: dict[tuple[int, int, int, int], tuple[int, ...]] = {}


Flagger = Callable[["Tracker", int, list[int]], None]
"""`flagger(tracker, target, touched)`: marks convention flags when a hint is given."""


class HanabiConfigError(GameError, ValueError):
    """Invalid player count or variant parameter; the message names the valid range."""


@dataclass(frozen=True)
class HanabiConfig:
    """A Hanabi variant: the full game by default."""

    players: int = 2
    colors: int = 5
    ranks: int = 5
    hand_size: int | None = None
    """None: 5 cards for 2-3 players, 4 for 4-5 (the standard rule)."""
    max_information_tokens: int = 8
    max_life_tokens: int = 3

    def __post_init__(self) -> None:
        checks = [
            ("players", self.players, 2, 5),
            ("colors", self.colors, 1, 5),
            ("ranks", self.ranks, 1, 5),
            ("max_information_tokens", self.max_information_tokens, 1, 99),
            ("max_life_tokens", self.max_life_tokens, 1, 99),
        ]
        if self.hand_size is not None:
            checks.append(("hand_size", self.hand_size, 1, 5))
        for name, value, lo, hi in checks:
            if not isinstance(value, int) or not lo <= value <= hi:
                raise HanabiConfigError(f"hanabi {name}={value!r}: must be an integer {lo}-{hi}")
        if self.players * self.hands > self.deck_size:
            raise HanabiConfigError(
                f"hanabi: {self.players} hands of {self.hands} need more than the "
                f"{self.deck_size} cards of {self.colors} colors x {self.ranks} ranks"
            )

    @property
    def hands(self) -> int:
        if self.hand_size is not None:
            return self.hand_size
        return 5 if self.players <= 3 else 4

    @property
    def deck_size(self) -> int:
        return self.colors * sum(copies(r, self.ranks) for r in range(self.ranks))

    @property
    def max_score(self) -> int:
        return self.colors * self.ranks

    def params(self) -> dict[str, int]:
        return {
            "players": self.players,
            "colors": self.colors,
            "ranks": self.ranks,
            "hand_size": self.hands,
            "max_information_tokens": self.max_information_tokens,
            "max_life_tokens": self.max_life_tokens,
        }

    def load(self) -> pyspiel.Game:
        return pyspiel.load_game("hanabi", self.params())

    @classmethod
    def of(cls, game: pyspiel.Game) -> HanabiConfig:
        """The variant of a loaded OpenSpiel hanabi game."""
        if game.get_type().short_name != "hanabi":
            raise HanabiConfigError(f"not a hanabi game: {game.get_type().short_name}")
        p = game.get_parameters()
        if p.get("random_start_player"):
            raise HanabiConfigError(
                "hanabi random_start_player=true is not supported: seat 0 starts"
            )
        players = int(p.get("players", 2))
        hand = p.get("hand_size")
        return cls(
            players=players,
            colors=int(p.get("colors", 5)),
            ranks=int(p.get("ranks", 5)),
            hand_size=None if hand is None else int(hand),
            max_information_tokens=int(p.get("max_information_tokens", 8)),
            max_life_tokens=int(p.get("max_life_tokens", 3)),
        )


def copies(rank: int, ranks: int) -> int:
    """Copies of each card of `rank` (0-based): three 1s, one top card, two of the rest."""
    if rank == 0:
        return 3
    return 1 if rank == ranks - 1 else 2


def deck_order(seed: int, cfg: HanabiConfig) -> list[int]:
    """Deck `seed`: a uniformly shuffled deck; dealing it in order is OpenSpiel's chance
    model, so every bot that plays seed s sees the same cards (paired comparisons)."""
    import random

    counts = [copies(c % cfg.ranks, cfg.ranks) for c in range(cfg.colors * cfg.ranks)]
    deck = [card for card, k in enumerate(counts) for _ in range(k)]
    random.Random(seed).shuffle(deck)
    return deck


@functools.cache
def _full_deck(colors: int, ranks: int) -> tuple[int, ...]:
    return tuple(copies(c % ranks, ranks) for c in range(colors * ranks))


def load_hanabi(players: int = 2, **variant: int) -> pyspiel.Game:
    """The OpenSpiel hanabi game for a checked variant (see HanabiConfig)."""
    return HanabiConfig(players=players, **variant).load()


def card_name(card: int, ranks: int) -> str:
    return f"{COLORS[card // ranks]}{card % ranks + 1}"


@dataclass(frozen=True)
class Knowledge:
    """What a card's holder knows of it from hints: plausible colors and ranks (bit
    masks), and whether any hint touched it."""

    colors: int
    ranks: int
    clued: bool


@dataclass(frozen=True)
class PlayerView:
    """One player's information: its own cards are hidden (None)."""

    player: int
    lives: int
    info_tokens: int
    fireworks: tuple[int, ...]
    """Cards played per color (= the next playable rank, 0-based)."""
    hands: tuple[tuple[int | None, ...], ...]
    """By seat; the viewer's own entry holds None for every card."""
    knowledge: tuple[tuple[Knowledge, ...], ...]
    """By seat: what each holder knows of its own cards (hints are public)."""
    discards: tuple[int, ...]
    deck_size: int
    unseen: tuple[int, ...]
    """Per card: copies the viewer cannot see (in its own hand or in the deck)."""


class Tracker:
    """Everything that happened in one hanabi game, updated action by action.

    Holds the true cards (god view); `view(p)` and the rule bot read only what p may
    know. Flat lists so a rollout can copy it cheaply."""

    __slots__ = (
        "cfg",
        "clued",
        "cmask",
        "deck",
        "discards",
        "fireworks",
        "flags",
        "hands",
        "info",
        "lives",
        "nc",
        "notes",
        "nr",
        "rmask",
        "turn",
    )

    def __init__(self, cfg: HanabiConfig) -> None:
        self.cfg = cfg
        self.nc, self.nr = cfg.colors, cfg.ranks
        n = cfg.players
        self.hands: list[list[int]] = [[] for _ in range(n)]
        self.cmask: list[list[int]] = [[] for _ in range(n)]
        self.rmask: list[list[int]] = [[] for _ in range(n)]
        self.clued: list[list[bool]] = [[] for _ in range(n)]
        self.flags: list[list[int]] = [[] for _ in range(n)]
        """Convention marks of the rule bot (0 none, 1 play, 2 save); public."""
        self.notes: list[list[int]] = [[] for _ in range(n)]
        """Per card: bit mask (bit = card) of identities the rule bot's conventions ruled
        out; public."""
        self.fireworks = [0] * self.nc
        self.discards: list[int] = []
        self.info = cfg.max_information_tokens
        self.lives = cfg.max_life_tokens
        self.deck = cfg.deck_size
        self.turn = 0

    @classmethod
    def from_state(cls, state: pyspiel.State, cfg: HanabiConfig | None = None) -> Tracker:
        cfg = cfg or HanabiConfig.of(state.get_game())
        t = cls(cfg)
        for action in state.history():
            t.apply(action)
        return t

    def copy(self) -> Tracker:
        t = Tracker.__new__(Tracker)
        t.cfg, t.nc, t.nr = self.cfg, self.nc, self.nr
        t.hands = [h[:] for h in self.hands]
        t.cmask = [h[:] for h in self.cmask]
        t.rmask = [h[:] for h in self.rmask]
        t.clued = [h[:] for h in self.clued]
        t.flags = [h[:] for h in self.flags]
        t.notes = [h[:] for h in self.notes]
        t.fireworks = self.fireworks[:]
        t.discards = self.discards[:]
        t.info, t.lives, t.deck, t.turn = self.info, self.lives, self.deck, self.turn
        return t

    # -- rules ---------------------------------------------------------------------

    def to_deal(self) -> int:
        """The seat the next chance card goes to (the first with a short hand)."""
        size = self.cfg.hands
        for p, hand in enumerate(self.hands):
            if len(hand) < size:
                return p
        return -1

    def deal(self, card: int) -> None:
        p = self.to_deal()
        self.hands[p].append(card)
        self.cmask[p].append((1 << self.nc) - 1)
        self.rmask[p].append((1 << self.nr) - 1)
        self.clued[p].append(False)
        self.flags[p].append(0)
        self.notes[p].append(0)
        self.deck -= 1

    def _remove(self, p: int, i: int) -> int:
        card = self.hands[p].pop(i)
        for lst in (self.cmask[p], self.rmask[p], self.clued[p], self.flags[p], self.notes[p]):
            lst.pop(i)
        return card

    def decode(self, action: int) -> tuple[str, int, int]:
        """("discard"|"play", slot, 0) or ("color"|"rank", seat offset, value)."""
        h = self.cfg.hands
        if action < h:
            return "discard", action, 0
        if action < 2 * h:
            return "play", action - h, 0
        a = action - 2 * h
        others = self.cfg.players - 1
        if a < others * self.nc:
            return "color", a // self.nc + 1, a % self.nc
        a -= others * self.nc
        return "rank", a // self.nr + 1, a % self.nr

    def hint_action(self, kind: str, offset: int, value: int) -> int:
        h, others = self.cfg.hands, self.cfg.players - 1
        if kind == "color":
            return 2 * h + (offset - 1) * self.nc + value
        return 2 * h + others * self.nc + (offset - 1) * self.nr + value

    def touched(self, target: int, kind: str, value: int) -> list[int]:
        nr = self.nr
        if kind == "color":
            return [i for i, c in enumerate(self.hands[target]) if c // nr == value]
        return [i for i, c in enumerate(self.hands[target]) if c % nr == value]

    def apply_move(self, player: int, action: int, flagger: Flagger | None = None) -> None:
        """A player's move; `flagger(tracker, target, touched)` may mark convention flags
        before the hint's knowledge is applied."""
        kind, x, value = self.decode(action)
        nr = self.nr
        if kind == "discard":
            self.discards.append(self._remove(player, x))
            self.info = min(self.info + 1, self.cfg.max_information_tokens)
        elif kind == "play":
            card = self._remove(player, x)
            color, rank = divmod(card, nr)
            if self.fireworks[color] == rank:
                self.fireworks[color] += 1
                if rank == nr - 1:
                    self.info = min(self.info + 1, self.cfg.max_information_tokens)
            else:
                self.lives -= 1
                self.discards.append(card)
        else:
            target = (player + x) % self.cfg.players
            touched = self.touched(target, kind, value)
            if flagger is not None:
                flagger(self, target, touched)
            masks = self.cmask[target] if kind == "color" else self.rmask[target]
            bit = 1 << value
            for i in range(len(masks)):
                if i in touched:
                    masks[i] = bit
                    self.clued[target][i] = True
                else:
                    masks[i] &= ~bit
            self.info -= 1

    def apply(self, action: int, flagger: Flagger | None = None) -> None:
        """Replay one history entry: a deal while a hand is short and the deck lasts,
        else the move of the seat whose turn it is (seat 0 starts, turns go round)."""
        if self.deck > 0 and self.to_deal() >= 0:
            self.deal(action)
            return
        self.apply_move(self.turn, action, flagger)
        self.turn = (self.turn + 1) % self.cfg.players

    # -- views -----------------------------------------------------------------------

    def unseen_by(self, player: int) -> list[int]:
        """Per card: copies `player` cannot see (own hand + deck)."""
        counts = self.public_unseen()
        for p, hand in enumerate(self.hands):
            if p != player:
                for c in hand:
                    counts[c] -= 1
        return counts

    def public_unseen(self) -> list[int]:
        """Per card: copies not yet played or discarded (in some hand or the deck)."""
        nr = self.nr
        counts = list(_full_deck(self.nc, nr))
        for color, n in enumerate(self.fireworks):
            for r in range(n):
                counts[color * nr + r] -= 1
        for c in self.discards:
            counts[c] -= 1
        return counts

    def view(self, player: int) -> PlayerView:
        n = self.cfg.players
        return PlayerView(
            player=player,
            lives=self.lives,
            info_tokens=self.info,
            fireworks=tuple(self.fireworks),
            hands=tuple(tuple(None if p == player else c for c in self.hands[p]) for p in range(n)),
            knowledge=tuple(
                tuple(
                    Knowledge(cm, rm, cl)
                    for cm, rm, cl in zip(self.cmask[p], self.rmask[p], self.clued[p], strict=False)
                )
                for p in range(n)
            ),
            discards=tuple(self.discards),
            deck_size=self.deck,
            unseen=tuple(self.unseen_by(player)),
        )

    def plausible_cards(self, player: int, slot: int) -> tuple[int, ...]:
        """The cards the holder's hint knowledge allows in that slot (cached per masks)."""
        key = (self.cmask[player][slot], self.rmask[player][slot], self.nc, self.nr)
        cards = _PLAUSIBLE.get(key)
        if cards is None:
            cm, rm, nc, nr = key
            cards = tuple(c for c in range(nc * nr) if cm >> (c // nr) & 1 and rm >> (c % nr) & 1)
            _PLAUSIBLE[key] = cards
        return cards

    def plausible(self, player: int, slot: int, card: int) -> bool:
        color, rank = divmod(card, self.nr)
        return bool(self.cmask[player][slot] >> color & 1 and self.rmask[player][slot] >> rank & 1)
