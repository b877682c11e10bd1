"""The equal-budget comparison of linear and SWE-Search (benchmarks/swe_search_budget.py):
the restart rules, the final-patch rules, the call cap of both agents, the graded judge."""

from __future__ import annotations

import json
import re

import pytest

from agents.graphs.swe_search import pick_candidate
from agents.swe.prompts import judge_messages
from benchmarks.swe_bench import load_dataset
from benchmarks.swe_bench.noisy_oracle import (
    GoldScript,
    NoisyOracleConfig,
    NoisySweOracle,
    parse_oracle_spec,
)
from benchmarks.swe_bench.solve import run_swe_bench
from benchmarks.swe_search_budget import Attempt, best_of, budget_sweep, retry
from benchmarks.tasks import SolveOptions
from foundation.errors import ConfigError

IID = "tkem__cachetools-1"
MULTI = "tkem__cachetools-2"  # one file, four hunks
INSTANCES = load_dataset("swe-mini")
BY_ID = {i["instance_id"]: i for i in INSTANCES}


def A(calls: int, patch: str = "", resolved: bool = False, tokens: int = 100) -> Attempt:
    return Attempt(calls, tokens, patch, resolved, seconds=calls / 2)


# ------------------------------------------------------------------ restart rules


def test_retry_stops_at_the_first_non_empty_patch_within_the_budget():
    attempts = [A(3), A(4), A(5, "p", True), A(2, "q", False)]
    pick = retry(attempts, lambda calls, tokens: calls <= 12)
    assert (pick.resolved, pick.calls, pick.patch, pick.seconds) == (True, 12, "p", 6.0)
    # the third attempt does not fit in 10 calls: nothing was found
    pick = retry(attempts, lambda calls, tokens: calls <= 10)
    assert (pick.resolved, pick.calls, pick.patch) == (False, 7, "")
    # a token budget works the same way
    assert retry(attempts, lambda calls, tokens: tokens <= 200).calls == 7


def test_best_of_keeps_a_call_for_the_discriminator_and_picks_among_non_empty_patches():
    attempts = [A(3, "bad"), A(4), A(3, "good", True), A(5, "late", True)]
    seen: list[list[str]] = []

    def choose(patches: list[str]) -> int:
        seen.append(patches)
        return patches.index("good")

    pick, cands = best_of(attempts, 11, choose)  # 3 + 4 + 3 = 10 fit in 11 - 1
    assert cands == ["bad", "good"] and seen == [["bad", "good"]]
    assert (pick.resolved, pick.calls, pick.patch) == (True, 11, "good")
    assert pick.seconds == 5.0  # the three attempts that ran
    # one candidate: no discriminator call
    pick, cands = best_of(attempts, 8, choose)
    assert cands == ["bad"] and pick.calls == 7 and not pick.resolved


def test_final_patch_rules_on_the_same_candidates():
    cands = [
        {"sid": 1, "value": 0.2, "visits": 5, "patch": "a"},
        {"sid": 2, "value": 0.6, "visits": 1, "patch": "b"},
        {"sid": 3, "value": 0.6, "visits": 2, "patch": "c"},
    ]
    assert pick_candidate(cands, "value")["patch"] == "c"  # best value, ties to visits
    assert pick_candidate(cands, "visits")["patch"] == "a"
    with pytest.raises(ValueError, match="unknown selection rule"):
        pick_candidate(cands, "coin")


# --------------------------------------------------------------------- graded judge


def test_graded_judge_measures_progress_toward_the_gold_patch():
    script = GoldScript.build(BY_ID[MULTI])
    gold = str(BY_ID[MULTI]["patch"])
    nothing = script.progress("", set())
    read = script.progress("", set(script.files))
    assert nothing == 0.0 < read < 1.0 and script.progress(gold, set()) == 1.0
    # the gold patch minus its last hunk: more than reading, less than done
    cut = gold[: gold.rindex("\n@@")] + "\n"
    partial = script.progress(cut, set(script.files))
    assert read < partial < 1.0
    # a line no gold hunk has costs a unit (here it also undoes one gold line)
    wrong = re.sub(r"\n\+(?!\+\+)", "\n+# a wrong edit ", cut, count=1)
    assert wrong != cut
    assert script.progress(wrong, set(script.files)) < partial


def test_graded_values_in_the_judge_answer_and_the_spec():
    cfg = parse_oracle_spec("oracle:swe,p=0.5,q=0,seed=3,judge=graded")
    assert cfg.judge == "graded" and cfg.spec == "oracle:swe,p=0.5,q=0,seed=3,judge=graded"
    assert NoisyOracleConfig(0.5).spec == "oracle:swe,p=0.5,q=0,seed=0"  # binary: unchanged
    with pytest.raises(ConfigError, match="judge=coin"):
        NoisyOracleConfig(judge="coin")
    inst = BY_ID[MULTI]
    path = GoldScript.build(inst).files[0]
    read = [{"action": {"tool": "view_file", "args": {"path": path}},
             "observation": {"text": "...", "ok": True}}]  # fmt: skip
    graded = NoisySweOracle(cfg, INSTANCES)
    binary = NoisySweOracle(NoisyOracleConfig(0.5, 0.0, 3), INSTANCES)
    values = {}
    for name, steps, diff in (("none", [], ""), ("read", read, ""),
                              ("gold", read, str(inst["patch"]))):  # fmt: skip
        messages = judge_messages(inst, steps, diff)
        values[name] = json.loads(graded.answer(messages))["value"]
        assert json.loads(binary.answer(messages))["value"] == (80 if name == "gold" else -80)
    assert values["none"] == -80 < values["read"] < 0 < values["gold"] == 80
    flipped = NoisySweOracle(NoisyOracleConfig(0.5, 1.0, 3, "graded"), INSTANCES)
    assert json.loads(flipped.answer(judge_messages(inst, read, "")))["value"] == -values["read"]


# ----------------------------------------------------------------------- call cap


@pytest.mark.parametrize(("search", "cap"), [("linear", 2), ("mcts", 5)])
def test_max_calls_caps_both_agents(tmp_path, search, cap):
    opts = SolveOptions(
        model="oracle:swe,p=1,q=0,seed=0", instances=(IID,), search=search, sandbox="local",
        max_calls=cap, max_iterations=20, output=tmp_path,
    )  # fmt: skip
    run_swe_bench(opts)
    row = json.loads((tmp_path / "solve.jsonl").read_text().splitlines()[0])
    assert row["tokens"] > 0
    if search == "linear":  # view, edit: the cap ends it before finish
        assert row["llm_calls"] == cap and row["status"] == "max calls" and row["steps"] == 2
        assert row["model_patch"].strip()  # its diff so far is the patch
    else:  # stops at the first simulation boundary at or past the cap
        assert cap <= row["llm_calls"] <= cap + 4
        traj = json.loads((tmp_path / "trajectories" / f"{IID}.json").read_text())
        assert "candidates" in traj


def test_budget_sweep_end_to_end_on_one_instance(tmp_path):
    opts = SolveOptions(instances=(IID,), sandbox="local")
    found = budget_sweep(opts, tmp_path, ps=(1.0,), seeds=(0,), q=0.0, budgets=(8,), attempts=3)
    by = {r["rule"]: r for r in found["rows"]}
    assert set(by) >= {"linear", "mcts@8 value", "mcts@8 visits", "mcts@8 discriminator",
                       "linear-retry@8", "linear-best@8", "linear-retry@tokens8"}  # fmt: skip
    assert by["linear"]["resolved"]["wins"] == 1 and by["linear"]["calls"] == 3
    assert 0 < by["linear"]["seconds"] < by["linear-best@8"]["seconds"]
    assert by["linear-retry@8"]["resolved"]["wins"] == 1
    # attempts run while the instance has budget left: 3 calls each, 8 calls -> 3 attempts
    assert sorted(p.name for p in (tmp_path / "p1" / "s0" / "linear").iterdir()) == [
        "a0", "a1", "a2",
    ]  # fmt: skip
    assert by["linear-best@8"]["calls"] == 7  # two attempts fit in 8 - 1, plus the pick
    assert 8 <= by["mcts@8 value"]["calls"] <= 12
    assert {d["versus"] for d in found["diffs"]} == {
        "linear-retry@8", "linear-best@8", "linear-retry@tokens8",
    }  # fmt: skip
    md = (tmp_path / "budget.md").read_text()
    assert "| 1 | linear-best@8 | 1/1 = 1.00 [" in md
    assert (tmp_path / "budget.png").stat().st_size > 0
    assert json.loads((tmp_path / "budget.json").read_text())["per_instance"]


def test_solve_refuses_max_calls_for_other_tasks():
    from agents.commands.solve import SolveSettings
    from foundation.errors import UserError

    assert SolveSettings(task="swe-bench", max_calls=3).options().max_calls == 3
    with pytest.raises(UserError, match="--max-calls does not apply to --task game24"):
        SolveSettings(task="game24", max_calls=3)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"budgets": "12,0"}, "'0' is not a whole number >= 1"),
        ({"budgets": "12", "seeds": "0,x"}, "'x' is not a whole number >= 0"),
        ({"budgets": "12", "sweep": "0.5,1.5"}, "p='1.5' must be a number within 0..1"),
        ({"budgets": "12", "judge": "coin"}, "judge"),
        ({"budgets": "12", "model": "openai:gpt-4o"}, "--model does not apply"),
    ],
)
def test_bench_swe_search_refuses_bad_sweep_options(given, message):
    from agents.commands.bench_swe_search import BenchSweSearchSettings
    from foundation.errors import UserError

    assert BenchSweSearchSettings(budgets="12,24", seeds="0,1").budgets == "12,24"
    with pytest.raises(UserError, match=message):
        BenchSweSearchSettings(**given)
