"""`agents eval swe-bench` on swe-mini, in the local and the Docker sandbox: gold patches
resolve everything, empty ones nothing, wrong ones nothing, unappliable ones are errors
with a reason, and the report is the one swebench's own `make_run_report` writes."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from sandbox_helpers import DOCKER

from benchmarks.swe_bench import RunConfig, RunPaths, evaluate, load_dataset
from benchmarks.swe_bench.run import Report, read_results

KINDS = ["local", DOCKER]

WRONG = """\
diff --git a/swe_mini_attempt.py b/swe_mini_attempt.py
new file mode 100644
--- /dev/null
+++ b/swe_mini_attempt.py
@@ -0,0 +1 @@
+FIXED = True
"""
UNAPPLIABLE = """\
diff --git a/does/not/exist.py b/does/not/exist.py
--- a/does/not/exist.py
+++ b/does/not/exist.py
@@ -1,3 +1,3 @@
 a = 1
-b = 2
+b = 3
 c = 4
"""


@pytest.fixture(scope="module")
def mini() -> list[dict]:
    return load_dataset("swe-mini")


def preds_with(instances: list[dict], patch: str | None, model: str) -> dict[str, dict]:
    return {
        i["instance_id"]: {
            "instance_id": i["instance_id"],
            "model_name_or_path": model,
            "model_patch": i["patch"] if patch == "gold" else patch,
        }
        for i in instances
    }


def run(instances, preds, out: Path, kind: str, run_id: str = "r", **kw) -> Report:
    model = next(iter(preds.values()))["model_name_or_path"]
    return evaluate(instances, preds, RunPaths(out, run_id, model), RunConfig(sandbox=kind, **kw),
                    workers=2)  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_gold_resolves_every_instance(kind, mini, tmp_path):
    report = run(mini, preds_with(mini, "gold", "gold"), tmp_path, kind)
    assert report["resolved_ids"] == sorted(i["instance_id"] for i in mini)
    assert report["error_ids"] == report["unresolved_ids"] == []
    # Every FAIL_TO_PASS and PASS_TO_PASS test was seen passing, per instance, on disk.
    for inst in mini:
        d = tmp_path / "r" / "gold" / inst["instance_id"]
        assert {p.name for p in d.iterdir()} >= {
            "patch.diff", "run_instance.log", "test_output.txt", "report.json"
        }  # fmt: skip
        status = json.loads((d / "report.json").read_text())[inst["instance_id"]]
        assert status["resolved"] and status["patch_successfully_applied"]
        assert status["tests_status"]["FAIL_TO_PASS"]["success"] == json.loads(inst["FAIL_TO_PASS"])


@pytest.mark.parametrize("kind", KINDS)
def test_empty_wrong_and_unappliable_patches(kind, mini, tmp_path):
    ids = sorted(i["instance_id"] for i in mini)
    empty = run(mini, preds_with(mini, "", "empty"), tmp_path, kind)
    assert empty["empty_patch_ids"] == ids and empty["resolved_instances"] == 0
    assert empty["completed_instances"] == 0
    wrong = run(mini, preds_with(mini, WRONG, "wrong"), tmp_path, kind)
    assert wrong["unresolved_ids"] == ids and wrong["resolved_instances"] == 0
    bad = run(mini, preds_with(mini, UNAPPLIABLE, "bad"), tmp_path, kind)
    assert bad["error_ids"] == ids and bad["completed_instances"] == 0
    rows = read_results(tmp_path / "r" / "bad" / "results.jsonl")
    assert len(rows) == len(mini)  # the run went on past every failure
    for row in rows.values():
        assert row["model_name_or_path"] == "bad"
        assert row["reason"].startswith("patch did not apply: ")
        assert "does/not/exist.py" in row["reason"]


FAULTS = {
    "r1chardj0n3s__parse-1": ("hang", "import time\ntime.sleep(3600)\n"),
    "r1chardj0n3s__parse-2": (
        "memory",
        "blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))\n",
    ),
    "r1chardj0n3s__parse-3": (
        "fork bomb",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    ),
    "jpvanhal__inflection-2": (
        "100 MB stdout",
        "import atexit, os\natexit.register(lambda: os.write(1, b'x' * 100_000_000))\n",
    ),
}


def with_conftest(patch: str, code: str) -> str:
    lines = code.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return patch + (
        "diff --git a/conftest.py b/conftest.py\nnew file mode 100644\n--- /dev/null\n"
        f"+++ b/conftest.py\n@@ -0,0 +1,{len(lines)} @@\n{body}"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_runaway_tests_end_with_a_recorded_reason(kind, mini, tmp_path):
    """A hanging test, a memory hog, a fork bomb and 100 MB on stdout each end with a
    reason; the other instances (and the host) carry on."""
    ok = "pytoolz__toolz-1"
    chosen = [i for i in mini if i["instance_id"] in FAULTS or i["instance_id"] == ok]
    preds = preds_with(chosen, "gold", "faulty")
    for iid, (_, code) in FAULTS.items():
        preds[iid]["model_patch"] = with_conftest(preds[iid]["model_patch"], code)
    report = run(chosen, preds, tmp_path, kind, test_timeout=20, memory_mb=512, pids=64)
    rows = read_results(tmp_path / "r" / "faulty" / "results.jsonl")
    assert len(rows) == len(chosen)
    hang, hog, bomb, loud = FAULTS
    assert rows[hang]["status"] == "error" and "timed out" in rows[hang]["reason"]
    assert "oom" in rows[hog]["reason"]
    assert rows[bomb]["status"] == "error" and rows[bomb]["reason"]
    assert "output-capped" in rows[loud]["reason"]
    assert report["resolved_ids"] == [ok] or set(report["resolved_ids"]) == {ok, loud}
    assert subprocess.run(["true"]).returncode == 0  # the host still starts processes


def test_report_equals_swebench_make_run_report(mini, tmp_path, monkeypatch):
    """Same logs, same predictions: our report and the official one are equal, key by key."""
    instances = mini[:6]
    preds = preds_with(instances[:5], "gold", "org/model")
    ids = [i["instance_id"] for i in instances]
    preds[ids[1]]["model_patch"] = ""
    preds[ids[2]]["model_patch"] = WRONG
    preds[ids[3]]["model_patch"] = UNAPPLIABLE
    # ids[5] has no prediction: incomplete
    monkeypatch.chdir(tmp_path)
    ours = run(instances, preds, Path("logs/run_evaluation"), "local", run_id="cmp")
    assert ours["resolved_ids"] == sorted([ids[0], ids[4]])
    assert ours["unresolved_ids"] == [ids[2]] and ours["error_ids"] == [ids[3]]
    assert ours["empty_patch_ids"] == [ids[1]] and ours["incomplete_ids"] == [ids[5]]
    # swebench.harness.reporting imports its image builder only for the optional Docker
    # client (which needs the `datasets` package); stub that one import.
    stub = types.ModuleType("swebench.image_builder.docker_utils")
    stub.list_images = lambda client: set()
    monkeypatch.setitem(sys.modules, "swebench.image_builder.docker_utils", stub)
    from benchmarks.swe_bench.official import _harness_module

    reporting = _harness_module("reporting")
    path = reporting.make_run_report(preds, instances, "cmp", client=None, report_dir="official")
    official = json.loads(Path(path).read_text())
    assert Path(path).name == "org__model.cmp.json"
    ours_file = json.loads((tmp_path / "logs/run_evaluation/org__model.cmp.json").read_text())
    # The official keys, in order and equal; then ours (why each error errored, tampering).
    assert list(ours_file) == [*official, "error_reasons", "tampered_ids"]
    for key in official:
        assert ours_file[key] == official[key], key
    assert list(ours_file["error_reasons"]) == [ids[3]]
    assert ours_file["error_reasons"][ids[3]].startswith("patch did not apply")


def test_swe_mini_validates_gold_passes_and_no_patch_fails(mini, tmp_path):
    """The dataset's own claims hold: gold makes FAIL_TO_PASS and PASS_TO_PASS pass,
    no patch leaves every FAIL_TO_PASS test failing."""
    from benchmarks.swe_bench.validate import ValidationPaths, validate

    report = validate(mini, ValidationPaths(tmp_path, "v"), RunConfig(sandbox="local"), workers=2)
    assert report["problems"] == {}
    assert report["sound_ids"] == [i["instance_id"] for i in mini]


@pytest.mark.parametrize("kind", [DOCKER])
def test_second_docker_run_builds_no_image_and_leaves_no_container(kind, mini, tmp_path):
    import os

    import docker

    client = docker.from_env()
    instances = mini[:2]
    preds = preds_with(instances, "gold", "gold")
    run(instances, preds, tmp_path / "one", kind)  # builds whatever is missing

    def env_images() -> dict[str, str]:
        return {t: img.id for img in client.images.list("agents-search/env") for t in img.tags}

    before = env_images()
    report = run(instances, preds, tmp_path / "two", kind)
    assert report["resolved_instances"] == 2
    after = env_images()
    assert {t: after[t] for t in before if t in after} == before  # nothing rebuilt
    assert set(after) <= set(before), "the second run built a new environment image"
    mine = client.containers.list(all=True, filters={"label": f"agents-search.pid={os.getpid()}"})
    assert mine == [], "containers left behind"


def test_an_agent_works_in_open_instance_and_its_diff_resolves(mini, tmp_path):
    """The Task seam: an agent edits the repo in the instance's sandbox; `git diff` is a
    prediction the harness grades as resolved."""
    from benchmarks.swe_bench import open_instance

    inst = next(i for i in mini if i["instance_id"] == "pytoolz__toolz-1")
    with open_instance(inst, RunConfig(sandbox="local")) as sb:
        assert sb.exec("git rev-parse HEAD").stdout.strip() == inst["base_commit"]
        code = sb.read_file("toolz/itertoolz.py")
        sb.write_file(
            "toolz/itertoolz.py", code.replace("next(inposed)\n", "next(inposed, None)\n")
        )
        patch = sb.exec("git diff").stdout
    preds = {inst["instance_id"]: {"instance_id": inst["instance_id"],
                                   "model_name_or_path": "agent", "model_patch": patch}}  # fmt: skip
    report = run([inst], preds, tmp_path, "local")
    assert report["resolved_ids"] == [inst["instance_id"]]


def test_an_instance_whose_worker_was_lost_is_graded_on_the_rerun(mini, tmp_path):
    """A Ray worker that died past its retries leaves an error row that was never a grade:
    the rerun grades the instance (once), and the report counts that grade, not the error."""
    from benchmarks.swe_bench.harness import ERROR, InstanceResult, patch_sha
    from benchmarks.swe_bench.run import LOST

    inst = mini[0]
    preds = preds_with([inst], "gold", "gold")
    lost = InstanceResult(
        inst["instance_id"], "gold", ERROR, reason=LOST + "the worker died",
        patch_sha=patch_sha(inst["patch"]),
    )  # fmt: skip
    results = RunPaths(tmp_path, "r", "gold").results
    results.parent.mkdir(parents=True)
    results.write_text(lost.to_json() + "\n")
    graded: list[str] = []
    report = evaluate(
        [inst], preds, RunPaths(tmp_path, "r", "gold"), RunConfig(sandbox="local"),
        on_result=lambda result, iid: graded.append(iid if result else "skipped"),
    )  # fmt: skip
    assert graded == [inst["instance_id"]]
    assert report["resolved_ids"] == [inst["instance_id"]] and report["error_ids"] == []
    assert len(results.read_text().splitlines()) == 2  # the lost row is kept, then the grade
    again: list[str] = []
    evaluate(
        [inst], preds, RunPaths(tmp_path, "r", "gold"), RunConfig(sandbox="local"),
        on_result=lambda result, iid: again.append(iid if result else "skipped"),
    )  # fmt: skip
    assert again == ["skipped"]  # graded once
