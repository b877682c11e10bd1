"""A rule-based Hanabi blueprint in the style of the published convention bots
(after the ideas of SmartBot, github.com/Quuxplusone/Hanabi: public card knowledge with
exact counting, play clues on the newest card, warnings on the discard slot, and inferences
from warnings that were not given; 2-player mean 23.4, see benchmarks/results/hanabi_2p.md).

Public knowledge. Every card's possible identities are its hint masks (positive and
negative), minus what the conventions ruled out (`Tracker.notes`), minus identities whose
copies are all played, discarded or publicly located in some hand (iterated to a fixed
point). All players compute this alike. The acting player then also removes what it sees
in the other hands ("eyesight") and weighs identities by the copies it cannot see.

The *discard slot* of a player is the card it would discard next by public knowledge: none
when it knows a playable or worthless card, else the card most likely worthless among
those not known valuable (oldest on ties).

Conventions (read by `apply`, public):
- Warning: a rank hint from the previous player that touches the receiver's discard slot,
  when that card could be a last copy with that rank, says the card is a last copy.
- No warning: any other move while the deck lasts and a hint token is left says the next
  player's discard slot is not a last copy (it would have been warned).
- Play clue: any other hint that does not by itself make some card known playable makes
  the newest touched card that may be playable (and still may not) known playable.
- Stall: with all tokens, a rank hint on the previous player's oldest card means nothing.

On its turn a player: in the last round plays a known playable card, else (with a spare
life) its likeliest card; warns or play-clues the next player when its discard slot is a
last copy; plays a known playable card (one only it knows first, then the lowest rank);
gives the most informative play clue (never on a duplicate of a card someone knows is
playable); near the end of the deck with spare lives bets on its likeliest card; with all
tokens gives a harmless hint; else discards a known worthless card, else its discard slot
when that is a last copy with probability <= STALL_RISK (the previous player's silence
usually rules it out, unless that player's move made new last copies), else its card least
likely a last copy, or, when even that one is risky and a token is left, a harmless hint.
Reads only what the acting player may know (never its own cards in the tracker).
"""

from __future__ import annotations

import functools
import random

import pyspiel

from games.hanabi.game import HanabiConfig, Tracker
from games.spiel import Bot

NONE, PLAY, SAVE = 0, 1, 2
"""`Tracker.flags`: PLAY marks a card a play clue made known playable (it is playable now
or already played), SAVE a card a warning marked as a last copy."""

MYSTERY_DECK = {3: 3, 2: 1}
"""Lives left -> deck size at or below which a player with nothing better bets on its
likeliest card (never on the last life: losing it scores 0)."""


@functools.cache
def _bits(nc: int, nr: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per color and per rank: the bit mask of its cards."""
    colors = tuple(sum(1 << (k * nr + r) for r in range(nr)) for k in range(nc))
    ranks = tuple(sum(1 << (k * nr + r) for k in range(nc)) for r in range(nr))
    return colors, ranks


@functools.cache
def _rect(cm: int, rm: int, nc: int, nr: int) -> int:
    """The cards a color mask and a rank mask allow."""
    colors, ranks = _bits(nc, nr)
    m = 0
    for k in range(nc):
        if cm >> k & 1:
            m |= colors[k]
    r_all = 0
    for r in range(nr):
        if rm >> r & 1:
            r_all |= ranks[r]
    return m & r_all


def _single(m: int) -> bool:
    return m & (m - 1) == 0


@functools.lru_cache(maxsize=1 << 16)
def _cards(m: int) -> tuple[int, ...]:
    out = []
    while m:
        low = m & -m
        out.append(low.bit_length() - 1)
        m ^= low
    return tuple(out)


@functools.lru_cache(maxsize=1 << 14)
def _classes(
    nc: int, nr: int, fireworks: tuple[int, ...], counts: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """Bit masks of the playable, dead, last-copy (not dead) and all-gone cards."""
    playable = dead = valuable = gone = 0
    for color in range(nc):
        blocked = False
        for rank in range(nr):
            c = color * nr + rank
            bit = 1 << c
            n = counts[c]
            if n == 0:
                gone |= bit
            if rank < fireworks[color] or blocked:
                dead |= bit
            else:
                if rank == fireworks[color]:
                    playable |= bit
                if n == 1:
                    valuable |= bit
                if n == 0:
                    blocked = True
    return playable, dead, valuable, gone


class Public:
    """What every player knows at one moment: fireworks-derived card classes and every
    card's possible identities."""

    __slots__ = ("_slots", "counts", "dead", "playable", "poss", "valuable")

    def __init__(self, t: Tracker) -> None:
        nc, nr = t.nc, t.nr
        counts = t.public_unseen()
        self.counts = counts
        playable, dead, valuable, gone = _classes(nc, nr, tuple(t.fireworks), tuple(counts))
        self.playable, self.dead, self.valuable = playable, dead, valuable
        located: dict[int, int] = {}
        poss: list[list[int]] = []
        keep = ~gone
        for q in range(t.cfg.players):
            row = []
            for cm, rm, note in zip(t.cmask[q], t.rmask[q], t.notes[q], strict=False):
                m = _rect(cm, rm, nc, nr)
                narrowed = m & ~note
                if narrowed:
                    m = narrowed
                narrowed = m & keep
                if narrowed:
                    m = narrowed
                row.append(m)
                if not m & (m - 1):
                    located[m] = located.get(m, 0) + 1
            poss.append(row)
        while located:
            full = 0
            for bit, k in located.items():
                if k >= counts[bit.bit_length() - 1]:
                    full |= bit
            if not full:
                break
            changed = False
            for row in poss:
                for i, m in enumerate(row):
                    if m & (m - 1) and m & full:
                        narrowed = m & ~full
                        if narrowed:
                            row[i] = narrowed
                            if not narrowed & (narrowed - 1):
                                located[narrowed] = located.get(narrowed, 0) + 1
                                changed = True
            if not changed:
                break
        self.poss = poss
        self._slots: dict[int, int] = {}

    def is_playable(self, m: int) -> bool:
        return not m & ~self.playable

    def maybe_playable(self, m: int) -> bool:
        return bool(m & self.playable) and bool(m & ~self.playable)

    def is_worthless(self, m: int) -> bool:
        return not m & ~self.dead

    def is_valuable(self, m: int) -> bool:
        return not m & ~self.valuable

    def p_worthless(self, m: int) -> float:
        counts, dead_mask = self.counts, self.dead
        total = dead = 0
        for c in _cards(m):
            w = counts[c] or 1
            total += w
            if dead_mask >> c & 1:
                dead += w
        return dead / total if total else 0.0

    def discard_slot(self, q: int) -> int:
        """The card seat q discards next by public knowledge, -1 when it would rather play
        or discard a known worthless card, or every card is a known last copy."""
        slot = self._slots.get(q)
        if slot is None:
            slot = self._slots[q] = self._discard_slot(q)
        return slot

    def _discard_slot(self, q: int) -> int:
        best, best_p = -1, -1.0
        for i, m in enumerate(self.poss[q]):
            if self.is_playable(m) or self.is_worthless(m):
                return -1
            if self.is_valuable(m):
                continue
            pw = self.p_worthless(m)
            if pw > best_p:
                best, best_p = i, pw
        return best


def public(t: Tracker) -> Public:
    """`Public(t)`, reused while `t` is unchanged when `t` caches it (a tracker with a
    `cached_public` method, as rollouts use; Public reads no hand, so a copy that only
    swaps a hand may share it)."""
    cached = getattr(t, "cached_public", None)
    return Public(t) if cached is None else cached()


# -- reading moves -----------------------------------------------------------------------


def _hinted(
    t: Tracker, pub: Public, to: int, kind: str, value: int, touched: list[int]
) -> list[int]:
    colors, ranks = _bits(t.nc, t.nr)
    bits = colors[value] if kind == "color" else ranks[value]
    new = []
    for i, m in enumerate(pub.poss[to]):
        narrowed = m & bits if i in touched else m & ~bits
        new.append(narrowed or m)
    return new


def read_hint(
    t: Tracker, pub: Public, frm: int, to: int, kind: str, value: int, touched: list[int]
) -> tuple[str, int, list[int]]:
    """The public reading of a hint before it is applied: ("warning", slot), ("stall", -1),
    ("play", slot) for the card it makes known playable, ("reveal", -1) when the hint
    itself makes a card known playable, or ("none", -1); with the hinted masks."""
    n = t.cfg.players
    new = _hinted(t, pub, to, kind, value, touched)
    if kind == "rank" and to == (frm + 1) % n:
        slot = pub.discard_slot(to)
        if slot in touched:
            m = pub.poss[to][slot]
            _, ranks = _bits(t.nc, t.nr)
            if m & ranks[value] & pub.valuable and not pub.is_valuable(m):
                return "warning", slot, new
    if (
        kind == "rank"
        and t.info == t.cfg.max_information_tokens
        and frm == (to + 1) % n
        and 0 in touched
    ):
        return "stall", -1, new
    inferred = -1
    for i in range(len(new) - 1, -1, -1):
        old = pub.poss[to][i]
        if not pub.maybe_playable(old):
            continue
        if pub.is_playable(new[i]):
            return "reveal", -1, new
        if i in touched and inferred < 0 and pub.maybe_playable(new[i]):
            inferred = i
    if inferred >= 0:
        return "play", inferred, new
    return "none", -1, new


def _restrict(t: Tracker, q: int, i: int, allowed: int) -> None:
    """Record that card (q, i) is one of `allowed` (ignored if that contradicts its hints)."""
    rect = _rect(t.cmask[q][i], t.rmask[q][i], t.nc, t.nr)
    note = t.notes[q][i] | ~allowed & ((1 << (t.nc * t.nr)) - 1)
    if rect & ~note:
        t.notes[q][i] = note


def apply(t: Tracker, action: int) -> None:
    """Advance the tracker by one history entry, reading moves by the conventions."""
    if t.deck > 0 and t.to_deal() >= 0:
        t.deal(action)
        return
    frm, n = t.turn, t.cfg.players
    nxt = (frm + 1) % n
    kind, x, value = t.decode(action)
    pub = public(t)
    to = (frm + x) % n if kind in ("color", "rank") else -1
    if to != nxt and t.deck > 0 and t.info > 0:
        slot = pub.discard_slot(nxt)
        if slot >= 0:
            _restrict(t, nxt, slot, ~pub.valuable)
    if to >= 0:
        touched = t.touched(to, kind, value)
        reading, slot, _ = read_hint(t, pub, frm, to, kind, value, touched)
        if reading == "warning":
            _restrict(t, to, slot, pub.valuable)
            t.flags[to][slot] = SAVE
        elif reading == "play":
            _restrict(t, to, slot, pub.playable)
            t.flags[to][slot] = PLAY
    t.apply_move(frm, action)
    t.turn = (t.turn + 1) % n


def tracker_for(state: pyspiel.State, cfg: HanabiConfig | None = None) -> Tracker:
    t = Tracker(cfg or HanabiConfig.of(state.get_game()))
    for action in state.history():
        apply(t, action)
    return t


# -- choosing moves ------------------------------------------------------------------------


class _Eyes:
    """The acting player's own cards: public masks narrowed by what it sees, with weights
    (copies it cannot see)."""

    __slots__ = ("masks", "weights")

    def __init__(self, t: Tracker, pub: Public, p: int) -> None:
        unseen = t.unseen_by(p)
        own = pub.poss[p]
        for m in own:
            if _single(m):
                unseen[m.bit_length() - 1] -= 1
        avail = 0
        for c, k in enumerate(unseen):
            if k > 0:
                avail |= 1 << c
        self.weights = unseen
        self.masks = [m if _single(m) else (m & avail) or m for m in own]

    def prob(self, i: int, target: int) -> float:
        total = hit = 0
        for c in _cards(self.masks[i]):
            w = max(self.weights[c], 0) or 0
            total += w
            if target >> c & 1:
                hit += w
        if total == 0:
            return 0.0
        return hit / total


def _rank_of(m: int, nr: int) -> int:
    """The rank all of m's cards share, else -1."""
    ranks = {c % nr for c in _cards(m)}
    return ranks.pop() if len(ranks) == 1 else -1


def _best_play(t: Tracker, pub: Public, eyes: _Eyes, p: int) -> int | None:
    """A card p knows is playable: one the others do not know it knows first, then the
    lowest rank."""
    best, best_fit = None, -1.0
    for i, m in enumerate(eyes.masks):
        if not pub.is_playable(m):
            continue
        rank = _rank_of(m, t.nr)
        fit = (t.nr - rank) if rank >= 0 else t.nr + 1
        if not pub.is_playable(pub.poss[p][i]):
            fit += 100
        if fit > best_fit:
            best, best_fit = i, fit
    return best


def _hint_options(t: Tracker, p: int, to: int) -> list[tuple[str, int, list[int]]]:
    hand = t.hands[to]
    nr = t.nr
    out = []
    for value in sorted({c // nr for c in hand}):
        out.append(("color", value, [i for i, c in enumerate(hand) if c // nr == value]))
    for value in sorted({c % nr for c in hand}):
        out.append(("rank", value, [i for i, c in enumerate(hand) if c % nr == value]))
    return out


def _best_hint_for(
    t: Tracker, pub: Public, p: int, to: int, known: set[int] | None = None
) -> tuple[float, int] | None:
    """The most informative play clue for seat `to`: it must make a card known playable
    or mark the newest maybe-playable touched card, which must really be playable."""
    hand = t.hands[to]
    best: tuple[float, int] | None = None
    offset = (to - p) % t.cfg.players
    known = set() if known is None else known
    for kind, value, touched in _hint_options(t, p, to):
        reading, slot, new = read_hint(t, pub, p, to, kind, value, touched)
        if reading == "play":
            card = hand[slot]
            if not pub.playable >> card & 1:
                continue
        elif reading != "reveal":
            continue
        if reading == "play":
            new = new[:]
            new[slot] &= pub.playable
        fit = 0.0
        for old, m in zip(pub.poss[to], new, strict=False):
            fit += old.bit_count() - m.bit_count()
        gained = set()
        for i, (old, m) in enumerate(zip(pub.poss[to], new, strict=False)):
            if pub.is_playable(m) and not pub.is_playable(old):
                gained.add(hand[i])
        if gained and gained <= known:
            continue  # only duplicates of cards someone already knows are playable
        if best is None or fit > best[0]:
            best = (fit, t.hint_action(kind, offset, value))
    return best


def _known_playable(t: Tracker, pub: Public, eyes: _Eyes, p: int) -> set[int]:
    """Playable cards some player already knows are playable (as p sees them)."""
    known: set[int] = set()
    for q, row in enumerate(pub.poss):
        if q == p:
            known.update(m.bit_length() - 1 for m in eyes.masks if _single(m) and m & pub.playable)
            continue
        for i, m in enumerate(row):
            if pub.is_playable(m):
                known.add(t.hands[q][i])
    return known


def _best_hint(t: Tracker, pub: Public, eyes: _Eyes, p: int, targets: list[int]) -> int | None:
    best: tuple[float, int] | None = None
    known = _known_playable(t, pub, eyes, p)
    for to in targets:
        h = _best_hint_for(t, pub, p, to, known)
        if h is not None and h[0] > 0 and (best is None or h[0] > best[0]):
            best = h
    return None if best is None else best[1]


def _mystery(t: Tracker, pub: Public, eyes: _Eyes) -> int | None:
    """The own card likeliest to be playable (newest on ties), if any may be."""
    best, best_p = None, 0.0
    for i in range(len(eyes.masks) - 1, -1, -1):
        pp = eyes.prob(i, pub.playable)
        if pp > best_p:
            best, best_p = i, pp
    return best


def _stall(t: Tracker, pub: Public, p: int, fallback: bool = True) -> int | None:
    """A hint that misleads no one (no warning, no play clue on an unplayable card), the
    most informative first; else a rank hint on the previous player's oldest card."""
    n = t.cfg.players
    best: tuple[float, int] | None = None
    for to in range(n):
        if to == p or not t.hands[to]:
            continue
        for kind, value, touched in _hint_options(t, p, to):
            reading, slot, new = read_hint(t, pub, p, to, kind, value, touched)
            if reading == "warning" or (
                reading == "play" and not pub.playable >> t.hands[to][slot] & 1
            ):
                continue
            fit = sum(
                o.bit_count() - m.bit_count() for o, m in zip(pub.poss[to], new, strict=False)
            )
            if best is None or fit > best[0]:
                best = (fit, t.hint_action(kind, (to - p) % n, value))
    if best is not None:
        return best[1]
    if not fallback:
        return None
    right = (p - 1) % n
    return t.hint_action("rank", (right - p) % n, t.hands[right][0] % t.nr)


def decide(t: Tracker, p: int) -> int:
    """The rule bot's action for seat p, from p's information only."""
    n, hs = t.cfg.players, t.cfg.hands
    pub = public(t)
    eyes = _Eyes(t, pub, p)
    nxt = (p + 1) % n
    others = [(p + k) % n for k in range(1, n)]

    if t.deck == 0:
        play = _best_play(t, pub, eyes, p)
        if play is not None:
            return hs + play
        if t.lives > 1:
            bet = _mystery(t, pub, eyes)
            if bet is not None:
                return hs + bet

    # Warn (or play-clue) the next player when its discard slot is a last copy.
    if t.info > 0 and t.deck > 0:
        slot = pub.discard_slot(nxt)
        if slot >= 0 and pub.valuable >> t.hands[nxt][slot] & 1:
            h = _best_hint_for(t, pub, p, nxt)
            if h is not None and h[0] > 0:
                return h[1]
            return t.hint_action("rank", 1, t.hands[nxt][slot] % t.nr)

    play = _best_play(t, pub, eyes, p)
    if play is not None:
        return hs + play

    if t.info > 0:
        hint = _best_hint(t, pub, eyes, p, others)
        if hint is not None:
            return hint

    if t.lives > 1 and t.deck <= MYSTERY_DECK.get(t.lives, -1):
        bet = _mystery(t, pub, eyes)
        if bet is not None:
            return hs + bet

    own = len(t.hands[p])
    if t.info >= t.cfg.max_information_tokens:
        hint = _stall(t, pub, p)
        assert hint is not None
        return hint

    best, best_fit = None, 0.0
    for i in range(own):
        if pub.is_worthless(eyes.masks[i]):
            fit = 2.0 - pub.p_worthless(pub.poss[p][i])
            if fit > best_fit:
                best, best_fit = i, fit
    if best is not None:
        return best
    return _discard(t, pub, eyes, p)


STALL_RISK = 0.1
"""A player stalls with a harmless hint rather than discard a card this likely (or more)
to be a last copy, when it has a token."""


def _discard(t: Tracker, pub: Public, eyes: _Eyes, p: int) -> int:
    """The discard slot when no warning could have been missed there; else the own card
    least likely a last copy (a stall hint instead when even that one is risky)."""
    own = len(t.hands[p])
    slot = pub.discard_slot(p)
    risk = [eyes.prob(i, pub.valuable) for i in range(own)]
    if slot >= 0 and risk[slot] <= STALL_RISK:
        return slot
    pool = [i for i in range(own) if not pub.is_valuable(pub.poss[p][i])]
    if pool:
        best = min(pool, key=lambda i: (risk[i], -pub.p_worthless(pub.poss[p][i]), i))
        if risk[best] <= STALL_RISK or t.info == 0:
            return best
        hint = _stall(t, pub, p, fallback=False)
        if hint is not None:
            return hint
        return best
    return max(range(own), key=lambda i: (_rank_of(pub.poss[p][i], t.nr), -i))


class RuleBot(Bot):
    """The rule-based blueprint as a `pyspiel.Bot`; an illegal choice (a bug, never
    expected) is counted in `illegal` and replaced by a seeded random legal action."""

    def __init__(self, game: pyspiel.Game, seed: int = 0) -> None:
        super().__init__()
        self._cfg = HanabiConfig.of(game)
        self._rng = random.Random(seed)
        self._history: list[int] = []
        self._tracker = Tracker(self._cfg)
        self.illegal = 0
        self.thinking = ""

    def tracker(self, state: pyspiel.State) -> Tracker:
        """The tracker at `state`, advanced incrementally when the game moved on."""
        history = state.history()
        k = len(self._history)
        if len(history) < k or history[:k] != self._history:
            self._tracker, self._history, k = Tracker(self._cfg), [], 0
        for action in history[k:]:
            apply(self._tracker, action)
        self._history = history
        return self._tracker

    def step(self, state: pyspiel.State) -> int:
        t = self.tracker(state)
        action = decide(t, state.current_player())
        legal = state.legal_actions()
        if action not in legal:
            self.illegal += 1
            action = self._rng.choice(legal)
        self.thinking = state.action_to_string(state.current_player(), action)
        return action

    def restart_at(self, state: pyspiel.State) -> None:
        self._history = []
        self._tracker = Tracker(self._cfg)

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass


def rule_position(
    seed: int, plies: int, config: HanabiConfig | None = None
) -> tuple[pyspiel.Game, pyspiel.State]:
    """A position from rule-bot play: deals drawn with `random.Random(seed)`, the rule bot
    in every seat, until the history holds at least `plies` actions (deals count) and a
    player is to move. Tests and benchmarks take their mid-game positions from here."""
    game = (config or HanabiConfig()).load()
    rng = random.Random(seed)
    bot = RuleBot(game, seed)
    state = game.new_initial_state()
    while not state.is_terminal() and (state.is_chance_node() or len(state.history()) < plies):
        if state.is_chance_node():
            outcomes, probs = zip(*state.chance_outcomes(), strict=True)
            state.apply_action(rng.choices(outcomes, probs)[0])
        else:
            state.apply_action(bot.step(state))
    return game, state
