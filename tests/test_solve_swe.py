"""`agents solve --task swe-bench` end to end: real sandboxes, the real harness, scripted models."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from sandbox_helpers import DOCKER
from swe_plans import BROKEN_PLAN, CORRECT_PLAN, IID, PlanLLM

from agents.llm import ScriptedLLM
from agents.swe.task import run_swe_bench
from benchmarks.tasks import SolveOptions, get_task


def options(tmp_path: Path, search: str, **kw) -> SolveOptions:
    return SolveOptions(
        model="scripted:plan.json", instances=(IID,), search=search, sandbox="local",
        output=tmp_path / search, **kw,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("search", "sandbox"),
    [("linear", "local"), ("mcts", "local"), pytest.param("linear", "docker", marks=DOCKER.marks)],
)
def test_a_correct_plan_resolves_the_instance_through_both_graphs(tmp_path, search, sandbox):
    opts = replace(options(tmp_path, search), sandbox=sandbox)
    summary = run_swe_bench(opts, llm=PlanLLM("correct"))
    out = Path(summary["output"])
    report = json.loads((out / "report.json").read_text())
    assert report["resolved_ids"] == [IID]
    pred = json.loads((out / "predictions.jsonl").read_text())
    assert set(pred) == {"instance_id", "model_name_or_path", "model_patch"}
    traj = json.loads((out / "trajectories" / f"{IID}.json").read_text())
    assert [s["action"]["tool"] for s in traj["steps"]][-2:] == ["run_tests", "finish"]
    usage = json.loads((out / "usage.json").read_text())
    assert usage["agent_llm_calls"] >= 3 and usage["instances"] == 1
    if search == "mcts":
        tree = json.loads((out / "trees" / f"{IID}.json").read_text())
        assert tree["visits"] >= 3 and tree["children"]
        assert "<details" in (out / "trees" / f"{IID}.html").read_text()


def test_search_recovers_from_a_bad_first_try_the_linear_agent_does_not(tmp_path):
    linear = run_swe_bench(options(tmp_path, "linear"), llm=PlanLLM("broken"))
    mcts = run_swe_bench(options(tmp_path, "mcts"), llm=PlanLLM("broken"))
    lin_report = json.loads((Path(linear["output"]) / "report.json").read_text())
    mcts_report = json.loads((Path(mcts["output"]) / "report.json").read_text())
    assert lin_report["unresolved_ids"] == [IID]
    assert mcts_report["resolved_ids"] == [IID]
    lin_patch = json.loads((Path(linear["output"]) / "predictions.jsonl").read_text())
    assert "return None" in lin_patch["model_patch"]
    # The tree holds the broken first branch, judged low, next to the fix.
    tree = json.loads((Path(mcts["output"]) / "trees" / f"{IID}.json").read_text())

    def nodes(n):
        yield n
        for c in n.get("children", []):
            yield from nodes(c)

    edits = [c for c in nodes(tree) if c["action"].startswith("str_replace")]
    values = sorted(c["judge"]["value"] for c in edits)
    assert len(edits) == 2 and values[0] < 0 < values[1]


def test_unparsable_answers_end_the_instance_with_its_trajectory_kept(tmp_path):
    llm = ScriptedLLM(["I think", "maybe the cache", "ACTION: open\npath: x"])
    summary = run_swe_bench(options(tmp_path, "linear"), llm=llm)
    out = Path(summary["output"])
    row = json.loads((out / "solve.jsonl").read_text())
    assert row["status"] == "error: unparsable actions" and row["model_patch"] == ""
    traj = json.loads((out / "trajectories" / f"{IID}.json").read_text())
    assert len(traj["steps"]) == 3 and "unknown tool 'open'" in traj["steps"][-1]["error"]
    # The model saw each error before answering again.
    assert "Invalid action: no 'ACTION: <tool>' line" in str(llm.calls[1].messages[-1]["content"])
    assert json.loads((out / "report.json").read_text())["empty_patch_ids"] == [IID]


def test_tasks_are_looked_up_in_one_registry():
    assert get_task("swe-bench").name == "swe-bench"
    from agents.errors import UserError

    with pytest.raises(UserError, match=r"unknown task 'nope'; known: .*swe-bench"):
        get_task("nope")


def test_plans_are_well_formed():
    from agents.swe.actions import parse_action

    for text in CORRECT_PLAN + BROKEN_PLAN:
        parse_action(text)


def test_benchmark_compares_both_agents_on_the_same_instances(tmp_path):
    from benchmarks.swe_search import compare

    opts = SolveOptions(model="scripted:plan.json", instances=(IID,), sandbox="local")
    results = compare(opts, tmp_path, llm=lambda: PlanLLM("broken"))
    by = {r["search"]: r for r in results}
    assert by["linear"]["resolved"] == 0 and by["mcts"]["resolved"] == 1
    assert by["mcts"]["llm_calls_per_instance"] > by["linear"]["llm_calls_per_instance"] == 4
    assert "| mcts | 1/1 (100%)" in (tmp_path / "swe_search.md").read_text()


def test_an_instance_whose_environment_cannot_be_built_is_reported_and_skipped(tmp_path):
    from benchmarks.swe_bench import load_dataset

    good = load_dataset("swe-mini", [IID])[0]
    bad = {**good, "instance_id": "nobody__nothing-1", "repo": "nobody/nothing"}
    data = tmp_path / "two.jsonl"
    data.write_text(json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    opts = SolveOptions(dataset=str(data), limit=0, sandbox="local", output=tmp_path / "run")
    summary = run_swe_bench(opts, llm=PlanLLM("correct"))
    rows = [json.loads(x) for x in (tmp_path / "run" / "solve.jsonl").read_text().splitlines()]
    status = {r["instance_id"]: r["status"] for r in rows}
    assert status["nobody__nothing-1"].startswith("error: environment: no environment spec")
    assert status[IID] == "finished" and summary["exit_code"] == 0
    assert json.loads((tmp_path / "run" / "report.json").read_text())["resolved_ids"] == [IID]
