"""Werewolf bots for `games.bots.make_bot`: `rule`, a hand-written policy that reads only
its player's `View` (through knowledge.py and belief.py), with seeded random tie-breaks.

The village side (villager, seer, doctor) acts on P(wolf) per seat from belief.py (exact
over the wolf pairs, given what it knows and how each side tends to talk and vote).

- Villager: accuses its top suspect when P >= 0.6, defends itself under pressure (>= 2,
  see knowledge.py), supports a likely-true seer claimer (P <= 0.25) under pressure,
  accuses a top suspect with P >= 0.45, else claims villager.
- Seer: checks the unchecked player most likely a wolf. Claims seer naming a living
  werewolf it found, else calls a counter-claimer a werewolf, else clears its most
  pressured checked non-wolf (from day 1: an early claim makes later fake claims
  counter-claims); otherwise speaks like a villager.
- Doctor: protects the seer claimer least likely a wolf (if P <= 0.5), else itself, else
  the most trusted player (never the last night's protectee). Claims doctor only under
  heavy pressure (>= 3); otherwise speaks like a villager.
- Votes (village): the top suspect, plus 0.1 per vote it has today weighted by P(voter is
  not a wolf) (a bandwagon, so that the vote does not tie).
- Werewolves (they know the teams; they use the public belief, the village's view, to
  choose scapegoats): the second wolf copies the first wolf's pick. The victim: a non-wolf
  seer claimer, then doctor claimers and players who accused or voted against a wolf;
  the village's suspects are kept alive. When a seer claimer names a wolf, the first wolf
  to speak counter-claims seer naming that claimer; the fake seer then keeps naming the
  real seer (or a living earlier target, or the village's top suspect) and clears a
  pressured partner. (An unprompted day-1 fake claim lost more often in all-rule play:
  wolves won 34% making one a quarter of the time, 36% never, over 2,000 games.)
  Otherwise a wolf defends itself under pressure, accuses the village's top non-wolf
  suspect (public P >= 0.4), or claims villager. Wolves vote for the non-wolf with the
  most votes, public suspicion and seer claims; for the partner only when it already has
  a majority.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import pyspiel

from games.errors import BotSpecError, GameError
from games.spec import BotSpec, NoOptions, spec_config
from games.spiel import Bot
from games.werewolf.belief import wolf_probabilities
from games.werewolf.game import (
    CHECK,
    DOCTOR,
    KILL,
    NIGHT,
    PROTECT,
    SEER,
    SPEECH,
    SPEECH_BASE,
    VOTE,
    WOLF,
    View,
    config_of,
)
from games.werewolf.knowledge import Knowledge, knowledge
from games.werewolf.speech import Statement

Decision = tuple[int, str]
"""An action and the one-line reason (the bot's `thinking`)."""


def decide(view: View, rng: random.Random) -> Decision:
    """The rule policy's action for `view`'s player, who must be the one to act."""
    k = knowledge(view)
    if view.role == WOLF:
        if view.phase == NIGHT:
            return _kill(k, rng)
        return _wolf_speech(k, rng) if view.phase == SPEECH else _wolf_vote(k, rng)
    p = wolf_probabilities(k)
    if view.phase == NIGHT:
        return _check(k, p, rng) if view.role == SEER else _protect(k, p, rng)
    return _village_speech(k, p, rng) if view.phase == SPEECH else _village_vote(k, p, rng)


def _best(cands: Iterable[int], score: Callable[[int], float], rng: random.Random) -> int:
    """The candidate with the highest score, ties broken at random."""
    scored = [(score(c), c) for c in cands]
    top = max(s for s, _ in scored)
    return rng.choice([c for s, c in scored if s >= top - 1e-9])


def _say(k: Knowledge, strategy: str, target: int | None, why: str) -> Decision:
    cat = k.view.config.catalogue
    return SPEECH_BASE + cat.index(Statement(strategy, target)), why


def _others(k: Knowledge) -> list[int]:
    return [p for p in k.living if p != k.me]


# -- village --------------------------------------------------------------------------------


def _check(k: Knowledge, p: list[float], rng: random.Random) -> Decision:
    cands = [q for q in _others(k) if q not in k.checks] or _others(k)
    target = _best(cands, lambda q: p[q], rng)
    return CHECK + target, f"check {target} (P(wolf) {p[target]:.2f})"


def _protect(k: Knowledge, p: list[float], rng: random.Random) -> Decision:
    last = k.last_protect()
    legal = [q for q in k.living if q != last]
    seers = [c for c in k.seer_claims if c in legal and c != k.me]
    if seers:
        seer = _best(seers, lambda c: -p[c], rng)
        if p[seer] <= 0.5:
            return PROTECT + seer, f"protect claimed seer {seer}"
    if k.me in legal:
        return PROTECT + k.me, "protect myself"
    target = _best(legal, lambda q: -p[q], rng)
    return PROTECT + target, f"protect trusted {target}"


def _village_speech(k: Knowledge, p: list[float], rng: random.Random) -> Decision:
    me, role = k.me, k.view.role
    if role == SEER:
        said = _seer_speech(k, p, rng)
        if said is not None:
            return said
    if role == DOCTOR and k.pressure[me] >= 3:
        return _say(k, "claim_doctor", None, "under heavy pressure: reveal doctor")
    top = _best(_others(k), lambda q: p[q], rng)
    if p[top] >= 0.6:
        return _say(k, "accuse", top, f"strong case against {top} (P {p[top]:.2f})")
    if k.pressure[me] >= 2:
        return _say(k, "defend_self", None, "accused: defend")
    for c in k.seer_claims:
        if c != me and k.view.alive[c] and p[c] <= 0.25 and k.pressure[c] >= 2:
            return _say(k, "support", c, f"back the likely seer {c}")
    if p[top] >= 0.45:
        return _say(k, "accuse", top, f"suspect {top} (P {p[top]:.2f})")
    if role in (SEER, DOCTOR):
        return _say(k, "quiet", None, "nothing to share yet")
    return _say(k, "claim_villager", None, "nothing known: claim villager")


def _seer_speech(k: Knowledge, p: list[float], rng: random.Random) -> Decision | None:
    me, alive = k.me, k.view.alive
    found = [q for q, wolf in k.checks.items() if wolf and alive[q]]
    if found:
        w = _best(found, lambda q: k.pressure[q], rng)
        return _say(k, "claim_seer_wolf", w, f"my check found werewolf {w}")
    fakes = [c for c in k.seer_claims if c != me and alive[c] and c not in k.known_good]
    if fakes:
        f = _best(fakes, lambda q: p[q], rng)
        return _say(k, "claim_seer_wolf", f, f"{f} falsely claims seer")
    clears = [q for q, wolf in k.checks.items() if not wolf and alive[q] and q != me]
    if clears:
        c = _best(clears, lambda q: k.pressure[q], rng)
        return _say(k, "claim_seer_clear", c, f"my check cleared {c}")
    return None


def _village_vote(k: Knowledge, p: list[float], rng: random.Random) -> Decision:
    bandwagon = [0.0] * len(p)
    for voter, t in k.votes.get(k.view.day, []):
        bandwagon[t] += 0.1 * (1.0 - p[voter])
    target = _best(_others(k), lambda q: p[q] + bandwagon[q], rng)
    return VOTE + target, f"vote suspect {target} (P {p[target]:.2f})"


# -- werewolves -----------------------------------------------------------------------------


def _kill(k: Knowledge, rng: random.Random) -> Decision:
    day, wolves = k.view.day, set(k.view.wolves)
    cands = [q for q in k.living if q not in wolves]
    tonight = k.picks.get(day, [])
    if tonight and tonight[0][1] in cands:
        return KILL + tonight[0][1], f"same victim as werewolf {tonight[0][0]}"
    public = wolf_probabilities(k, public=True)

    def value(q: int) -> float:
        v = -2.0 * public[q]  # the village's suspects are useful alive
        if q in k.seer_claims:
            v += 6.0
        if q in k.doctor_claims:
            v += 3.0
        v += sum(1.0 for s in k.speeches if s.speaker == q and s.target in wolves)
        return v + sum(
            0.5 for votes in k.votes.values() for voter, t in votes if voter == q and t in wolves
        )

    victim = _best(cands, value, rng)
    return KILL + victim, f"victim {victim}"


def _wolf_speech(k: Knowledge, rng: random.Random) -> Decision:
    me, alive = k.me, k.view.alive
    team = set(k.view.wolves)
    villagers = [q for q in k.living if q not in team]
    public = wolf_probabilities(k, public=True)
    fakes = [c for c in k.seer_claims if c in team]
    real = [c for c in k.seer_claims if c not in team and alive[c]]
    if me in fakes:
        partners = [w for w in team if w != me and alive[w]]
        if partners and k.pressure[partners[0]] >= 2:
            return _say(k, "claim_seer_clear", partners[0], "fake seer: clear my partner")
        if real:
            r = _best(real, lambda q: public[q], rng)
            return _say(k, "claim_seer_wolf", r, f"fake seer: name the real seer {r}")
        named = [s.target for s in k.seer_claims[me] if s.kind == "claim_seer_wolf"]
        named = [t for t in named if alive[t]]
        v = named[-1] if named else _best(villagers, lambda q: public[q], rng)
        return _say(k, "claim_seer_wolf", v, f"fake seer: name {v}")
    exposers = [
        c
        for c in real
        for s in k.seer_claims[c]
        if s.kind == "claim_seer_wolf" and s.target in team
    ]
    if exposers and not fakes:
        return _say(k, "claim_seer_wolf", exposers[0], f"counter-claim against {exposers[0]}")
    if k.pressure[me] >= 2:
        return _say(k, "defend_self", None, "accused: defend")
    top = _best(villagers, lambda q: public[q], rng)
    if public[top] >= 0.4:
        return _say(k, "accuse", top, f"push the village's suspect {top}")
    return _say(k, "claim_villager", None, "blend in")


def _wolf_vote(k: Knowledge, rng: random.Random) -> Decision:
    team = set(k.view.wolves)
    votes = k.today_votes()
    partner = [w for w in team if w != k.me and k.view.alive[w]]
    if partner and 2 * votes[partner[0]] > len(k.living):
        return VOTE + partner[0], f"partner {partner[0]} is lost anyway"
    public = wolf_probabilities(k, public=True)

    def value(q: int) -> float:
        v = 0.3 * votes[q] + public[q]
        if q in k.seer_claims:
            v += 0.5
        return v

    target = _best([q for q in k.living if q not in team], value, rng)
    return VOTE + target, f"vote {target}"


# -- the bot --------------------------------------------------------------------------------


class RuleBot(Bot):
    """The rule policy as a `pyspiel.Bot` (any seat; `thinking` is its one-line reason)."""

    def __init__(self, game: pyspiel.Game, seed: int = 0) -> None:
        super().__init__()
        config_of(game)
        self._rng = random.Random(seed)
        self.thinking = ""

    def step(self, state: pyspiel.State) -> int:
        action, self.thinking = decide(state.view(state.current_player()), self._rng)
        return action

    def restart_at(self, state: pyspiel.State) -> None:
        pass

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass


def make_werewolf_bot(game: pyspiel.Game, spec: BotSpec, seed: int) -> pyspiel.Bot:
    """The werewolf-only bots of `games.bots.make_bot` (kinds `rule`, `react`, `lspo`)."""
    try:
        config_of(game)
    except GameError:
        raise BotSpecError(
            f"{spec.kind} plays werewolf only, not {game.get_type().short_name}"
        ) from None
    if spec.kind == "react":
        from games.werewolf.react import ReactBot

        return ReactBot(game, spec.rest, seed)
    if spec.kind == "lspo":
        from games.werewolf.lspo_bot import make_lspo_bot

        return make_lspo_bot(game, spec, seed)
    spec_config(spec, NoOptions)
    return RuleBot(game, seed)
