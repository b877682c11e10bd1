"""`agents solve --task swe-bench` end to end: real sandboxes, the real harness, scripted models."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from sandbox_helpers import DOCKER
from swe_plans import BROKEN_PLAN, CORRECT_PLAN, IID, PlanLLM

from agents.llm import ScriptedLLM
from benchmarks.swe_bench.solve import run_swe_bench
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
    from benchmarks.tasks import TASKS, Task

    assert get_task("swe-bench").name == "swe-bench"
    assert set(TASKS) == {"swe-bench", "game24", "blocksworld", "tictactoe", "story", "appworld"}
    assert all(isinstance(t, Task) and t.description for t in TASKS.values())
    from foundation.errors import UserError

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


def test_a_search_over_its_own_journal_replays_it_without_the_model_or_the_tools(tmp_path):
    from agents.graphs.swe_search import run_search
    from agents.swe.env import AgentConfig, AgentEnv
    from agents.swe.search_problem import SweSearch
    from benchmarks.swe_bench import RunConfig, load_dataset, open_instance
    from benchmarks.swe_bench.specs import spec_for

    inst = load_dataset("swe-mini", [IID])[0]
    spec = spec_for(inst["repo"], inst["version"])
    journal = tmp_path / "journal.jsonl"

    def search(llm):
        with open_instance(inst, RunConfig(sandbox="local")) as sb:
            env = AgentEnv(inst, llm, sb, spec.test_cmd, AgentConfig(max_iterations=16))
            swe = SweSearch.build(env, journal)
            found = run_search(env, None, journal, swe)
            return found, env.stats, swe

    (cands, _), stats, _ = search(PlanLLM("broken"))
    assert stats.llm_calls > 6 and stats.sandbox_seconds > 0
    # A kill mid-write leaves a torn line: it is ignored and ended, so new events that
    # follow start on a line of their own.
    with open(journal, "a") as f:
        f.write('{"key": "ask:0123:0", "val')
    (cands2, _), stats2, problem = search(PlanLLM("broken"))
    assert journal.read_text().endswith('"val\n')
    assert stats2.llm_calls == 0 and problem.replayed_llm_calls == stats.llm_calls
    assert [(c["sid"], c["patch"], c["value"]) for c in cands2] == [
        (c["sid"], c["patch"], c["value"]) for c in cands
    ]
    assert any("if key in self" in c["patch"] for c in cands2)
    # No tool ran again: the replay only snapshotted the fresh root.
    assert stats2.sandbox_seconds < stats.sandbox_seconds / 2


FIND_LRU = ("find_class", (("name", "LRUCache"),))


@pytest.mark.parametrize(
    ("text", "call"),
    [
        # what SmolLM2-135M wrote: a call, then an argument the tool lacks, then prose
        (
            "THOUGHT: find the class\nACTION: find_class\nname: LRUCache\nvalue: 1\n\n```py",
            FIND_LRU,
        ),
        ("THOUGHT: x\nACTION: find_class\nname: LRUCache\nThe above code is fine.", FIND_LRU),
        ("**THOUGHT:** x\n**ACTION:** `find_class`\n**name:** `LRUCache`", FIND_LRU),
        ("action: Find-Class\nName: LRUCache", FIND_LRU),
        ('ACTION: find_class(name="LRUCache")', FIND_LRU),
        ("ACTION: find_class LRUCache", FIND_LRU),
        ('{"tool": "find_class", "args": {"name": "LRUCache"}}', FIND_LRU),
        (
            "```\nACTION: view_file\npath: a.py\nstart: 3\n```",
            ("view_file", (("path", "a.py"), ("start", 3))),
        ),
        (
            "ACTION: view_file(path='a.py', start=3)",
            ("view_file", (("path", "a.py"), ("start", 3))),
        ),
        ("ACTION: open_file\npath: a.py", ("view_file", (("path", "a.py"),))),
        ("ACTION: finish\nThe bug is fixed.", ("finish", ())),
        (
            "ACTION: str_replace\npath: a.py\nold:\n```\nx = 1\n```\nnew:\n```\nx = 2\n```",
            ("str_replace", (("path", "a.py"), ("old", "x = 1"), ("new", "x = 2"))),
        ),
    ],
)
def test_clearly_meant_variants_parse_to_exactly_one_call(text, call):
    from agents.swe.actions import parse_action

    action = parse_action(text)
    assert (action.tool, action.args) == call


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("THOUGHT: x\nACTION: remove_least_recently_used_key\nkey: a", "unknown tool"),
        ("ACTION: view_file\npath: a\nline: 3", "unknown: line"),  # a misspelt argument
        ("ACTION: find_class\nThe class is LRUCache", "cannot read argument line"),
        ("ACTION: find_class(LRUCache)", "cannot read the arguments"),
        ("ACTION: view_file a.py 3", "unexpected text after the tool name"),
        ('{"tool": "open", "args": {}}', "unknown tool 'open'"),
    ],
)
def test_what_is_not_one_clear_call_stays_an_error_that_says_what_to_fix(text, message):
    from agents.swe.actions import ActionParseError, parse_action

    with pytest.raises(ActionParseError, match=message):
        parse_action(text)


def test_the_prompt_ends_with_the_format_and_the_tool_names():
    from agents.swe.actions import BY_NAME
    from agents.swe.prompts import action_messages
    from benchmarks.swe_bench import load_dataset

    msgs = action_messages(load_dataset("swe-mini", [IID])[0], [])
    last = msgs[-1]["content"].splitlines()[-1]
    assert last.startswith("Next: THOUGHT:") and all(name in last for name in BY_NAME)
    assert [m["role"] for m in msgs].count("assistant") == 2  # the worked example


def test_a_repeated_action_is_pointed_out_and_a_found_class_comes_with_the_call_to_read_it():
    from agents.swe.prompts import action_messages
    from benchmarks.swe_bench import load_dataset

    answer = "THOUGHT: find it\nACTION: find_class\nname: LRUCache"
    hit = {"text": "src/cachetools/__init__.py:203:class LRUCache(Cache):\n", "ok": True}
    step = {"answer": answer, "action": {"tool": "find_class", "args": {"name": "LRUCache"}}}
    step["observation"] = hit
    msgs = action_messages(load_dataset("swe-mini", [IID])[0], [step, step])
    first, second = msgs[-3]["content"], msgs[-1]["content"]
    assert "already ran" not in first and "You already ran this action" in second
    assert "ACTION: view_file\npath: src/cachetools/__init__.py\nstart: 198" in first


def test_a_repeat_at_temperature_zero_is_resampled_once_at_a_higher_temperature():
    from agents.swe.env import RESAMPLE_TEMPERATURE, AgentEnv

    find = "THOUGHT: find it\nACTION: find_class\nname: LRUCache"
    view = "THOUGHT: read it\nACTION: view_file\npath: a.py"
    edit = "THOUGHT: fix\nACTION: str_replace\npath: a.py\nold: x\nnew: y"
    done = {"tool": "find_class", "args": {"name": "LRUCache"}}
    ran = {"answer": find, "action": done, "observation": {"text": "a.py:1", "ok": True}}

    class Box:
        workdir = "/nowhere"

    llm = ScriptedLLM([find, view, find, find])
    env = AgentEnv({"problem_statement": "x"}, llm, Box(), "true")
    step = env.ask([ran])  # a repeat: asked again, hotter, and the new action is taken
    assert step["action"]["tool"] == "view_file" and step["resampled"] == "repeat"
    assert [c.temperature for c in llm.calls] == [0.0, RESAMPLE_TEMPERATURE]
    step = env.ask([ran])  # the resample repeats too: the first answer stands, no third call
    assert step["action"] == {**done, "thought": "find it"} and "resampled" not in step
    assert len(llm.calls) == 4
    edited = {**ran, "answer": edit, "action": {"tool": "str_replace", "args": {}}}
    env.llm = ScriptedLLM([find])
    assert env.ask([ran, edited])["action"]["tool"] == "find_class"  # after an edit: not a repeat
    assert len(env.llm.calls) == 1


def test_a_kill_between_a_nodes_writes_and_its_checkpoint_resumes_the_instance(tmp_path):
    """SIGKILL after LangGraph saved a node's writes but before the checkpoint after it:
    the thread then reports no next node although the graph has not ended. The rerun must
    finish the instance (it used to report it `incomplete`, the fault-test flake)."""
    import sqlite3

    opts = options(tmp_path, "linear")
    first = run_swe_bench(opts, llm=PlanLLM("correct"))
    out = Path(first["output"])
    rows = [json.loads(x) for x in (out / "solve.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["finished"]
    # Back to the moment after the last `act` (finish chosen) wrote, before its checkpoint:
    # drop the last two checkpoints (after `tool` and after `act`), keep act's writes.
    db = sqlite3.connect(out / "checkpoints.sqlite")
    ids = [r[0] for r in db.execute("SELECT checkpoint_id FROM checkpoints ORDER BY checkpoint_id")]
    for cid in ids[-2:]:
        db.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (cid,))
        db.execute("DELETE FROM writes WHERE checkpoint_id = ?", (cid,))
    db.commit()
    db.close()
    (out / "solve.jsonl").write_text("")  # the log line was never written
    again = run_swe_bench(opts, llm=PlanLLM("correct"))
    rows = [json.loads(x) for x in (Path(again["output"]) / "solve.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["finished"] and rows[0]["model_patch"]
    report = json.loads((out / "report.json").read_text())
    assert report["resolved_ids"] == [IID]
