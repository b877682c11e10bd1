"""A village-side belief over who the two werewolves are: exact over the 21 possible wolf
pairs, weighted by a simple model of how each side talks and votes. Read by the rule bot.

Hard facts (weight 0 when broken): the viewer's own knowledge (itself, when not a wolf;
its checks and saves); night victims are not wolves; after every death the game went on,
so at least one wolf lived and wolves were fewer than the others.

Soft evidence, as likelihood factors of the observed record under a wolf pair W (the
seer is one of the non-wolves, so a claim's weight folds in who could make it):
- a first seer claim "t is a werewolf" by c: c a non-wolf (the seer, 1 in 5, having
  found t, 1 in 6 per check) 0.067 if t is a wolf, 0.002 if not; c a wolf (a fake claim,
  about 0.3, naming one of 5 non-wolves) 0.06 naming a non-wolf, 0.005 a wolf. A first
  "t is not a werewolf": 0.033 / 0.001 from a non-wolf, 0.01 / 0.02 (clearing the other
  wolf) from a wolf.
- later seer claims: from a non-wolf true (1 - EPS, else EPS); from a wolf, naming a
  wolf 0.1 (a non-wolf 0.9), clearing a wolf 0.7 (a non-wolf 0.3).
- two non-wolf seer claimers EPS (there is one seer); to the seer itself, any other
  claimer is a wolf (EPS otherwise). Doctor claimers: 0.2 a non-wolf, 0.1 a wolf; two
  non-wolf doctor claimers EPS.
- an accusation: from a wolf at a wolf 0.2; from a non-wolf at a wolf 1.3. A support from
  a wolf of a wolf 1.5. A vote: from a wolf for a wolf 0.3, from a non-wolf for a wolf 1.2,
  except a vote for a player who already had a majority (nothing to learn: the rule
  wolves join such votes against a partner). (Everything else 1.)
"""

from __future__ import annotations

import functools
import itertools
import math

from games.werewolf.game import NUM_PLAYERS, SEER, VOTING, WOLF
from games.werewolf.knowledge import Knowledge

EPS = 0.03
PAIRS: tuple[tuple[int, int], ...] = tuple(itertools.combinations(range(NUM_PLAYERS), 2))
Table = tuple[tuple[float, float], tuple[float, float]]
"""table[a is a wolf][b is a wolf]: the likelihood factor of an act of a about b."""


def _log(t: tuple[tuple[float, float], tuple[float, float]]) -> Table:
    return ((math.log(t[0][0]), math.log(t[0][1])), (math.log(t[1][0]), math.log(t[1][1])))


FIRST_CLAIM_WOLF = _log(((0.002, 0.067), (0.06, 0.005)))
FIRST_CLAIM_CLEAR = _log(((0.033, 0.001), (0.01, 0.02)))
DOCTOR_CLAIMER = _log(((0.2, 0.2), (0.1, 0.1)))
TWO_GOOD_CLAIMERS = _log(((EPS, 1.0), (1.0, 1.0)))
CLAIM_WOLF = _log(((EPS, 1 - EPS), (0.9, 0.1)))
CLAIM_CLEAR = _log(((1 - EPS, EPS), (0.3, 0.7)))
ACCUSE = _log(((1.0, 1.3), (1.0, 0.2)))
SUPPORT = _log(((1.0, 1.0), (1.0, 1.5)))
VOTE = _log(((1.0, 1.2), (1.0, 0.3)))
NOT_GOOD = _log(((EPS, EPS), (1.0, 1.0)))


@functools.cache
def _vector(a: int, b: int, table: Table) -> tuple[float, ...]:
    """The log factor of `table` for each wolf pair."""
    return tuple(table[a in pair][b in pair] for pair in PAIRS)


def wolf_pair_weights(k: Knowledge, public: bool = False) -> list[float]:
    """The posterior weight of each pair in PAIRS (sums to 1). With `public`, from
    public facts only: the village's belief as any outsider would compute it."""
    view = k.view
    logw = [0.0] * len(PAIRS)

    def add(a: int, b: int, table: Table) -> None:
        for i, x in enumerate(_vector(a, b, table)):
            logw[i] += x

    good = {t for t in k.deaths.values() if t >= 0} if public else k.known_good
    wolves: set[int] = set() if public else k.known_wolves
    claimers = list(k.seer_claims)
    for c in claimers:
        if not public and view.role == SEER and c != view.me:
            add(c, c, NOT_GOOD)
        first, *later = k.seer_claims[c]
        wolf = first.kind == "claim_seer_wolf"
        add(c, first.target, FIRST_CLAIM_WOLF if wolf else FIRST_CLAIM_CLEAR)
        for s in later:
            add(c, s.target, CLAIM_WOLF if s.kind == "claim_seer_wolf" else CLAIM_CLEAR)
    for a, b in itertools.combinations(claimers, 2):
        add(a, b, TWO_GOOD_CLAIMERS)
    for c in k.doctor_claims:
        add(c, c, DOCTOR_CLAIMER)
    for a, b in itertools.combinations(k.doctor_claims, 2):
        add(a, b, TWO_GOOD_CLAIMERS)
    for s in k.speeches:
        if s.kind == "accuse":
            add(s.speaker, s.target, ACCUSE)
        elif s.kind == "support":
            add(s.speaker, s.target, SUPPORT)
    for day, votes in k.votes.items():
        voters = len(k.living) if day == view.day and view.phase == VOTING else len(votes)
        count = [0] * NUM_PLAYERS
        for voter, target in votes:
            if 2 * count[target] <= voters:  # joining a decided vote tells nothing
                add(voter, target, VOTE)
            count[target] += 1
    top = max(logw)
    weights = [
        math.exp(x - top) if _possible(pair, good, wolves, k.removed) else 0.0
        for pair, x in zip(PAIRS, logw, strict=True)
    ]
    total = sum(weights)
    return [w / total for w in weights]


def _possible(pair: tuple[int, int], good: set[int], wolves: set[int], removed: list[int]) -> bool:
    if any(p in pair for p in good) or not wolves <= set(pair):
        return False
    wolves_alive, others_alive = 2, NUM_PLAYERS - 2
    for p in removed:
        if p in pair:
            wolves_alive -= 1
        else:
            others_alive -= 1
        if wolves_alive == 0 or wolves_alive >= others_alive:
            return False
    return True


def wolf_probabilities(k: Knowledge, public: bool = False) -> list[float]:
    """P(seat is a werewolf) for each seat under `wolf_pair_weights`; a werewolf viewer
    (not `public`) knows the answer."""
    if k.view.role == WOLF and not public:
        return [1.0 if p in k.view.wolves else 0.0 for p in range(NUM_PLAYERS)]
    probs = [0.0] * NUM_PLAYERS
    for (a, b), w in zip(PAIRS, wolf_pair_weights(k, public), strict=True):
        probs[a] += w
        probs[b] += w
    return probs
