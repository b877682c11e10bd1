"""`agents eval swe-bench` as a user runs it: resume after a real kill, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.swe_bench import gold_predictions, load_dataset, write_predictions
from benchmarks.swe_bench.run import read_results

AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
ROOT = Path(__file__).resolve().parent.parent


def agents(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*AGENTS, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def preds_file(tmp_path_factory) -> Path:
    mini = load_dataset("swe-mini")
    preds = gold_predictions(mini, model="gold")
    preds[1]["model_patch"] = ""  # one empty patch, so every report list is exercised
    path = tmp_path_factory.mktemp("preds") / "preds.jsonl"
    write_predictions(path, preds)
    return path


def test_killed_run_resumes_to_the_uninterrupted_report(preds_file, tmp_path):
    base = ["eval", "swe-bench", "-p", str(preds_file), "--sandbox", "local"]
    full = agents(*base, "-o", str(tmp_path / "full"), "--workers", "2", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    report_path = Path(full.stdout.strip().splitlines()[-1])
    assert report_path.name == "gold.swe-mini.preds.json"
    uninterrupted = json.loads(report_path.read_text())
    n = len(load_dataset("swe-mini"))
    assert uninterrupted["resolved_instances"] == n - 1
    assert uninterrupted["empty_patch_instances"] == 1

    out = tmp_path / "killed"
    results = out / "swe-mini.preds" / "gold" / "results.jsonl"
    proc = subprocess.Popen(
        [*AGENTS, *base, "-o", str(out), "--workers", "1"], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    graded_before = read_results(results)
    assert 3 <= len(graded_before) < n - 1, "the kill must land halfway"
    assert not (out / "gold.swe-mini.preds.json").exists()

    resumed = agents(*base, "-o", str(out), "--workers", "2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("skipped (already graded)") == len(graded_before)
    lines = [json.loads(x) for x in results.read_text().splitlines() if x.strip()]
    ids = [x["instance_id"] for x in lines]
    assert len(ids) == len(set(ids)) == n - 1, "no instance graded twice"
    assert json.loads((out / "gold.swe-mini.preds.json").read_text()) == uninterrupted


def test_a_changed_prediction_is_regraded(tmp_path):
    mini = load_dataset("swe-mini", ["pytoolz__toolz-1"])
    preds = gold_predictions(mini)
    path = tmp_path / "p.jsonl"
    write_predictions(path, preds)
    args = ["eval", "swe-bench", "-p", str(path), "--sandbox", "local", "-o", str(tmp_path),
            "-i", "pytoolz__toolz-1", "--run-id", "r"]  # fmt: skip
    first = agents(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    preds[0]["model_patch"] = preds[0]["model_patch"].replace(
        "next(inposed, None)", "next(inposed)"
    )
    write_predictions(path, preds)
    second = agents(*args, cwd=tmp_path)
    assert "unresolved" in second.stderr
    report = json.loads((tmp_path / "gold.r.json").read_text())
    assert report["unresolved_ids"] == ["pytoolz__toolz-1"]


@pytest.mark.parametrize(
    ("lines", "extra", "message"),
    [
        (['{"instance_id": "tkem__cachetools-1",\n'], [], "p.jsonl line 1: not valid JSON"),
        ([{"instance_id": "x__y-9", "model_name_or_path": "m", "model_patch": ""}], [],
         "not in the dataset: x__y-9"),
        ([{"instance_id": "tkem__cachetools-1", "model_name_or_path": "m", "model_patch": ""}],
         ["-i", "tkem__cachetools-99"], "unknown instance id(s) tkem__cachetools-99"),
        ([{"instance_id": "tkem__cachetools-1", "model_name_or_path": "m", "model_patch": ""}],
         ["--sandbox", "vm"], "--sandbox must be docker, local or auto"),
        ([{"instance_id": "tkem__cachetools-1", "model_name_or_path": "m", "model_patch": ""}],
         ["-d", "nope.jsonl"], "dataset file nope.jsonl not found"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2(tmp_path, lines, extra, message):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(x if isinstance(x, str) else json.dumps(x) + "\n" for x in lines))
    res = agents("eval", "swe-bench", "-p", str(path), *extra, cwd=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert message in " ".join(res.stderr.split())
    assert len(res.stderr.strip().splitlines()) <= 2  # rich may wrap a long line


def test_docker_not_running_says_use_local(tmp_path):
    path = tmp_path / "p.jsonl"
    write_predictions(path, gold_predictions(load_dataset("swe-mini", ["tkem__cachetools-1"])))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCKER_HOST": "unix:///nonexistent.sock",
           "COLUMNS": "200"}  # fmt: skip
    res = subprocess.run(
        [*AGENTS, "eval", "swe-bench", "-p", str(path), "--sandbox", "docker"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert "--sandbox local" in res.stderr and "Traceback" not in res.stderr


def test_no_disk_space_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    from agents.cli import main

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 << 30, 10 << 30, 5 << 20))
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "swe-bench", "-p", "gold", "--sandbox", "local", "-o", str(tmp_path)])
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "only 5 MB free" in err and "--output" in err
