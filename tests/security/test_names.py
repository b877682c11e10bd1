"""Every name that becomes a path, and every dataset row, is checked first: a one-line
error (exit 2), never a directory outside the run or a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.swe_bench import DatasetError, load_dataset, load_predictions
from foundation.errors import UserError
from foundation.runs import path_component

ROOT = Path(__file__).resolve().parents[2]
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
IID = "tkem__cachetools-1"


def agents(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENTS, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )  # fmt: skip


def one_line_exit_2(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert message in " ".join(done.stderr.split()), done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "nul\x00", "tab\there", "new\nline", "x" * 201, "\ud800"]
)
def test_path_component_refuses_what_is_not_one_safe_name(name: str) -> None:
    with pytest.raises(UserError):
        path_component(name, "name")


@pytest.mark.parametrize("name", ["gold", "org__model-7b", "my model v1.0", "..x", "ünï"])
def test_path_component_keeps_ordinary_names(name: str) -> None:
    assert path_component(name, "name") == name


def gold_line(**overrides: object) -> str:
    inst = load_dataset("swe-mini", [IID])[0]
    row = {"instance_id": IID, "model_name_or_path": "gold", "model_patch": inst["patch"]}
    return json.dumps({**row, **overrides}) + "\n"


def test_eval_a_model_name_that_climbs_out_of_the_run_is_refused(tmp_path: Path) -> None:
    preds = tmp_path / "p.jsonl"
    preds.write_text(gold_line(model_name_or_path=".."))
    done = agents("eval", "swe-bench", "-p", str(preds), "--sandbox", "local", "-o", "logs",
                  cwd=tmp_path)  # fmt: skip
    one_line_exit_2(done, "model_name_or_path '..' cannot name a directory")
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").rglob("*.log"))


def test_eval_a_run_id_that_climbs_out_is_refused(tmp_path: Path) -> None:
    preds = tmp_path / "p.jsonl"
    preds.write_text(gold_line())
    done = agents("eval", "swe-bench", "-p", str(preds), "--sandbox", "local", "-o", "logs",
                  "--run-id", "../escape", cwd=tmp_path)  # fmt: skip
    one_line_exit_2(done, "run id '../escape' cannot name a directory")
    assert not (tmp_path / "escape").exists()


def test_a_poisoned_prediction_line_is_kept_as_an_error_not_a_stop(tmp_path: Path) -> None:
    mini = load_dataset("swe-mini")
    rows = [
        {"instance_id": mini[0]["instance_id"], "model_name_or_path": "m", "model_patch": ""},
        {"instance_id": mini[1]["instance_id"], "model_name_or_path": "m\x00", "model_patch": ""},
        {"instance_id": mini[2]["instance_id"], "model_name_or_path": "m", "model_patch": "\ud800"},
        {"instance_id": mini[3]["instance_id"], "model_name_or_path": "m", "model_patch": 7},
        {"instance_id": mini[4]["instance_id"], "model_name_or_path": "m"},
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = load_predictions(path, mini)
    assert "error" not in preds[mini[0]["instance_id"]]
    errors = [preds[mini[k]["instance_id"]]["error"] for k in range(1, 5)]
    for error, expected in zip(
        errors,
        ["control character", "lone surrogate", "must be a string or null", "missing field"],
        strict=True,
    ):
        assert error.startswith("invalid prediction (p.jsonl line") and expected in error
    assert {p["model_name_or_path"] for p in preds.values()} == {"m"}  # the run's model


def test_an_instance_id_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    inst = load_dataset("swe-mini", [IID])[0]
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({**inst, "instance_id": IID + "\n"}) + "\n")
    with pytest.raises(DatasetError, match="is not of the form owner__repo-NUMBER"):
        load_dataset(path)
    bad_sha = {**inst, "base_commit": inst["base_commit"] + "\n"}
    path.write_text(json.dumps(bad_sha) + "\n")
    with pytest.raises(DatasetError, match="base_commit must be a 40-hex-digit"):
        load_dataset(path)


@pytest.mark.parametrize("command", ["eval", "solve"])
def test_an_empty_dataset_is_a_one_line_error(command: str, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    if command == "eval":
        done = agents("eval", "swe-bench", "-d", "empty.jsonl", "-p", "gold", cwd=tmp_path)
    else:
        done = agents("solve", "-d", "empty.jsonl", "-m", "scripted:x.json", cwd=tmp_path)
    one_line_exit_2(done, "dataset empty.jsonl holds no instances")
