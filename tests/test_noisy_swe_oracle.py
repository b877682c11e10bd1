"""The noisy SWE-bench oracle (benchmarks/swe_bench/noisy_oracle.py): p, q, determinism,
its state tracking through the agents' truncated prompts, and whole runs of both agents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.llm import LLMError, ModelSpecError
from agents.swe.actions import Action, parse_action
from agents.swe.env import run_async
from agents.swe.prompts import RECENT, action_messages, judge_messages
from benchmarks.swe_bench import load_dataset
from benchmarks.swe_bench.noisy_oracle import (
    GOLD,
    GoldScript,
    NoisyOracleConfig,
    NoisySweOracle,
    _base_text,
    _snapshot,
    oracle_for_spec,
    parse_oracle_spec,
    parse_patch,
)
from benchmarks.swe_bench.solve import run_swe_bench
from benchmarks.tasks import SolveOptions

IID = "tkem__cachetools-1"  # the fastest to run and grade
MULTI = "pytoolz__toolz-2"  # two files, three hunks
INSTANCES = load_dataset("swe-mini")
BY_ID = {i["instance_id"]: i for i in INSTANCES}


def oracle(p: float = 1.0, q: float = 0.0, seed: int = 0) -> NoisySweOracle:
    return NoisySweOracle(NoisyOracleConfig(p, q, seed), INSTANCES)


# ------------------------------------------------------------ a simulated repository


def base_files(inst: dict[str, Any]) -> dict[str, str]:
    """The repository at base_commit (the bundled snapshot minus the gold patch)."""
    files = dict(_snapshot(inst))
    for fp in parse_patch(inst["patch"]):
        base = _base_text(files[fp.path], fp)
        assert base is not None
        files[fp.path] = base
    return files


def run_tool(files: dict[str, str], action: Action) -> dict[str, Any]:
    """What RepoTools would observe (view, str_replace, finish), on `files` in memory."""
    path = str(action.arg("path", ""))
    if action.tool == "str_replace":
        old, new = str(action.arg("old")), str(action.arg("new"))
        n = files.get(path, "").count(old)
        if n != 1:
            return {"text": f"error: old text occurs {n} times in {path}", "ok": False}
        files[path] = files[path].replace(old, new, 1)
        return {"text": f"replaced {len(old.splitlines())} line(s) of {path}", "ok": True}
    if action.tool == "view_file":
        if path not in files:
            return {"text": f"error: no such file {path}", "ok": False}
        return {"text": f"{path} lines {action.arg('start', 1)}-...", "ok": True}
    return {"text": f"{action.tool} ran", "ok": True}


def true_state(script: GoldScript, files: dict[str, str]) -> str:
    """Which form (O G N B) each gold region has in the files."""
    return "".join(
        next(k for k, text in r.texts.items() if text in files[r.path]) for r in script.regions
    )


def walk(llm: NoisySweOracle, iid: str, steps_n: int, index: int = 0) -> list[dict[str, Any]]:
    """The oracle acting on the simulated repository for `steps_n` steps (finish included:
    the walk goes on), each answer asked with the agent's real action prompt."""
    inst, files = BY_ID[iid], base_files(BY_ID[iid])
    script = llm.script(iid)
    steps: list[dict[str, Any]] = []
    for _ in range(steps_n):
        messages = action_messages(inst, steps)
        assert llm.state_of(script, messages).regions == true_state(script, files)
        text = llm.answer(messages, index)
        action = parse_action(text)
        obs = run_tool(files, action)
        steps.append({"answer": text, "action": action.to_dict(), "observation": obs})
    return steps


def is_gold_edit(script: GoldScript, action: Action) -> bool:
    return any(
        r.path == action.arg("path") and GOLD in r.texts
        and (action.arg("new") == r.texts[GOLD] or action.arg("content") == r.texts[GOLD])
        for r in script.regions
    )  # fmt: skip


# ----------------------------------------------------------------------- the tests


def test_the_spec_is_parsed_like_other_specs_with_options():
    assert parse_oracle_spec("oracle:swe,p=0.7,q=0.1,seed=3") == NoisyOracleConfig(0.7, 0.1, 3)
    assert parse_oracle_spec("oracle:swe") == NoisyOracleConfig()
    assert oracle_for_spec("local:smollm2") is None
    made = oracle_for_spec("oracle:swe,p=0.5", INSTANCES)
    assert made is not None and made.name == "oracle:swe,p=0.5,q=0,seed=0"
    for bad, why in [("oracle:swe,p=1.5", "within 0..1"), ("oracle:swe,x=1", "valid: p, q, seed")]:
        with pytest.raises(ModelSpecError, match=why):
            parse_oracle_spec(bad)


def test_every_gold_edit_reads_back_and_every_hunk_is_unique_where_it_is_replaced():
    for inst in INSTANCES:
        script = GoldScript.build(inst)
        files, fixed = base_files(inst), _snapshot(inst)
        for r in script.regions:
            assert (
                files[r.path].count(r.texts["O"]) == 1 and fixed[r.path].count(r.texts[GOLD]) == 1
            )
            assert len(set(r.texts.values())) == len(r.texts)  # four different forms
        assert script.fixed(inst["patch"]) and not script.fixed("")


def test_same_inputs_same_answers_and_another_seed_answers_differently():
    steps = walk(oracle(p=0.5), MULTI, 8)
    again = walk(oracle(p=0.5), MULTI, 8)  # a new model object: nothing kept between them
    assert [s["answer"] for s in steps] == [s["answer"] for s in again]
    messages = action_messages(BY_ID[MULTI], steps[:3])
    answers = [oracle(p=0.5, seed=0).answer(messages, i) for i in range(20)]
    assert answers == [oracle(p=0.5, seed=0).answer(messages, i) for i in range(20)]
    assert answers != [oracle(p=0.5, seed=1).answer(messages, i) for i in range(20)]
    # n samples in one call draw independently, and as the same indices asked one by one
    texts = [c.text for c in run_async(oracle(p=0.5).complete(messages, n=20))]
    assert texts == answers and len(set(texts)) > 1
    # a resample at a higher temperature draws anew
    assert any(
        oracle(p=0.5).answer(messages, i, 0.0) != oracle(p=0.5).answer(messages, i, 0.8)
        for i in range(10)
    )
    # asked again with the same prompt (SWE-Search's expansions): greedy at temperature 0,
    # new samples at 0.7, the same sequence of them in a new process
    llm, fresh = oracle(p=0.5), oracle(p=0.5)

    def ask(model: NoisySweOracle, temperature: float) -> str:
        return run_async(model.complete(messages, temperature=temperature))[0].text

    assert len({ask(llm, 0.0) for _ in range(6)}) == 1
    sampled = [ask(llm, 0.7) for _ in range(6)]
    assert len(set(sampled)) > 1 and sampled == [ask(fresh, 0.7) for _ in range(6)]


def test_the_state_is_tracked_past_the_steps_the_prompt_shows_in_full():
    llm = oracle(p=0.4, seed=5)
    for iid in (MULTI, "tkem__cachetools-2", IID):
        for index in range(3):
            steps = walk(llm, iid, RECENT + 8, index)  # walk() checks the state each step
            messages = action_messages(BY_ID[iid], steps)
            assert messages[7]["content"].startswith("Earlier steps:")  # truncated prompt
            assert llm.steps_so_far(messages) == len(steps)


def test_p1_proposes_only_correct_actions():
    llm = oracle(p=1.0)
    for inst in INSTANCES:
        script = llm.script(inst["instance_id"])
        steps = walk(llm, inst["instance_id"], 8)
        plan: list[Action] = []
        state = script.initial()
        while not plan or plan[-1].tool != "finish":
            plan.append(script.correct(state))
            state = script.after(state, plan[-1])
        got = [Action.from_dict(s["action"]) for s in steps[: len(plan)]]
        assert got == plan, inst["instance_id"]
        assert [a.tool for a in plan][:1] == ["view_file"] and plan[-1].tool == "finish"


def test_p0_never_proposes_the_gold_edit():
    llm = oracle(p=0.0, seed=2)
    for inst in INSTANCES:
        script = llm.script(inst["instance_id"])
        for index in range(2):
            for s in walk(llm, inst["instance_id"], 10, index):
                assert not is_gold_edit(script, Action.from_dict(s["action"]))


def test_the_share_of_correct_proposals_at_p_half_is_binomial():
    llm = oracle(p=0.5, seed=7)
    draws = []
    for iid in (IID, MULTI, "r1chardj0n3s__parse-1", "tartley__colorama-1"):
        start = action_messages(BY_ID[iid], [])
        later = action_messages(BY_ID[iid], walk(oracle(p=1.0), iid, 1))
        draws += [llm.propose(m, i)[1] for m in (start, later) for i in range(50)]
    n, share = len(draws), sum(draws) / len(draws)
    assert n == 400 and abs(share - 0.5) < 4 * (0.25 / n) ** 0.5  # 4 sigma: 0.4..0.6


def test_values_come_from_the_real_diff_flipped_with_probability_q(tmp_path):
    from agents.swe.tools import RepoTools
    from benchmarks.swe_bench import RunConfig, open_instance

    inst = BY_ID[IID]
    script = GoldScript.build(inst)
    diffs = {}
    with open_instance(inst, RunConfig(sandbox="local")) as sb:
        tools = RepoTools(sb)
        diffs["none"] = tools.diff()
        assert tools.run(script.edit(0, "O", "N")).ok
        diffs["nofix"] = tools.diff()
        assert tools.run(script.edit(0, "N", GOLD)).ok
        diffs["gold"] = tools.diff()
        assert tools.run(script.edit(0, GOLD, "B")).ok
        diffs["broken"] = tools.diff()
    truth = {"none": False, "nofix": False, "gold": True, "broken": False}
    for name, diff in diffs.items():
        messages = judge_messages(inst, [], diff)
        for q, flipped in ((0.0, False), (1.0, True)):
            for i in range(5):
                said, real = oracle(q=q, seed=i).value(messages)
                assert real == truth[name] and said == (truth[name] != flipped), (name, q)
        answer = json.loads(oracle(q=0.0).answer(messages))
        assert answer["value"] == (80 if truth[name] else -80)
    # a discriminator's pick among final patches, with the same q
    patches = [diffs["broken"], diffs["gold"], diffs["nofix"]]
    assert oracle(q=0.0).choose_patch(IID, patches) == 1
    assert oracle(q=1.0).choose_patch(IID, patches) != 1


def test_prompts_it_does_not_know_are_errors():
    with pytest.raises(LLMError, match="not an action or value prompt"):
        oracle().answer([{"role": "user", "content": "hello"}])
    other = {**BY_ID[IID], "problem_statement": "Something no instance says."}
    with pytest.raises(LLMError, match="no issue of a known instance"):
        oracle().answer(action_messages(other, []))


@pytest.mark.parametrize(("search", "p", "resolved"), [
    ("linear", 1.0, True), ("mcts", 1.0, True), ("linear", 0.0, False),
])  # fmt: skip
def test_agents_solve_runs_the_spec_end_to_end(tmp_path, search, p, resolved):
    opts = SolveOptions(
        model=f"oracle:swe,p={p},q=0,seed=0", instances=(IID,), search=search,
        sandbox="local", output=tmp_path / search,
    )  # fmt: skip
    summary = run_swe_bench(opts)  # no model object: the spec is resolved by the run
    out = Path(summary["output"])
    report = json.loads((out / "report.json").read_text())
    assert report["resolved_ids"] == ([IID] if resolved else [])
    traj = json.loads((out / "trajectories" / f"{IID}.json").read_text())
    if p == 1.0:
        assert [s["action"]["tool"] for s in traj["steps"]] == [
            "view_file",
            "str_replace",
            "finish",
        ]


def test_the_sweep_runs_both_arms_per_p_and_seed_and_reports_intervals(tmp_path):
    from benchmarks.swe_search import sweep

    opts = SolveOptions(instances=(IID,), sandbox="local")
    found = sweep(opts, tmp_path, ps=(0.0, 1.0), seeds=(0,), q=0.0,
                  iterations={"linear": 4, "mcts": 2})  # fmt: skip
    by = {(r["p"], r["search"]): r for r in found["rows"]}
    assert set(by) == {(p, arm) for p in (0.0, 1.0) for arm in ("linear", "mcts")}
    assert by[(1.0, "linear")]["resolved"]["wins"] == 1
    assert by[(0.0, "linear")]["resolved"]["wins"] == 0
    assert by[(1.0, "mcts")]["resolved"]["rate"] == 1.0
    r = by[(1.0, "linear")]
    assert r["resolved"]["low"] < 1.0 and r["llm_calls_per_instance"] >= 3
    assert r["tokens_per_instance"] > 0
    table = (tmp_path / "sweep.md").read_text()
    assert "| 1 | linear | 1/1 = 1.00 [" in table and (tmp_path / "sweep.png").stat().st_size > 0
    assert (tmp_path / "p1" / "s0" / "mcts" / "report.json").is_file()
