"""Mirror-descent search (search/mirror_descent.py) as a specification: the update's
formula, eta = 0 is the blueprint, q-values from a deterministic blueprint rollout on a
tiny game match a hand computation, and budgets behave as documented."""

from __future__ import annotations

import math
import random

import pytest

from search.errors import InvalidConfigError, NoActionsError
from search.mirror_descent import MDSConfig, mirror_descent_search, mmd_update

# A tiny game: a hidden coin (the world) the acting player cannot see. Actions:
#   "bet":   the opponent (blueprint: always calls) pays 2 on heads, wins 2 on tails;
#   "check": the blueprint checks too; heads wins 0.5, tails loses 0.5;
#   "fold":  -1 whatever the coin.
BLUEPRINT_REPLY = {"bet": "call", "check": "check", "fold": None}
PAYOFF = {
    ("bet", "call"): (2.0, -2.0),
    ("check", "check"): (0.5, -0.5),
}


def rollout(world: str, action: str, rng: random.Random) -> float:
    """Deterministic: play `action`, then the blueprint's reply, and score it."""
    reply = BLUEPRINT_REPLY[action]
    if reply is None:
        return -1.0
    heads, tails = PAYOFF[(action, reply)]
    return heads if world == "heads" else tails


def cycling_worlds(*worlds: str):
    it = iter(worlds * 100)
    return lambda rng: next(it)


BLUEPRINT = {"bet": 0.2, "check": 0.5, "fold": 0.3}


def test_q_values_match_hand_computation_on_a_tiny_game() -> None:
    # 9 rollouts over 3 actions = 3 worlds: heads, heads, tails.
    cfg = MDSConfig(eta=3.0, rollouts=9)
    res = mirror_descent_search(cfg, BLUEPRINT, cycling_worlds("heads", "heads", "tails"), rollout)
    assert res.worlds == 3 and res.rollouts == 9
    assert res.visits == {"bet": 3, "check": 3, "fold": 3}
    assert res.q["bet"] == pytest.approx((2 + 2 - 2) / 3)
    assert res.q["check"] == pytest.approx((0.5 + 0.5 - 0.5) / 3)
    assert res.q["fold"] == pytest.approx(-1.0)
    assert res.returns == {
        0: {"bet": 2.0, "check": 0.5, "fold": -1.0},
        1: {"bet": 2.0, "check": 0.5, "fold": -1.0},
        2: {"bet": -2.0, "check": -0.5, "fold": -1.0},
    }
    assert res.screened == 0
    # pi'(a) ∝ pi(a) exp(eta q(a))
    w = {a: BLUEPRINT[a] * math.exp(3.0 * res.q[a]) for a in BLUEPRINT}
    z = sum(w.values())
    for a in BLUEPRINT:
        assert res.policy[a] == pytest.approx(w[a] / z)
    assert res.action == "bet" and res.blueprint_action == "check" and res.deviated


def test_eta_zero_returns_the_blueprint_action_without_rollouts() -> None:
    calls = []

    def counting(world: str, action: str, rng: random.Random) -> float:
        calls.append(action)
        return rollout(world, action, rng)

    cfg = MDSConfig(eta=0.0, rollouts=50)
    res = mirror_descent_search(cfg, BLUEPRINT, cycling_worlds("heads"), counting)
    assert res.action == "check" == res.blueprint_action
    assert res.policy == pytest.approx({"bet": 0.2, "check": 0.5, "fold": 0.3})
    assert not calls and res.rollouts == 0


def test_deterministic_blueprint_needs_a_floor_to_move() -> None:
    onehot = {"bet": 0.0, "check": 1.0, "fold": 0.0}
    worlds = cycling_worlds("heads")
    stuck = mirror_descent_search(MDSConfig(eta=5.0, rollouts=30), onehot, worlds, rollout)
    assert stuck.action == "check"
    moved = mirror_descent_search(
        MDSConfig(eta=5.0, rollouts=30, floor=0.3), onehot, cycling_worlds("heads"), rollout
    )
    assert moved.action == "bet"


def test_threshold_keeps_the_blueprint_unless_the_gain_is_large() -> None:
    worlds = ("heads", "heads", "tails")
    cfg = MDSConfig(eta=3.0, rollouts=9, threshold=1.0)  # gain of bet over check: 0.5
    res = mirror_descent_search(cfg, BLUEPRINT, cycling_worlds(*worlds), rollout)
    assert res.action == "check" and not res.deviated
    cfg = MDSConfig(eta=3.0, rollouts=9, threshold=0.4)
    res = mirror_descent_search(cfg, BLUEPRINT, cycling_worlds(*worlds), rollout)
    assert res.action == "bet"


def test_mmds_formula_and_magnets() -> None:
    prior = {"a": 0.7, "b": 0.3}
    q = {"a": 0.0, "b": 1.0}
    eta, alpha = 2.0, 0.5
    got = mmd_update(prior, q, eta, alpha)  # uniform magnet
    logit = {
        k: (math.log(prior[k]) + eta * q[k] + eta * alpha * math.log(0.5)) / (1 + eta * alpha)
        for k in prior
    }
    z = sum(math.exp(v) for v in logit.values())
    assert got == pytest.approx({k: math.exp(v) / z for k, v in logit.items()})
    # Magnet = the prior itself: a fixed point when q is flat.
    assert mmd_update(prior, {"a": 0.0, "b": 0.0}, eta, alpha, prior) == pytest.approx(prior)
    # A huge alpha pulls everything to the magnet.
    assert mmd_update(prior, q, 1.0, 1e6) == pytest.approx({"a": 0.5, "b": 0.5}, abs=1e-4)


def test_mmds_search_reports_the_magnetic_policy() -> None:
    cfg = MDSConfig(eta=1.0, alpha=1.0, magnet="blueprint", rollouts=9)
    res = mirror_descent_search(cfg, BLUEPRINT, cycling_worlds("heads", "heads", "tails"), rollout)
    assert res.policy == pytest.approx(mmd_update(res.prior, res.q, 1.0, 1.0, res.prior))


def test_budgets_zero_or_missing_are_clear_errors() -> None:
    with pytest.raises(InvalidConfigError, match="rollouts must be >= 1"):
        MDSConfig(rollouts=0)
    with pytest.raises(InvalidConfigError, match="seconds must be > 0"):
        MDSConfig(rollouts=None, seconds=0.0)
    with pytest.raises(InvalidConfigError, match="rollouts or seconds"):
        MDSConfig(rollouts=None, seconds=None)
    with pytest.raises(InvalidConfigError, match="eta"):
        MDSConfig(eta=-1.0)
    with pytest.raises(NoActionsError):
        mirror_descent_search(MDSConfig(), {}, cycling_worlds("heads"), rollout)


def test_seconds_budget_stops_and_single_action_spends_nothing() -> None:
    cfg = MDSConfig(rollouts=None, seconds=0.01)
    res = mirror_descent_search(cfg, BLUEPRINT, lambda rng: rng.choice(["heads", "tails"]), rollout)
    assert res.rollouts >= 1
    one = mirror_descent_search(MDSConfig(rollouts=10), {"fold": 1.0}, cycling_worlds("x"), rollout)
    assert one.action == "fold" and one.rollouts == 0


def test_partial_world_gives_unvisited_actions_the_blueprint_estimate() -> None:
    cfg = MDSConfig(eta=1.0, rollouts=4)  # second world covers only "bet"
    res = mirror_descent_search(cfg, BLUEPRINT, cycling_worlds("heads", "tails"), rollout)
    assert res.visits == {"bet": 2, "check": 1, "fold": 1}
    assert res.q["bet"] == pytest.approx(0.0)


def test_screening_spends_the_budget_on_the_best_actions() -> None:
    cfg = MDSConfig(eta=3.0, rollouts=3 * 2 + 2 * 4, keep=1, screen=2)
    worlds = cycling_worlds("heads", "heads", "tails", "heads", "heads", "heads")
    res = mirror_descent_search(cfg, BLUEPRINT, worlds, rollout)
    # Two worlds of all 3 actions, then only the best ("bet") and the blueprint's ("check").
    assert res.visits == {"bet": 6, "check": 6, "fold": 2}
    assert res.q["fold"] == pytest.approx(-1.0)
    assert res.q["bet"] == pytest.approx((2 + 2 - 2 + 2 + 2 + 2) / 6)
    assert res.screened == 2 and sorted(res.returns) == list(range(6))
    assert all(set(res.returns[k]) == {"bet", "check"} for k in range(2, 6))  # after screening
    with pytest.raises(InvalidConfigError, match="keep"):
        MDSConfig(keep=0)


def test_one_mmds_step_ranks_actions_like_mds() -> None:
    prior = {"a": 0.6, "b": 0.3, "c": 0.1}
    q = {"a": 0.0, "b": 0.9, "c": 2.5}
    eta, alpha = 2.0, 0.7
    mds = mmd_update(prior, q, eta)
    uniform = mmd_update(prior, q, eta, alpha)
    assert sorted(uniform, key=uniform.__getitem__) == sorted(mds, key=mds.__getitem__)
    assert max(uniform.values()) < max(mds.values())  # flatter
    pulled = mmd_update(prior, q, eta, alpha, prior)
    assert pulled == pytest.approx(mmd_update(prior, q, eta / (1 + eta * alpha)))


def noisy_rollout(world: str, action: str, rng: random.Random) -> float:
    """Random returns (drawn from the world's RNG), so q depends on every draw."""
    NOISY_CALLS["n"] += 1
    return rollout(world, action, rng) + rng.gauss(0.0, 1.0)


NOISY_CALLS = {"n": 0}


def drain() -> dict[str, int]:
    n, NOISY_CALLS["n"] = NOISY_CALLS["n"], 0
    return {"rollouts": n}


@pytest.mark.parametrize("keep", [None, 2])
def test_two_workers_give_the_q_values_of_one(keep: int | None) -> None:
    def worlds(rng: random.Random) -> str:
        return rng.choice(["heads", "tails"])

    results = []
    for workers in (1, 2):
        cfg = MDSConfig(eta=1.0, rollouts=47, keep=keep, screen=3, workers=workers)
        res = mirror_descent_search(
            cfg, BLUEPRINT, worlds, noisy_rollout, random.Random(7), counters=drain
        )
        results.append(res)
    one, two = results
    assert one.q == two.q and one.visits == two.visits and one.policy == two.policy
    assert one.rollouts == two.rollouts == 47 and one.worlds == two.worlds
    # Side counts kept in the (forked) workers come back to the caller.
    assert one.counters == two.counters == {"rollouts": 47}
    # A different seed gives different estimates: the test can tell runs apart.
    other = mirror_descent_search(
        MDSConfig(eta=1.0, rollouts=47, keep=keep, screen=3, workers=2),
        BLUEPRINT,
        worlds,
        noisy_rollout,
        random.Random(8),
    )
    assert other.q != one.q


def test_workers_with_a_seconds_budget_and_bad_worker_counts() -> None:
    cfg = MDSConfig(rollouts=None, seconds=0.2, workers=2)
    res = mirror_descent_search(cfg, BLUEPRINT, lambda rng: "heads", rollout)
    assert res.rollouts >= 3 and res.action == "bet"
    with pytest.raises(InvalidConfigError, match="workers"):
        MDSConfig(workers=0)


def test_z_gate_needs_a_gain_of_z_standard_errors() -> None:
    # Paired gains of bet over check per world: +1.5, +1.5, -1.5 -> mean 0.5, SE 1.0.
    worlds = ("heads", "heads", "tails")
    loose = MDSConfig(eta=3.0, rollouts=9, z=0.4)
    res = mirror_descent_search(loose, BLUEPRINT, cycling_worlds(*worlds), rollout)
    assert res.action == "bet"
    assert res.gain == pytest.approx(0.5) and res.gain_se == pytest.approx(1.0)
    strict = MDSConfig(eta=3.0, rollouts=9, z=1.0)
    res = mirror_descent_search(strict, BLUEPRINT, cycling_worlds(*worlds), rollout)
    assert res.action == "check" and not res.deviated
    with pytest.raises(InvalidConfigError, match="z must be"):
        MDSConfig(z=-1.0)


def test_screened_out_actions_cannot_be_chosen() -> None:
    # "early" looks good in the two screening worlds but ranks below "fade", which is
    # kept and then fades; "hold" is the blueprint's action.
    values = {"fade": [3.0, 3.0] + [0.0] * 10, "early": [2.9, 2.9], "hold": [0.5] * 12}

    def by_world(world: int, action: str, rng: random.Random) -> float:
        return values[action][world]

    counter = iter(range(100))
    cfg = MDSConfig(eta=5.0, rollouts=3 * 2 + 2 * 10, keep=1, screen=2)
    res = mirror_descent_search(
        cfg, {"fade": 0.2, "early": 0.2, "hold": 0.6}, lambda rng: next(counter), by_world
    )
    assert res.visits == {"fade": 12, "early": 2, "hold": 12}
    assert max(res.policy, key=res.policy.__getitem__) == "early"  # by its 2-world estimate
    assert res.action == "hold"  # but only fade and hold stayed in the running


def test_the_gain_is_judged_on_the_worlds_after_screening() -> None:
    # "fade" wins the two screening worlds by a lot, then is only 0.1 better than "hold":
    # over all worlds its gain is 0.5, over the fresh worlds 0.1.
    values = {"fade": [3.0, 3.0] + [0.6] * 10, "early": [0.0, 0.0], "hold": [0.5] * 12}

    def by_world(world: int, action: str, rng: random.Random) -> float:
        return values[action][world]

    prior = {"fade": 0.2, "early": 0.2, "hold": 0.6}
    for threshold, expected in ((0.3, "hold"), (0.05, "fade")):
        cfg = MDSConfig(eta=50.0, rollouts=26, keep=1, screen=2, threshold=threshold)
        res = mirror_descent_search(cfg, prior, cycling_worlds(*range(12)), by_world)
        assert res.q["fade"] - res.q["hold"] == pytest.approx(0.5)
        assert res.action == expected
    assert res.gain == pytest.approx(0.1)


def test_eta_infinity_is_the_limit_of_the_update_and_ignores_the_prior() -> None:
    """Policy iteration (SPARTA's step) is what mmd_update tends to as eta grows, with and
    without a magnet; it moves even a one-hot blueprint, which no finite eta does."""
    prior = {"a": 0.98, "b": 0.01, "c": 0.01}
    q = {"a": 0.2, "b": 0.9, "c": 0.5}
    greedy = mmd_update(prior, q, math.inf)
    assert greedy == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert mmd_update(prior, q, 1e4) == pytest.approx(greedy, abs=1e-9)
    tie = mmd_update(prior, {"a": 1.0, "b": 1.0, "c": 0.0}, math.inf)
    assert tie == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})
    for magnet in (None, {"a": 0.5, "b": 0.2, "c": 0.3}):
        limit = mmd_update(prior, q, math.inf, 0.4, magnet)
        assert mmd_update(prior, q, 1e7, 0.4, magnet) == pytest.approx(limit, abs=1e-5)
    onehot = {"bet": 0.0, "check": 1.0, "fold": 0.0}
    res = mirror_descent_search(
        MDSConfig(eta=math.inf, rollouts=9), onehot, cycling_worlds("heads"), rollout
    )
    assert res.action == "bet" and res.policy["bet"] == 1.0 and res.deviated


def test_policy_iteration_deviates_only_past_the_threshold() -> None:
    """SPARTA's rule: argmax q, but the blueprint's action unless the paired gain of the
    argmax over it exceeds the threshold (here bet - check = 0.5 over heads, heads, tails)."""
    worlds = ("heads", "heads", "tails")
    onehot = {"bet": 0.0, "check": 1.0, "fold": 0.0}
    for threshold, expected in ((0.6, "check"), (0.4, "bet")):
        cfg = MDSConfig(eta=math.inf, rollouts=9, threshold=threshold)
        res = mirror_descent_search(cfg, onehot, cycling_worlds(*worlds), rollout)
        assert res.action == expected
        assert res.gain == pytest.approx(0.5 if expected == "bet" else 0.0)
