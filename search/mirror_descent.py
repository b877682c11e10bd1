"""Mirror-descent search (MDS) and its magnetic form (MMDS): decision-time planning by
update equivalence (Sokota et al., ICLR 2024; ALGORITHMS.md section 2).

At a decision of the acting player: sample histories consistent with its information,
estimate q(a) for every legal action by playing `a` and then the blueprint for every
player to the end, and return the mirror-descent update of the blueprint's policy:

    MDS:  pi'(a) ∝ pi(a) · exp(eta · q(a))
    MMDS: pi'(a) ∝ [pi(a) · exp(eta · q(a)) · rho(a)^(eta·alpha)]^(1 / (1 + eta·alpha))

with rho a magnet (uniform, or the blueprint itself). One step from the blueprint, the
MMDS argmax is the MDS argmax (uniform magnet) or that of MDS with eta/(1 + eta·alpha)
(blueprint magnet); the policies differ, which matters with `select="sample"`. `mmd_update` is the same step as a
pure function of (pi, q); iterated over every information state of a two-player zero-sum
game it is magnetic mirror descent (MMD), see games/mmd.py.

Game-agnostic: the game enters through two functions, `sample_world(rng)` and
`rollout(world, action, rng)`; nothing here imports a game library.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from search.errors import InvalidConfigError, NoActionsError

A = TypeVar("A", bound=Hashable)
W = TypeVar("W")

SampleWorld = Callable[[random.Random], W]
"""Draws one history consistent with the acting player's information state."""
Rollout = Callable[[W, A, random.Random], float]
"""Return of the acting player after `action` in `world`, then the blueprint to the end."""


def mmd_update(
    prior: Mapping[A, float],
    q: Mapping[A, float],
    eta: float,
    alpha: float = 0.0,
    magnet: Mapping[A, float] | None = None,
) -> dict[A, float]:
    """One (magnetic) mirror-descent step over the actions of `prior`, in log space.

    alpha = 0 is plain MDS; with alpha > 0 the result is pulled towards `magnet`
    (uniform when None). Actions with zero prior keep zero unless the magnet gives them
    mass. eta = 0 returns `prior` (renormalised)."""
    if eta < 0 or alpha < 0:
        raise InvalidConfigError(f"eta and alpha must be >= 0, got eta={eta}, alpha={alpha}")
    actions = list(prior)
    if not actions:
        raise NoActionsError("mmd_update needs at least one action")
    uniform = 1.0 / len(actions)
    rho = {a: uniform for a in actions} if magnet is None else magnet
    logits: dict[A, float] = {}
    for a in actions:
        p = prior[a]
        m = rho.get(a, 0.0)
        if alpha > 0 and m > 0:
            base = math.log(p) if p > 0 else -math.inf
            if base == -math.inf:
                # pi(a)=0 but the magnet is positive: the magnet term alone keeps a alive.
                base = -745.0
            logit = (base + eta * q[a] + eta * alpha * math.log(m)) / (1 + eta * alpha)
        elif p > 0:
            logit = math.log(p) + eta * q[a]
        else:
            continue
        logits[a] = logit
    if not logits:
        raise InvalidConfigError("mmd_update: the prior and the magnet give every action zero")
    top = max(logits.values())
    weights = {a: math.exp(v - top) for a, v in logits.items()}
    total = sum(weights.values())
    return {a: weights.get(a, 0.0) / total for a in actions}


@dataclass(frozen=True)
class MDSConfig:
    """Options of `mirror_descent_search`. Budget: `rollouts` (total, over all actions)
    and/or `seconds`, whichever ends first; at least one. A budget of zero rollouts is an
    error, not "play the blueprint": ask for the blueprint itself for that."""

    eta: float = 1.0
    """Step size; 0 returns the blueprint's policy."""
    alpha: float = 0.0
    """Magnet strength (0: MDS; > 0: MMDS)."""
    magnet: Literal["uniform", "blueprint"] = "uniform"
    rollouts: int | None = 200
    seconds: float | None = None
    prior_floor: float = 0.0
    """Mix this much of the uniform policy into the blueprint's: a deterministic
    (one-hot) blueprint otherwise never moves under MDS."""
    threshold: float = 0.0
    """Deviate from the blueprint's choice only when the best action's estimated q
    exceeds the blueprint action's by more than this."""
    select: Literal["argmax", "sample"] = "argmax"
    keep: int | None = None
    """Successive screening: after `screen` worlds, roll out only the `keep` actions with
    the best q so far (and the blueprint's); the rest keep their early estimates."""
    screen: int = 2
    seed: int | None = None
    """Seeds the search's RNG when the caller passes none."""

    def __post_init__(self) -> None:
        if self.rollouts is None and self.seconds is None:
            raise InvalidConfigError("an MDS budget needs rollouts or seconds (or both)")
        if self.rollouts is not None and self.rollouts < 1:
            raise InvalidConfigError(f"rollouts must be >= 1, got {self.rollouts}")
        if self.seconds is not None and not self.seconds > 0:
            raise InvalidConfigError(f"seconds must be > 0, got {self.seconds}")
        if self.eta < 0 or self.alpha < 0 or self.threshold < 0:
            raise InvalidConfigError("eta, alpha and threshold must be >= 0")
        if not 0 <= self.prior_floor <= 1:
            raise InvalidConfigError(f"prior_floor must be in [0, 1], got {self.prior_floor}")
        if self.keep is not None and self.keep < 1:
            raise InvalidConfigError(f"keep must be >= 1, got {self.keep}")
        if self.screen < 1:
            raise InvalidConfigError(f"screen must be >= 1, got {self.screen}")
        if self.magnet not in ("uniform", "blueprint"):
            raise InvalidConfigError(f"magnet must be uniform or blueprint, got {self.magnet!r}")


@dataclass(frozen=True)
class MDSResult(Generic[A]):
    """What the search decided and why: per-action estimates and both policies."""

    action: A
    blueprint_action: A
    policy: dict[A, float]
    prior: dict[A, float]
    q: dict[A, float]
    visits: dict[A, int]
    worlds: int
    rollouts: int
    seconds: float
    deviated: bool = field(default=False)


def mirror_descent_search(
    config: MDSConfig,
    blueprint: Mapping[A, float],
    sample_world: Callable[[random.Random], W],
    rollout: Callable[[W, A, random.Random], float],
    rng: random.Random | None = None,
) -> MDSResult[A]:
    """MDS/MMDS at one decision: `blueprint` is pi(.|s) over the legal actions.

    Every sampled world evaluates every action once (common random worlds), so q
    differences are paired; the budget is checked between rollouts. With a single legal
    action, or eta = 0, no rollout is spent."""
    actions: Sequence[A] = list(blueprint)
    if not actions:
        raise NoActionsError("mirror_descent_search: no legal action")
    rng = rng if rng is not None else random.Random(config.seed)
    total_p = sum(blueprint.values())
    if total_p <= 0:
        raise InvalidConfigError("the blueprint policy gives every legal action zero")
    n = len(actions)
    f = config.prior_floor
    prior = {a: (1 - f) * blueprint[a] / total_p + f / n for a in actions}
    bp_action = max(actions, key=lambda a: prior[a])
    start = time.perf_counter()
    sums = dict.fromkeys(actions, 0.0)
    visits = dict.fromkeys(actions, 0)
    worlds = spent = 0
    if n > 1 and config.eta > 0:
        deadline = None if config.seconds is None else start + config.seconds
        limit = config.rollouts
        done = False
        live = list(actions)
        while not done:
            if config.keep is not None and worlds == config.screen and len(live) > config.keep:
                ranked = sorted(actions, key=lambda a: sums[a] / visits[a], reverse=True)
                live = [a for a in actions if a in ranked[: config.keep] or a == bp_action]
            world = sample_world(rng)
            worlds += 1
            for a in live:
                sums[a] += rollout(world, a, rng)
                visits[a] += 1
                spent += 1
                if (limit is not None and spent >= limit) or (
                    deadline is not None and time.perf_counter() >= deadline
                ):
                    done = True
                    break
    # Unvisited actions (budget ran out mid-world) get the blueprint action's estimate.
    seen = [a for a in actions if visits[a]]
    fallback = sums[bp_action] / visits[bp_action] if visits[bp_action] else 0.0
    q = {a: sums[a] / visits[a] if visits[a] else fallback for a in actions}
    if not seen:
        q = dict.fromkeys(actions, 0.0)
    magnet = None if config.magnet == "uniform" else prior
    policy = mmd_update(prior, q, config.eta, config.alpha, magnet)
    if config.select == "sample":
        action = rng.choices(list(policy), weights=list(policy.values()))[0]
    else:
        action = max(actions, key=lambda a: (policy[a], a == bp_action))
    if (
        config.threshold > 0
        and action != bp_action
        and q[action] - q[bp_action] <= config.threshold
    ):
        action = bp_action
    return MDSResult(
        action=action,
        blueprint_action=bp_action,
        policy=policy,
        prior=prior,
        q=q,
        visits=visits,
        worlds=worlds,
        rollouts=spent,
        seconds=time.perf_counter() - start,
        deviated=action != bp_action,
    )
