"""A rule-based Hanabi blueprint in the style of the published convention bots.

Conventions (public: every player applies `flag_hint` to every hint, so all agree):
- A hint that touches new cards has a *focus*: the receiver's chop (oldest untouched
  card) if touched, else the newest newly touched card. The focus is a play clue (flag
  PLAY) unless the hint is a save (flag SAVE): a 5 hint, or a rank hint focused on the
  chop whose rank no firework needs now.
- The hinter only gives play clues whose focus is playable now and not a duplicate of a
  touched card; it saves the next player's critical chop (5s, last copies).
- On its turn a player: saves the next player's critical chop if that player would
  discard; plays a card it knows is playable; plays a play-flagged card; gives the best
  play clue; with >= 3 tokens, a hint that makes a card known playable; with a spare
  life, plays a touched card that is >= 60% playable (any card in the last round);
  discards a known-dead card, else its chop; when it may not discard, gives the most
  instructive harmless hint.
Reads only what the acting player may know (never its own cards in the tracker).
"""

from __future__ import annotations

import random

import pyspiel

from games.hanabi.game import HanabiConfig, Tracker

NONE, PLAY, SAVE = 0, 1, 2


def chop(t: Tracker, p: int) -> int | None:
    """Oldest card of seat p that no hint touched and no convention marked."""
    for i, (clued, flag) in enumerate(zip(t.clued[p], t.flags[p], strict=False)):
        if not clued and not flag:
            return i
    return None


def flag_hint(t: Tracker, target: int, touched: list[int], kind: str = "", value: int = 0) -> None:
    """The public reading of a hint (called before the hint's knowledge is applied)."""
    focus = _focus_of(t, target, touched)
    if focus is None:
        return
    new = [i for i in touched if not t.clued[target][i]]
    if kind == "rank" and value == t.nr - 1:
        for i in new:
            t.flags[target][i] = SAVE
        return
    if reads_as_save(t, target, kind, value, focus):
        t.flags[target][focus] = SAVE
        return
    t.flags[target][focus] = PLAY


class _Flagger:
    """Adapts `flag_hint` to Tracker.apply's hook, which does not pass the hint kind."""

    def __init__(self) -> None:
        self.kind = ""
        self.value = 0

    def __call__(self, t: Tracker, target: int, touched: list[int]) -> None:
        flag_hint(t, target, touched, self.kind, self.value)


def apply(t: Tracker, action: int) -> None:
    """Advance the tracker by one history entry, reading hints by the conventions."""
    if t.deck > 0 and t.to_deal() >= 0:
        t.deal(action)
        return
    kind, _, value = t.decode(action)
    flagger = _Flagger()
    flagger.kind, flagger.value = kind, value
    t.apply_move(t.turn, action, flagger)
    t.turn = (t.turn + 1) % t.cfg.players


def tracker_for(state: pyspiel.State, cfg: HanabiConfig | None = None) -> Tracker:
    t = Tracker(cfg or HanabiConfig.of(state.get_game()))
    for action in state.history():
        apply(t, action)
    return t


def dead_cards(t: Tracker) -> set[int]:
    """Cards that can never be played: already played, or a lower rank is all gone."""
    nr = t.nr
    public = t.public_unseen()
    dead: set[int] = set()
    for color in range(t.nc):
        blocked = False
        for rank in range(nr):
            card = color * nr + rank
            if rank < t.fireworks[color] or blocked:
                dead.add(card)
            elif public[card] == 0:
                blocked = True
    return dead


def critical(t: Tracker, card: int, dead: set[int]) -> bool:
    """Not dead and the last copy left (5s always)."""
    return card not in dead and t.public_unseen()[card] == 1


def decide(t: Tracker, p: int) -> int:
    """The rule bot's action for seat p, from p's information only."""
    nr, n = t.nr, t.cfg.players
    fireworks = t.fireworks
    unseen = t.unseen_by(p)
    dead = dead_cards(t)
    own = len(t.hands[p])
    hs = t.cfg.hands
    options = []
    for i in range(own):
        cards = [c for c in t.plausible_cards(p, i) if unseen[c]]
        total = sum(unseen[c] for c in cards) or 1
        p_play = sum(unseen[c] for c in cards if fireworks[c // nr] == c % nr) / total
        p_dead = sum(unseen[c] for c in cards if c in dead) / total
        options.append((p_play, p_dead, cards))

    # 1. Save the next player's critical chop when it has nothing to do but discard.
    save = _save_hint(t, p, dead) if t.info > 0 else None
    if save is not None:
        return save

    # 2. A card known to be playable (5s first, then lowest rank).
    sure = [i for i, (pp, _, _) in enumerate(options) if pp >= 1.0]
    if sure:
        best = max(sure, key=lambda i: (max(c % nr for c in options[i][2]), -i))
        return hs + best

    # 3. A card flagged as a play clue that may still be playable.
    flagged = [
        i for i in range(own) if t.flags[p][i] == PLAY and options[i][0] > 0 and options[i][1] < 1
    ]
    if flagged and (t.lives > 1 or max(options[i][0] for i in flagged) >= 0.9):
        return hs + max(flagged, key=lambda i: (options[i][0], i))

    # 4. The best play clue.
    if t.info > 0:
        hint = _best_play_clue(t, p, dead)
        if hint is not None:
            return hint

    # 4b. With tokens to spare, a hint that makes a card known playable.
    if t.info >= INFO_HINT_TOKENS:
        info_hint = _best_info_hint(t, p)
        if info_hint is not None and info_hint[0] >= 0.9:
            return info_hint[1]

    # 5. Last round: a misplay costs only a spare life, so bet on the likeliest card.
    if t.lives > 1:
        bet = max(range(own), key=lambda i: options[i][0])
        if (t.deck == 0 and options[bet][0] > 0) or (
            t.clued[p][bet] and options[bet][0] >= CLUED_BET
        ):
            return hs + bet

    # 6. Discard: a known-dead card, else the chop, else the least valuable card.
    if t.info < t.cfg.max_information_tokens:
        dead_own = [i for i, (_, pd, _) in enumerate(options) if pd >= 1.0]
        if dead_own:
            return dead_own[0]
        ch = chop(t, p)
        if ch is not None:
            return ch
        keep = [i for i in range(own) if t.flags[p][i] == NONE] or [
            i for i in range(own) if t.flags[p][i] != PLAY
        ]
        pool = keep or list(range(own))
        public = t.public_unseen()

        def waste(i: int) -> float:
            cards = options[i][2]
            crit = sum(unseen[c] for c in cards if c not in dead and public[c] == 1)
            return options[i][1] - crit / max(sum(unseen[c] for c in cards), 1)

        return max(pool, key=lambda i: (waste(i), -i))

    # 7. No discard allowed: the most instructive harmless hint, else a bet.
    info_hint = _best_info_hint(t, p)
    if info_hint is not None:
        return info_hint[1]
    best = max(range(own), key=lambda i: options[i][0])
    if options[best][0] >= 0.5 or t.lives > 1:
        return hs + best
    target = (p + 1) % n
    card = t.hands[target][-1]
    return t.hint_action("rank", 1, card % nr)


def _best_info_hint(t: Tracker, p: int) -> tuple[float, int] | None:
    """The harmless hint (no unplayable card read as a play) that teaches the most."""
    n, nr = t.cfg.players, t.nr
    best: tuple[float, int] | None = None
    for offset in range(1, n):
        target = (p + offset) % n
        for kind, count in (("rank", nr), ("color", t.nc)):
            for value in range(count):
                touched = t.touched(target, kind, value)
                if touched and _harmless(t, target, kind, value, touched):
                    gain = _knowledge_gain(t, target, kind, value, touched) - 0.1 * offset
                    if best is None or gain > best[0]:
                        best = (gain, t.hint_action(kind, offset, value))
    return best


def _knowledge_gain(t: Tracker, target: int, kind: str, value: int, touched: list[int]) -> float:
    """Cards of `target` the hint makes known playable (1 each) or known dead (0.5 each)."""
    nr = t.nr
    public = t.public_unseen()
    dead = dead_cards(t)
    gain = 0.0
    for i in range(len(t.hands[target])):
        cm, rm = t.cmask[target][i], t.rmask[target][i]
        hit = i in touched
        if kind == "color":
            cm = (1 << value) if hit else cm & ~(1 << value)
        else:
            rm = (1 << value) if hit else rm & ~(1 << value)
        cards = [
            c
            for c in range(len(public))
            if public[c] and cm >> (c // nr) & 1 and rm >> (c % nr) & 1
        ]
        was = [c for c in t.plausible_cards(target, i) if public[c]]
        if cards and len(cards) < len(was):
            if all(t.fireworks[c // nr] == c % nr for c in cards):
                gain += 1.0
            elif all(c in dead for c in cards):
                gain += 0.5
    return gain


def _harmless(t: Tracker, target: int, kind: str, value: int, touched: list[int]) -> bool:
    """The hint's reading marks no card PLAY that is not playable now."""
    focus = _focus_of(t, target, touched)
    if focus is None:
        return True
    if kind == "rank" and (
        value == t.nr - 1 or (focus == chop(t, target) and value not in t.fireworks)
    ):
        return True
    card = t.hands[target][focus]
    return t.fireworks[card // t.nr] == card % t.nr


INFO_HINT_TOKENS = 3
"""From this many tokens on, a hint that makes a card known playable beats a discard."""

CLUED_BET = 0.6
"""A touched card this likely to be playable is played while a spare life remains."""

CHOP_SAVES = "rank"
"""Which hints that focus the chop read as saves: "any", or "rank" (ranks no firework needs)."""


def reads_as_save(t: Tracker, target: int, kind: str, value: int, focus: int) -> bool:
    """A 5 hint, or a hint whose focus is the receiver's chop, saves rather than plays."""
    if kind == "rank" and value == t.nr - 1:
        return True
    if focus != chop(t, target):
        return False
    return CHOP_SAVES == "any" or (kind == "rank" and value not in t.fireworks)


def _has_play(t: Tracker, q: int) -> bool:
    """Whether seat q will play rather than discard: a play-flagged card, or one its hint
    knowledge (and the public counts) says is playable."""
    public = t.public_unseen()
    nr = t.nr
    for i, flag in enumerate(t.flags[q]):
        if flag == PLAY and any(
            public[c] and t.fireworks[c // nr] == c % nr for c in t.plausible_cards(q, i)
        ):
            return True
    for i in range(len(t.hands[q])):
        cards = [c for c in t.plausible_cards(q, i) if public[c]]
        if cards and all(t.fireworks[c // nr] == c % nr for c in cards):
            return True
    return False


def _save_hint(t: Tracker, p: int, dead: set[int]) -> int | None:
    """A rank hint that saves the next player's critical chop card, when it is needed."""
    nr, n = t.nr, t.cfg.players
    nxt = (p + 1) % n
    if _has_play(t, nxt):
        return None
    ch = chop(t, nxt)
    if ch is None:
        return None
    card = t.hands[nxt][ch]
    rank = card % nr
    if not critical(t, card, dead) or t.fireworks[card // nr] == rank:
        return None
    best: tuple[int, int] | None = None
    for kind, value in (("rank", rank), ("color", card // nr)):
        touched = t.touched(nxt, kind, value)
        if _focus_of(t, nxt, touched) == ch and reads_as_save(t, nxt, kind, value, ch):
            extra = sum(1 for i in touched if not t.clued[nxt][i]) - (
                kind == "rank" and rank == nr - 1
            )
            if best is None or extra < best[0]:
                best = (extra, t.hint_action(kind, 1, value))
    return None if best is None else best[1]


def _focus(t: Tracker, target: int, kind: str, value: int) -> int | None:
    return _focus_of(t, target, t.touched(target, kind, value))


def _focus_of(t: Tracker, target: int, touched: list[int]) -> int | None:
    """The chop when the hint touches it, else the newest newly touched card."""
    new = [i for i in touched if not t.clued[target][i]]
    if not new:
        return None
    ch = chop(t, target)
    return ch if ch in new else max(new)


def _best_play_clue(t: Tracker, p: int, dead: set[int]) -> int | None:
    nr, n = t.nr, t.cfg.players
    marked = {
        t.hands[q][i]
        for q in range(n)
        if q != p
        for i in range(len(t.hands[q]))
        if t.flags[q][i] == PLAY or t.clued[q][i]
    }
    best: tuple[float, int] | None = None
    for offset in range(1, n):
        target = (p + offset) % n
        hand = t.hands[target]
        chop(t, target)
        for kind, count in (("color", t.nc), ("rank", nr)):
            for value in range(count):
                touched = t.touched(target, kind, value)
                new = [i for i in touched if not t.clued[target][i]]
                if not new:
                    continue
                focus = _focus_of(t, target, touched)
                assert focus is not None
                if reads_as_save(t, target, kind, value, focus):
                    continue
                card = hand[focus]
                if t.fireworks[card // nr] != card % nr or card in marked:
                    continue
                if t.flags[target][focus] == PLAY:
                    continue
                playable_new = {hand[i] for i in new if t.fireworks[hand[i] // nr] == hand[i] % nr}
                junk = sum(1 for i in new if hand[i] in dead)
                score = len(playable_new) - 0.3 * junk - 0.1 * (offset - 1) - 0.01 * (card % nr)
                if best is None or score > best[0]:
                    best = (score, t.hint_action(kind, offset, value))
    return None if best is None else best[1]


class RuleBot(pyspiel.Bot):
    """The rule-based blueprint as a `pyspiel.Bot`; an illegal choice (a bug, never
    expected) is counted in `illegal` and replaced by a seeded random legal action."""

    def __init__(self, game: pyspiel.Game, seed: int = 0) -> None:
        pyspiel.Bot.__init__(self)
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
