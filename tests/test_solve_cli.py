"""`agents solve` as a user runs it: a scripted file, a dollar cap against a real
OpenAI-compatible server on 127.0.0.1, and a kill mid-instance — each rerun resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from llm_servers import Fault, serve
from swe_plans import CORRECT_PLAN, FIND, FINISH, IID, TESTS, PlanLLM

from benchmarks.swe_bench.solve import run_swe_bench
from benchmarks.tasks import SolveOptions

AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
ROOT = Path(__file__).resolve().parent.parent


def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "OPENAI_API_KEY": "test-key",
        "AGENTS_CACHE_DIR": str(tmp_path / "cache"),
    }  # fmt: skip


def agents(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*AGENTS, *args], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=env(tmp_path),
    )  # fmt: skip


def answer(text: str, delay: float = 0.0) -> Fault:
    """The server's reply to one request: a chat completion whose content is `text`."""
    body = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }  # fmt: skip
    return Fault(body=json.dumps(body), delay=delay)


def solve_args(out: Path, base_url: str, *extra: str) -> list[str]:
    return [
        "solve", "--task", "swe-bench", "-m", "openai:gpt-4o-mini", "--base-url", base_url,
        "--sandbox", "local", "--no-cache", "-o", str(out), *extra,
    ]  # fmt: skip


def test_scripted_file_resolves_an_instance_and_a_rerun_skips_it(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(CORRECT_PLAN))
    args = ["solve", "-m", f"scripted:{plan}", "-i", IID, "--sandbox", "local", "-o", "run"]
    first = agents(*args, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "resolved 1/1" in first.stderr
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["resolved_ids"] == [IID]
    again = agents(*args, tmp_path=tmp_path)
    assert again.returncode == 0 and "already done (skipped)" in again.stderr


def test_bad_options_are_one_line_errors(tmp_path):
    r = agents("solve", "--search", "bfs", "--sandbox", "local", tmp_path=tmp_path)
    assert (
        r.returncode == 2
        and r.stderr.strip() == "error: --search must be linear or mcts, not 'bfs'"
    )
    r = agents("solve", "--task", "chess", tmp_path=tmp_path)
    assert r.returncode == 2 and "unknown task 'chess'" in r.stderr


IDS = "tkem__cachetools-1,tkem__cachetools-2,tkem__cachetools-3"
# The second instance runs the tests: its last prompt is long, so the cap stops it there.
ALL_ANSWERS = [*CORRECT_PLAN, FIND, TESTS, FINISH, FIND, FINISH]


def test_max_cost_stops_cleanly_and_a_rerun_resumes(tmp_path):
    out = tmp_path / "run"
    with serve("openai") as (base_url, state):
        state.faults = [answer(t) for t in ALL_ANSWERS]
        # $0.00041 admits the first instance's 4 calls and the second's first two; its third
        # call (a long prompt after the test output) could pass the cap, so it is refused.
        # (The window is $0.00039-0.000435 at gpt-4o-mini prices; prompt changes move it.)
        cap = "0.00041"
        first = agents(*solve_args(out, base_url, "-i", IDS, "--max-cost", cap), tmp_path=tmp_path)
        used = state.count
    assert first.returncode == 3, first.stderr
    assert "stopped: budget reached" in first.stderr
    done = [json.loads(line) for line in (out / "solve.jsonl").read_text().splitlines()]
    assert [d["instance_id"] for d in done] == [IID] and used == 6
    preds = (out / "predictions.jsonl").read_text().splitlines()
    assert len(preds) == len(done)
    assert json.loads((out / "report.json").read_text())["resolved_ids"] == [IID]
    first_usage = json.loads((out / "usage.json").read_text())
    assert first_usage["calls"] == used

    # The cap is the run's, not the session's: the same cap again spends nothing more.
    with serve("openai") as (base_url, state):
        state.faults = [answer(t) for t in ALL_ANSWERS[used:]]
        again = agents(*solve_args(out, base_url, "-i", IDS, "--max-cost", cap), tmp_path=tmp_path)
        assert state.count == 0
    assert again.returncode == 3 and "stopped: budget reached" in again.stderr, again.stderr
    assert json.loads((out / "usage.json").read_text())["cost"] == first_usage["cost"]

    with serve("openai") as (base_url, state):
        state.faults = [answer(t) for t in ALL_ANSWERS[used:]]
        second = agents(*solve_args(out, base_url, "-i", IDS), tmp_path=tmp_path)
        # Every answer is asked for exactly once over both runs: nothing is redone.
        assert state.count == len(ALL_ANSWERS) - used
    assert second.returncode == 0, second.stderr
    assert len((out / "solve.jsonl").read_text().splitlines()) == 3
    usage = json.loads((out / "usage.json").read_text())  # every session's calls, summed
    assert usage["calls"] == len(ALL_ANSWERS) and usage["cost"] > first_usage["cost"]


def test_killed_mid_instance_resumes_from_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    with serve("openai") as (base_url, state):
        # The third answer hangs: the process is killed while it waits for it.
        state.faults = [answer(CORRECT_PLAN[0]), answer(CORRECT_PLAN[1]), answer("", delay=60)]
        proc = subprocess.Popen(
            [*AGENTS, *solve_args(out, base_url, "-i", IID)], cwd=tmp_path, env=env(tmp_path),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while state.count < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert state.count == 3, "the run never reached its third model call"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "solve.jsonl").exists() or not (out / "solve.jsonl").read_text().strip()

    with serve("openai") as (base_url, state):
        # Only the last two answers: a run that started over would find and edit nothing.
        state.faults = [answer(CORRECT_PLAN[2]), answer(CORRECT_PLAN[3])]
        second = agents(*solve_args(out, base_url, "-i", IID), tmp_path=tmp_path)
        assert state.count == 2
    assert second.returncode == 0, second.stderr
    assert json.loads((out / "report.json").read_text())["resolved_ids"] == [IID]
    traj = json.loads((out / "trajectories" / f"{IID}.json").read_text())
    assert [s["action"]["tool"] for s in traj["steps"]] == [
        "find_class", "str_replace", "run_tests", "finish",
    ]  # fmt: skip


def test_a_search_killed_mid_instance_replays_its_journal_instead_of_redoing_work(tmp_path):
    # The answers an uninterrupted search asks for, in order (actions and judgements).
    plan = PlanLLM("correct")
    opts = SolveOptions(
        model="scripted:x.json", instances=(IID,), search="mcts", sandbox="local",
        output=tmp_path / "reference", evaluate=False,
    )  # fmt: skip
    run_swe_bench(opts, llm=plan)
    seq = plan.answers
    assert len(seq) >= 10 and any(s.startswith("{") for s in seq[:6])
    k = 7  # killed while waiting for answer k+1: after an edit was made and judged
    out = tmp_path / "run"
    with serve("openai") as (base_url, state):
        state.faults = [*(answer(t) for t in seq[:k]), answer("", delay=60)]
        proc = subprocess.Popen(
            [*AGENTS, *solve_args(out, base_url, "-i", IID, "--search", "mcts")], cwd=tmp_path,
            env=env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while state.count < k + 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert state.count == k + 1, "the search never reached the call it is killed in"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "solve.jsonl").exists() or not (out / "solve.jsonl").read_text().strip()
    journal = out / "search" / f"{IID}.jsonl"
    before = [json.loads(x)["key"] for x in journal.read_text().splitlines()]
    assert sum(not key.startswith("step:") for key in before) == k
    assert any(key.startswith("step:") for key in before)

    with serve("openai") as (base_url, state):
        # Only the answers after the kill: a search that started over would get them in
        # the wrong places (an edit's judgement as its first action) and ask for more.
        state.faults = [answer(t) for t in seq[k:]]
        second = agents(
            *solve_args(out, base_url, "-i", IID, "--search", "mcts"), tmp_path=tmp_path
        )
        assert state.count == len(seq) - k
    assert second.returncode == 0, second.stderr
    row = json.loads((out / "solve.jsonl").read_text())
    assert row["status"] == "finished" and row["replayed_llm_calls"] == k
    assert row["llm_calls"] == len(seq) - k
    assert json.loads((out / "report.json").read_text())["resolved_ids"] == [IID]
    # Each answer, judgement and tool run was journaled once: nothing ran twice.
    after = [json.loads(x)["key"] for x in journal.read_text().splitlines()]
    assert after[: len(before)] == before and len(after) == len(set(after))
    assert sum(not key.startswith("step:") for key in after) == len(seq)


def test_ctrl_c_saves_everything_done_so_far(tmp_path):
    out = tmp_path / "run"
    ids = "tkem__cachetools-1,tkem__cachetools-2"
    with serve("openai") as (base_url, state):
        state.faults = [*(answer(t) for t in CORRECT_PLAN), answer(FIND), answer("", delay=60)]
        proc = subprocess.Popen(
            [*AGENTS, *solve_args(out, base_url, "-i", ids)], cwd=tmp_path, env=env(tmp_path),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while state.count < 6 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert state.count == 6
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    rows = (out / "solve.jsonl").read_text().splitlines()
    assert [json.loads(r)["instance_id"] for r in rows] == [IID]
    assert json.loads((out / "predictions.jsonl").read_text())["instance_id"] == IID
    assert json.loads((out / "usage.json").read_text())["calls"] >= 5
    partial = json.loads((out / "trajectories" / "tkem__cachetools-2.json").read_text())
    assert [s["action"]["tool"] for s in partial["steps"]] == ["find_class"]


def test_predictions_are_sorted_by_instance_id_whatever_order_instances_finished(
    tmp_path: Path,
) -> None:
    """The solve log lists instances as they finished (any order with workers or Ray);
    predictions.jsonl is the same file for the same results."""
    from benchmarks.swe_bench.solver import write_predictions

    rows = [
        {"instance_id": iid, "model_name_or_path": "m", "model_patch": f"p-{iid}", "seconds": 1}
        for iid in ("b__b-2", "a__a-1", "c__c-3")
    ]
    texts = []
    for order in (rows, rows[::-1]):
        out = tmp_path / str(len(texts))
        out.mkdir()
        texts.append(write_predictions(out, order).read_text())
    assert texts[0] == texts[1]
    preds = [json.loads(line) for line in texts[0].splitlines()]
    assert [p["instance_id"] for p in preds] == ["a__a-1", "b__b-2", "c__c-3"]
    assert preds[0] == {
        "instance_id": "a__a-1",
        "model_name_or_path": "m",
        "model_patch": "p-a__a-1",
    }
