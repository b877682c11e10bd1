"""Mirror-descent search (MDS) and its magnetic form (MMDS): decision-time planning by
update equivalence (Sokota et al., ICLR 2024; docs/methods.md section 2).

At a decision of the acting player: sample histories consistent with its information,
estimate q(a) for every legal action by playing `a` and then the blueprint for every
player to the end, and return the mirror-descent update of the blueprint's policy:

    MDS:  pi'(a) ∝ pi(a) · exp(eta · q(a))
    MMDS: pi'(a) ∝ [pi(a) · exp(eta · q(a)) · rho(a)^(eta·alpha)]^(1 / (1 + eta·alpha))

with rho a magnet (uniform, or the blueprint itself). One step from the blueprint, the
MMDS argmax is the MDS argmax (uniform magnet) or that of MDS with eta/(1 + eta·alpha)
(blueprint magnet); the policies differ, which matters with `select="sample"`.
`mmd_update` is the same step as a pure function of (pi, q); iterated over every
information state of a two-player zero-sum game it is magnetic mirror descent (MMD), see
games/mmd.py. eta = infinity is policy iteration, the greedy step over every legal
action: with a deviation threshold that is SPARTA's single-agent search (Lerer et al.,
2020), the baseline the update-equivalence paper compares against.

Game-agnostic: the game enters through two functions, `sample_world(rng)` and
`rollout(world, action, rng)`; nothing here imports a game library.

Parallel rollouts (`workers > 1`): the worlds are spread over forked processes
(`concurrent.futures.ProcessPoolExecutor`, fork context, so the two functions need not
pickle). World k draws from its own RNG, seeded from the search RNG and k, so with a
rollouts budget the q-values do not depend on the number of workers. Side counts a
rollout keeps (say, illegal blueprint actions replaced) come back through `counters`.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
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
    if math.isinf(eta):
        return policy_iteration(actions, q, alpha, magnet)
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


def policy_iteration(
    actions: Sequence[A],
    q: Mapping[A, float],
    alpha: float = 0.0,
    magnet: Mapping[A, float] | None = None,
) -> dict[A, float]:
    """The eta -> infinity limit of `mmd_update`: the policy-iteration step SPARTA takes
    (Lerer et al., 2020; the update-equivalence paper reads SPARTA this way). The prior
    drops out: uniform over the actions of highest q. With a magnet (alpha > 0) the
    limit is rho(a) · exp(q(a) / alpha), normalised (rho uniform when None)."""
    top = max(q[a] for a in actions)
    if alpha > 0:
        rho = magnet if magnet is not None else dict.fromkeys(actions, 1.0)
        weights = {a: rho.get(a, 0.0) * math.exp((q[a] - top) / alpha) for a in actions}
    else:
        weights = {a: 1.0 if q[a] == top else 0.0 for a in actions}
    total = sum(weights.values())
    if total <= 0:
        raise InvalidConfigError("policy_iteration: the magnet gives every action zero")
    return {a: w / total for a, w in weights.items()}


@dataclass(frozen=True)
class MDSConfig:
    """Options of `mirror_descent_search`. Budget: `rollouts` (total, over all actions)
    and/or `seconds`, whichever ends first; at least one. A budget of zero rollouts is an
    error, not "play the blueprint": ask for the blueprint itself for that."""

    eta: float = 1.0
    """Step size; 0 returns the blueprint's policy, infinity is policy iteration (the
    greedy step over every legal action, SPARTA's update; `policy_iteration`)."""
    alpha: float = 0.0
    """Magnet strength (0: MDS; > 0: MMDS)."""
    magnet: Literal["uniform", "blueprint"] = "uniform"
    rollouts: int | None = 200
    seconds: float | None = None
    floor: float = 0.0
    """Mix this much of the uniform policy into the blueprint's: a deterministic
    (one-hot) blueprint otherwise never moves under MDS."""
    threshold: float = 0.0
    """Deviate from the blueprint's choice only when the chosen action's mean return
    exceeds the blueprint action's, over the worlds both were rolled out in (after the
    screening worlds, when screening), by more than this."""
    z: float = 0.0
    """...and (when > 0) only when that paired gain exceeds z standard errors."""
    select: Literal["argmax", "sample"] = "argmax"
    keep: int | None = None
    """Successive screening: after `screen` worlds, roll out only the `keep` actions with
    the best q so far (and the blueprint's); the rest keep their early estimates in the
    policy but cannot be chosen."""
    screen: int = 2
    seed: int | None = None
    """Seeds the search's RNG when the caller passes none."""
    workers: int = 1
    """Processes that run rollouts (forked per search); 1 runs them in this process."""

    def __post_init__(self) -> None:
        if self.rollouts is None and self.seconds is None:
            raise InvalidConfigError("an MDS budget needs rollouts or seconds (or both)")
        if self.rollouts is not None and self.rollouts < 1:
            raise InvalidConfigError(f"rollouts must be >= 1, got {self.rollouts}")
        if self.seconds is not None and not self.seconds > 0:
            raise InvalidConfigError(f"seconds must be > 0, got {self.seconds}")
        if self.eta < 0 or self.alpha < 0 or self.threshold < 0 or self.z < 0:
            raise InvalidConfigError("eta, alpha, threshold and z must be >= 0")
        if not 0 <= self.floor <= 1:
            raise InvalidConfigError(f"floor must be in [0, 1], got {self.floor}")
        if self.keep is not None and self.keep < 1:
            raise InvalidConfigError(f"keep must be >= 1, got {self.keep}")
        if self.workers < 1:
            raise InvalidConfigError(f"workers must be >= 1, got {self.workers}")
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
    counters: dict[str, int] = field(default_factory=dict)
    """Sums of what `counters()` reported after each batch of rollouts."""
    gain: float = 0.0
    """Mean paired gain of `action` over the blueprint's, over the worlds both saw."""
    gain_se: float = 0.0
    """Its standard error."""
    returns: dict[int, dict[A, float]] = field(default_factory=dict)
    """Per world (numbered from 0): the return of every action rolled out in it."""
    screened: int = 0
    """The first `screened` worlds chose the candidates (their estimates of the kept
    actions are biased upwards; paired gains from later worlds are not)."""


Counters = Callable[[], Mapping[str, int]]
"""Returns, and resets, the side counts a rollout function kept since the last call."""

_Task = tuple[int, tuple[A, ...]]
_Done = tuple[int, list[float], dict[str, int]]

_JOB: tuple[object, object, object, float | None, int] | None = None
"""What forked workers run: (sample_world, rollout, counters, deadline, base seed)."""


def _world_rng(base: int, k: int) -> random.Random:
    return random.Random(f"mds/{base}/{k}")


def _run_world(
    sample_world: Callable[[random.Random], W],
    rollout: Callable[[W, A, random.Random], float],
    counters: Counters | None,
    deadline: float | None,
    base: int,
    task: _Task[A],
) -> _Done:
    """World k of the search: draw it from its own RNG, then roll out the task's actions
    in order (stopping after a rollout once `deadline` passed)."""
    k, acts = task
    rng = _world_rng(base, k)
    world = sample_world(rng)
    returns: list[float] = []
    for a in acts:
        returns.append(float(rollout(world, a, rng)))
        if deadline is not None and time.perf_counter() >= deadline:
            break
    return k, returns, dict(counters()) if counters is not None else {}


def _worker(task: _Task[A]) -> _Done:
    assert _JOB is not None, "mirror-descent worker started without a job"
    sample_world, rollout, counters, deadline, base = _JOB
    # The job is stored untyped per process (a module global set by the pool initializer).
    return _run_world(sample_world, rollout, counters, deadline, base, task)  # type: ignore[arg-type]


def mirror_descent_search(
    config: MDSConfig,
    blueprint: Mapping[A, float],
    sample_world: Callable[[random.Random], W],
    rollout: Callable[[W, A, random.Random], float],
    rng: random.Random | None = None,
    counters: Counters | None = None,
) -> MDSResult[A]:
    """MDS/MMDS at one decision: `blueprint` is pi(.|s) over the legal actions.

    Every sampled world evaluates every live action (common random worlds), so q
    differences are paired; the budget is checked between rollouts (between worlds for
    the seconds budget with workers > 1). With a single legal action, or eta = 0, no
    rollout is spent. `counters`, when given, is called after every world (in the worker
    that ran it) and the sums land in `MDSResult.counters`."""
    actions: Sequence[A] = list(blueprint)
    if not actions:
        raise NoActionsError("mirror_descent_search: no legal action")
    rng = rng if rng is not None else random.Random(config.seed)
    total_p = sum(blueprint.values())
    if total_p <= 0:
        raise InvalidConfigError("the blueprint policy gives every legal action zero")
    n = len(actions)
    f = config.floor
    prior = {a: (1 - f) * blueprint[a] / total_p + f / n for a in actions}
    bp_action = max(actions, key=lambda a: prior[a])
    start = time.perf_counter()
    sums = dict.fromkeys(actions, 0.0)
    visits = dict.fromkeys(actions, 0)
    counts: dict[str, int] = {}
    table: dict[int, dict[A, float]] = {}
    """Per world: the return of every action rolled out in it."""
    live: list[A] = list(actions)
    worlds = spent = 0
    if n > 1 and config.eta > 0:
        deadline = None if config.seconds is None else start + config.seconds
        base = rng.getrandbits(62)
        with _Runner(config.workers, sample_world, rollout, counters, deadline, base) as run:
            screening = config.keep is not None and n > config.keep
            phases = [config.screen, None] if screening else [None]
            for cap in phases:
                if cap is None and screening:
                    ranked = sorted(actions, key=lambda a: sums[a] / visits[a], reverse=True)
                    live = [a for a in actions if a in ranked[: config.keep] or a == bp_action]
                tasks = _Plan(worlds, live, cap, config.rollouts, spent)
                done = run(tasks, deadline)
                for k, returns, extra in sorted(done, key=lambda d: d[0]):
                    for a, r in zip(tasks.issued[k], returns, strict=False):
                        table.setdefault(k, {})[a] = r
                        sums[a] += r
                        visits[a] += 1
                        spent += 1
                    worlds = max(worlds, k + 1)
                    for key, v in extra.items():
                        counts[key] = counts.get(key, 0) + v
                if (config.rollouts is not None and spent >= config.rollouts) or (
                    deadline is not None and time.perf_counter() >= deadline
                ):
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
        # Screened-out actions keep their (few-world) estimates in the policy, but only
        # the actions that stayed in the running may be chosen.
        action = max(live, key=lambda a: (policy[a], a == bp_action))
    # With screening, the gain is judged on the worlds after it only: the screening
    # worlds chose the candidates, so their estimates are biased upwards.
    fresh = config.screen if config.keep is not None and n > config.keep else 0
    gain, gain_se = _paired_gain(table, action, bp_action, fresh)
    if action != bp_action and (
        (config.threshold > 0 and gain <= config.threshold)
        or (config.z > 0 and not gain > config.z * gain_se)
    ):
        action = bp_action
        gain, gain_se = 0.0, 0.0
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
        counters=counts,
        gain=gain,
        gain_se=gain_se,
        returns=table,
        screened=fresh,
    )


def _paired_gain(
    table: dict[int, dict[A, float]], a: A, b: A, first: int = 0
) -> tuple[float, float]:
    """Mean and standard error of return(a) - return(b) over the worlds from `first` on
    that rolled out both (inf standard error with fewer than two such worlds)."""
    if a == b:
        return 0.0, 0.0
    diffs = [row[a] - row[b] for k, row in table.items() if k >= first and a in row and b in row]
    if not diffs:
        return 0.0, math.inf
    mean = math.fsum(diffs) / len(diffs)
    if len(diffs) < 2:
        return mean, math.inf
    var = math.fsum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return mean, math.sqrt(var / len(diffs))


class _Plan(Generic[A]):
    """The worlds of one phase, numbered from `first`: every live action per world, the
    last world cut to what the rollouts budget leaves; endless under a seconds budget.
    Remembers what it issued, so results can be matched to actions."""

    def __init__(
        self, first: int, live: list[A], cap: int | None, limit: int | None, spent: int
    ) -> None:
        self.first, self.live, self.cap = first, tuple(live), cap
        self.left = None if limit is None else limit - spent
        self.issued: dict[int, tuple[A, ...]] = {}

    def __iter__(self) -> Iterator[_Task[A]]:
        k = self.first
        left = self.left
        while (self.cap is None or k < self.first + self.cap) and (left is None or left > 0):
            acts = self.live if left is None else self.live[:left]
            if left is not None:
                left -= len(acts)
            self.issued[k] = acts
            yield k, acts
            k += 1


class _Runner(Generic[A, W]):
    """Runs a phase's worlds in this process or over a pool of forked workers (at most
    two worlds in flight per worker); stops issuing worlds once the deadline passed."""

    def __init__(
        self,
        workers: int,
        sample_world: Callable[[random.Random], W],
        rollout: Callable[[W, A, random.Random], float],
        counters: Counters | None,
        deadline: float | None,
        base: int,
    ) -> None:
        self.workers = workers
        self.job = (sample_world, rollout, counters, deadline, base)
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Callable[[_Plan[A], float | None], list[_Done]]:
        global _JOB
        if self.workers > 1:
            _JOB = self.job
            self.pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork")
            )
        return self.run

    def __exit__(self, *exc: object) -> None:
        global _JOB
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
            _JOB = None

    def run(self, plan: _Plan[A], deadline: float | None) -> list[_Done]:
        sample_world, rollout, counters, _, base = self.job
        out: list[_Done] = []
        if self.pool is None:
            for task in plan:
                out.append(_run_world(sample_world, rollout, counters, deadline, base, task))
                if deadline is not None and time.perf_counter() >= deadline:
                    break
            return out
        pending: list[Future[_Done]] = []
        tasks = iter(plan)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.workers:
                if deadline is not None and time.perf_counter() >= deadline:
                    exhausted = True
                    break
                nxt = next(tasks, None)
                if nxt is None:
                    exhausted = True
                    break
                pending.append(self.pool.submit(_worker, nxt))
            if not pending:
                return out
            out.append(pending.pop(0).result())
