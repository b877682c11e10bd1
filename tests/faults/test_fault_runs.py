"""One bad input never stops a run, and a kill -9 at any point loses nothing.

Twenty SWE-bench instances (swe-mini and six copies under new ids), run as a user runs
them (`agents eval swe-bench`, `agents solve --task swe-bench` with a scripted model):
three poisoned predictions / instances and an agent whose tools raise are error rows or
observations, every instance is in the report, and a run killed with SIGKILL at a
random point, then rerun, reports exactly what an uninterrupted run does.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from swe_plans import CORRECT_PLAN, SYMLINK_PATCH
from swe_plans import IID as CACHETOOLS_1

from agents.swe.actions import Action, format_action
from benchmarks.swe_bench import load_dataset
from sandboxes.scratch import OWNER_FILE, PREFIX

ROOT = Path(__file__).resolve().parents[2]
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
SECRET = "host secret\n"
SEED = int(os.environ.get("AGENTS_FAULT_SEED", "15"))
FINISH = "THOUGHT: done\nACTION: finish"


def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200",
            "AGENTS_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip


def agents(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENTS, *args], cwd=cwd, capture_output=True, text=True, timeout=900, env=env(cwd)
    )


def timed(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = agents(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, time.monotonic() - start


def killed_then_rerun(
    args: list[str], cwd: Path, rng: random.Random, took: float, log: Path, units: int
) -> float:
    """Start `agents ARGS`, SIGKILL it once its run log `log` holds a random number of
    its `units` rows (1 to units - 2: mid-run, whatever the machine's speed), then rerun
    it to the end; returns when the kill came. (A kill at a random fraction of the first
    run's time was flaky: that run also fills the caches, so the second one, faster, had
    sometimes finished by then.)"""
    at = rng.randint(1, units - 2)
    start = time.monotonic()
    proc = subprocess.Popen(
        [*AGENTS, *args], cwd=cwd, env=env(cwd), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = start + 3 * took + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if log.is_file() and log.read_bytes().count(b"\n") >= at:
            break
        time.sleep(0.01)
    delay = time.monotonic() - start
    assert proc.poll() is None, f"the run ended before the kill at row {at} ({delay:.1f}s)"
    os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up, as with the OOM killer
    proc.wait(timeout=60)
    rerun = agents(*args, cwd=cwd)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_no_scratch_left_by(proc.pid)
    return delay


def assert_no_scratch_left_by(pid: int) -> None:
    """The rerun removed every scratch directory (sandbox, repository copy) of the killed run."""
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = json.loads((path / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        assert owner.get("agents-search.pid") != str(pid), path


def twenty(marked: bool = False) -> list[dict[str, Any]]:
    """swe-mini's 14 instances and copies of its first six under new ids (same repository
    and fix); with `marked`, each problem statement starts with its case marker."""
    mini = load_dataset("swe-mini")
    copies = [
        {**inst, "instance_id": f"{inst['instance_id'].rsplit('-', 1)[0]}-{100 + k}"}
        for k, inst in enumerate(mini[:6])
    ]
    instances = [dict(i) for i in mini + copies]
    if marked:
        for k, inst in enumerate(instances):
            inst["problem_statement"] = f"[case-{k:02d}] {inst['problem_statement']}"
    return instances


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def report_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_eval_twenty_instances_three_poisoned_and_a_kill(tmp_path: Path) -> None:
    instances = twenty()
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    preds = [
        {"instance_id": i["instance_id"], "model_name_or_path": "gold", "model_patch": i["patch"]}
        for i in instances
    ]
    poisoned = {
        3: ("model_patch", instances[3]["patch"] + "# \ud800\n", "lone surrogate"),
        8: ("model_name_or_path", "gold\x00", "control character '\\x00'"),
        15: (
            "model_patch",
            instances[15]["patch"] + SYMLINK_PATCH.format(target=secret),
            "symbolic link",
        ),
    }
    for k, (field, value, _) in poisoned.items():
        preds[k][field] = value
    data = write_jsonl(tmp_path / "twenty.jsonl", instances)
    pfile = write_jsonl(tmp_path / "preds.jsonl", preds)
    common = ["eval", "swe-bench", "-d", str(data), "-p", str(pfile), "--sandbox", "local",
              "-w", "2", "-o", "logs"]  # fmt: skip

    _, took = timed(*common, "--run-id", "full", cwd=tmp_path)
    report = report_of(tmp_path / "logs" / "gold.full.json")
    bad = {instances[k]["instance_id"]: why for k, (_, _, why) in poisoned.items()}
    assert report["total_instances"] == 20
    assert report["error_ids"] == sorted(bad)
    assert len(report["resolved_ids"]) == 17
    for iid, why in bad.items():
        assert why in report["error_reasons"][iid], (iid, report["error_reasons"][iid])
    assert secret.read_text() == SECRET

    results = tmp_path / "logs" / "killed" / "gold" / "results.jsonl"
    delay = killed_then_rerun(
        [*common, "--run-id", "killed"], tmp_path, random.Random(SEED), took, results, 20
    )
    resumed = report_of(tmp_path / "logs" / "gold.killed.json")
    assert resumed == report, f"killed after {delay:.1f}s"
    rows = (tmp_path / "logs" / "killed" / "gold" / "results.jsonl").read_text().splitlines()
    graded = [json.loads(r)["instance_id"] for r in rows if r.strip().endswith("}")]
    assert sorted(graded) == sorted(i["instance_id"] for i in instances), "graded twice or lost"
    assert secret.read_text() == SECRET


def act(tool: str, **args: str) -> str:
    return format_action(Action(tool, tuple(args.items()), "step"))


def test_solve_twenty_instances_with_bad_ones_and_raising_tools(tmp_path: Path) -> None:
    instances = twenty(marked=True)
    instances[5]["version"] = "9.9"  # no environment spec for it
    instances[11]["base_commit"] = "0" * 40  # the repository cannot be made at that commit
    resolvable = next(k for k, i in enumerate(instances) if i["instance_id"] == CACHETOOLS_1)
    plans = {
        f"[case-{resolvable:02d}]": CORRECT_PLAN,
        # Tools that raise: writing over a directory, and text that is not valid UTF-8.
        "[case-02]": [act("create_file", path=".git", content="x"), FINISH],
        "[case-19]": [act("create_file", path="x.txt", content="bad \ud800"), FINISH],
        "[case-17]": ["I am not sure.", "Maybe the cache?", "Hmm."],  # never an action
    }
    data = write_jsonl(tmp_path / "twenty.jsonl", instances)
    model = tmp_path / "plans.json"
    model.write_text(json.dumps({"plans": plans, "default": [FINISH]}))
    common = ["solve", "--task", "swe-bench", "-d", str(data), "-k", "0", "-m",
              f"scripted:{model}", "--sandbox", "local", "-w", "2"]  # fmt: skip

    _, took = timed(*common, "-o", "full", cwd=tmp_path)
    report = report_of(tmp_path / "full" / "report.json")
    ids = [i["instance_id"] for i in instances]
    assert report["total_instances"] == 20 and sorted(report["submitted_ids"]) == sorted(ids)
    assert report["resolved_ids"] == [CACHETOOLS_1]
    assert report["error_ids"] == sorted([ids[5], ids[11]])
    assert "no environment spec" in report["error_reasons"][ids[5]]
    assert "base_commit" in report["error_reasons"][ids[11]]
    rows = {
        json.loads(r)["instance_id"]: json.loads(r)
        for r in (tmp_path / "full" / "solve.jsonl").read_text().splitlines()
    }
    assert len(rows) == 20
    assert rows[ids[17]]["status"] == "error: unparsable actions"
    for k, error in ((2, "IsADirectoryError"), (19, "UnicodeEncodeError")):
        assert rows[ids[k]]["status"] == "finished"
        traj = json.loads((tmp_path / "full" / "trajectories" / f"{ids[k]}.json").read_text())
        assert traj["steps"][0]["observation"]["text"].startswith(f"error: {error}"), traj

    rng = random.Random(SEED + 1)
    log = tmp_path / "killed" / "solve.jsonl"
    delay = killed_then_rerun([*common, "-o", "killed"], tmp_path, rng, took, log, 20)
    assert report_of(tmp_path / "killed" / "report.json") == report, f"killed after {delay:.1f}s"
    again = {
        json.loads(r)["instance_id"]: json.loads(r)
        for r in (tmp_path / "killed" / "solve.jsonl").read_text().splitlines()
    }
    assert {k: (r["status"], r["model_patch"]) for k, r in again.items()} == {
        k: (r["status"], r["model_patch"]) for k, r in rows.items()
    }


@pytest.mark.parametrize("command", ["eval", "solve"])
def test_a_second_process_on_the_same_run_is_refused_naming_the_holder(
    command: str, tmp_path: Path
) -> None:
    from foundation.runs import run_lock

    if command == "eval":
        run_dir = tmp_path / "logs" / "r" / "gold"
        args = ["eval", "swe-bench", "-p", "gold", "-i", CACHETOOLS_1, "--sandbox", "local",
                "-o", "logs", "--run-id", "r"]  # fmt: skip
    else:
        run_dir = tmp_path / "run"
        model = write_jsonl(tmp_path / "m.jsonl", [])
        model.write_text(json.dumps([FINISH]))
        args = ["solve", "-m", f"scripted:{model}", "-i", CACHETOOLS_1, "--sandbox", "local",
                "-o", "run"]  # fmt: skip
    with run_lock(run_dir):  # another process (here: this test) works in the run
        refused = agents(*args, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    message = " ".join(refused.stderr.split())
    assert f"is in use by pid {os.getpid()}" in message and "Traceback" not in message
    assert agents(*args, cwd=tmp_path).returncode == 0  # free again once the holder ends
