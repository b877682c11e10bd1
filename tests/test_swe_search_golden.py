"""SWE-Search end to end against a recorded golden run: `agents solve --task swe-bench
--search mcts` with a scripted model builds the same tree (node by node: action, visits,
value, status, judge) and picks the same patch as the run recorded before the search was
rebuilt on the core's contract (tests/golden/swe_search_broken.json). And a search resumed
over its journal whose requests come in another order is answered from the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from swe_plans import IID, PlanLLM

from agents.llm import BaseLLM, Completion, Usage
from agents.llm.types import Request
from agents.swe.actions import Action
from benchmarks.swe_bench.solve import run_swe_bench
from benchmarks.tasks import SolveOptions

GOLDEN = Path(__file__).parent / "golden" / "swe_search_broken.json"


def shape(node: dict[str, Any]) -> dict[str, Any]:
    """What the golden run pins: no observation text (test output carries timings)."""
    judge = node.get("judge") or {}
    out: dict[str, Any] = {
        "action": node["action"],
        "visits": node["visits"],
        "value": node["value"],
        "status": node.get("status"),
        "judge": {k: judge[k] for k in ("value", "tests", "combined") if k in judge},
    }
    if node.get("children"):
        out["children"] = [shape(c) for c in node["children"]]
    return out


def solve_golden(tmp_path: Path) -> dict[str, Any]:
    opts = SolveOptions(
        model="scripted:plan.json", instances=(IID,), search="mcts", sandbox="local",
        output=tmp_path / "mcts", evaluate=False,
    )  # fmt: skip
    llm = PlanLLM("broken")
    summary = run_swe_bench(opts, llm=llm)
    out = Path(summary["output"])
    tree = json.loads((out / "trees" / f"{IID}.json").read_text())
    (pred,) = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    return {"tree": shape(tree), "patch": pred["model_patch"], "answers": llm.answers}


def test_the_search_builds_the_recorded_tree_and_patch(tmp_path: Path) -> None:
    got = solve_golden(tmp_path)
    want = json.loads(GOLDEN.read_text())
    assert got["patch"] == want["patch"]
    assert got["tree"] == want["tree"]
    assert got["answers"] == want["answers"]


if __name__ == "__main__":  # records the golden run (done once, on the code before the move)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.write_text(json.dumps(solve_golden(Path(tmp)), indent=1) + "\n")


class JudgeByAction(BaseLLM):
    """A judge whose value depends on the trajectory it is shown: +30 after find_class,
    -30 otherwise. Counts its calls."""

    name = "judge-by-action"

    def __init__(self) -> None:
        self.calls = 0

    async def _complete(self, request: Request) -> list[Completion]:
        self.calls += 1
        body = str(request.messages[-1]["content"])
        value = 30 if "ACTION find_class" in body else -30
        text = json.dumps({"explanation": "x", "feedback": "y", "value": value})
        return [Completion(text, Usage(1, 1))]


FIND_A = Action("find_class", (("name", "LRUCache"),), "find it")
VIEW_B = Action("view_file", (("path", "src/cachetools/__init__.py"),), "read it")


def test_a_resumed_search_is_answered_by_content_whatever_the_order(tmp_path: Path) -> None:
    """Run 1 steps to A then B and judges A then B; run 2, over the same journal, does it in
    the other order. Keyed by call order (the old journal), run 2's first judgement would be
    A's answer given to B; keyed by content, each gets its own, and nothing runs again."""
    from agents.swe.env import AgentConfig, AgentEnv
    from agents.swe.search_problem import SweSearch
    from benchmarks.swe_bench import RunConfig, load_dataset, open_instance
    from benchmarks.swe_bench.specs import spec_for

    inst = load_dataset("swe-mini", [IID])[0]
    spec = spec_for(inst["repo"], inst["version"])
    journal = tmp_path / "journal.jsonl"

    def run(order: list[Action]) -> tuple[dict[str, Any], dict[str, str], int, float]:
        llm = JudgeByAction()
        with open_instance(inst, RunConfig(sandbox="local")) as sb:
            env = AgentEnv(inst, llm, sb, spec.test_cmd, AgentConfig())
            swe = SweSearch.build(env, journal)
            root = swe.problem.root()
            states = {a.tool: swe.problem.step(root, a) for a in order}
            values = {tool: swe.evaluator.value(s) for tool, s in states.items()}
            texts = {tool: s.steps[-1]["observation"]["text"] for tool, s in states.items()}
            return values, texts, llm.calls, env.stats.sandbox_seconds

    values1, texts1, calls1, _ = run([FIND_A, VIEW_B])
    assert calls1 == 2 and values1["find_class"] > values1["view_file"]
    assert "class LRUCache" in texts1["find_class"] and "import" in texts1["view_file"]
    values2, texts2, calls2, _ = run([VIEW_B, FIND_A])
    assert calls2 == 0  # both judgements came from the journal
    assert values2 == values1  # each state got its own judgement back
    assert texts2 == texts1  # and its own tool output, without running the tool


def test_the_journal_answers_the_nth_same_request_with_the_nth_answer(tmp_path: Path) -> None:
    from agents.swe.search_problem import Journal

    path = tmp_path / "j.jsonl"
    live = iter(["first", "second", "other"])
    j = Journal(path)
    assert [j.answer("ask", {"q": 1}, lambda: next(live)) for _ in range(2)] == [
        "first",
        "second",
    ]
    assert j.answer("ask", {"q": 2}, lambda: next(live)) == "other"
    again = Journal(path)
    never = lambda: pytest.fail("answered live, not from the journal")  # noqa: E731
    assert again.answer("ask", {"q": 2}, never) == "other"  # another order
    assert again.answer("ask", {"q": 1}, never) == "first"
    assert again.answer("ask", {"q": 1}, never) == "second"
    assert again.replayed == {"ask": 3}
    assert again.answer("ask", {"q": 1}, lambda: "third") == "third"  # a new, third request
