"""`agents solve --task appworld` as a user runs it (the CLI's `main`, in this process):
appworld-mini with the gold model (100%, the report's TGC/SGC per level), a rerun skipping
what finished, a task that crashes becoming an error row, one-line errors for bad input,
and the official path (`--appworld-data`) on a data folder in AppWorld's official layout
built offline, which AppWorld's own code also reads and grades."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agents.cli import main
from foundation.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
TWO = "venmo-balance-0,simple-note-tag-0"


def agents(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `agents ARGS`; (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def installation() -> Any:
    from sandboxes.appworld import ensure_appworld
    from sandboxes.appworld.install import appworld_python
    from sandboxes.base import BuildError

    try:
        appworld_python()
    except BuildError as exc:
        pytest.skip(str(exc))
    return ensure_appworld()


# -- bad input: one line, before anything runs ---------------------------------------------


def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = ["solve", "--task", "appworld", "-o", str(tmp_path / "run")]
    line = one_line_error(*agents(capsys, *base, "--split", "validation")[::2])
    assert "unknown split 'validation'" in line and "train, dev, test" in line
    line = one_line_error(*agents(capsys, *base, "--split", "test_normal")[::2])
    assert "--appworld-data" in line and "appworld download data" in line
    line = one_line_error(*agents(capsys, *base, "--split", "dev", "-i", "nope-0")[::2])
    assert "unknown task 'nope-0'" in line
    line = one_line_error(*agents(capsys, *base, "--split", "dev", "-m", "oracle:best")[::2])
    assert "unknown oracle" in line
    line = one_line_error(*agents(capsys, *base, "--sandbox", "docker")[::2])
    assert "--sandbox does not apply to --task appworld" in line
    line = one_line_error(*agents(capsys, "solve", "--task", "game24", "--appworld-data", "x")[::2])
    assert "--appworld-data does not apply to --task game24" in line
    assert not (tmp_path / "run").exists()


def test_official_data_missing_or_malformed_says_how_to_get_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ["solve", "--task", "appworld", "--split", "dev", "-o", str(tmp_path / "run")]
    for directory in (tmp_path / "absent", tmp_path):
        line = one_line_error(*agents(capsys, *base, "--appworld-data", str(directory))[::2])
        assert "appworld download data" in line and str(directory) in line
    line = one_line_error(
        *agents(capsys, *base[:3], "--split", "test", "--appworld-data", str(tmp_path))[::2]
    )
    assert "unknown split 'test'" in line and "test_normal" in line
    # The layout is there, but a listed task id is not one (it would become a path).
    data = tmp_path / "root" / "data"
    for name in ("tasks", "datasets", "base_dbs", "api_docs/standard"):
        (data / name).mkdir(parents=True)
    (data / "datasets" / "dev.txt").write_text("../../etc_1\n")
    line = one_line_error(*agents(capsys, *base, "--appworld-data", str(tmp_path / "root"))[::2])
    assert "is not an AppWorld task id" in line
    (data / "datasets" / "dev.txt").write_text("abc_1\n")
    line = one_line_error(*agents(capsys, *base, "--appworld-data", str(data))[::2])
    assert "abc_1" in line and "unreadable" in line


# -- appworld-mini -------------------------------------------------------------------------


def test_gold_model_scores_100_and_a_rerun_skips_finished_tasks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, installation: Any
) -> None:
    out = tmp_path / "run"
    args = ["solve", "--task", "appworld", "--split", "dev", "-m", "oracle", "-i", TWO]
    code, stdout, err = agents(capsys, *args, "-o", str(out))
    assert code == 0, err
    assert "TGC 100.0% (2/2), SGC 100.0% (2/2 scenarios)" in stdout
    assert "venmo-balance-0: passed" in err and "simple-note-tag-0: passed" in err
    report = json.loads((out / "report.json").read_text())
    assert report["overall"]["tgc"] == 100.0 and report["overall"]["sgc"] == 100.0
    assert set(report["levels"]) == {"1", "2"} and report["levels"]["2"]["tasks"] == 1
    assert "| all | 2 | 100.0 | 2 | 100.0 |" in (out / "report.md").read_text()
    saved = json.loads((out / "trajectories" / "venmo-balance-0.json").read_text())
    assert saved["checks"]["success"] and "complete_task(answer=" in saved["turns"][0]["code"]
    assert saved["messages"][1]["content"].startswith("Here is an example")  # the demo
    code, stdout, err = agents(capsys, *args, "-o", str(out))
    assert code == 0 and err.count("already done (skipped)") == 2
    assert len(rows(out)) == 2 and "TGC 100.0% (2/2)" in stdout
    # Another model in the same run directory is refused, not mixed in.
    line = one_line_error(*agents(capsys, *args[:-4], "-m", "oracle:wrong", "-o", str(out))[::2])
    assert "model='oracle'" in line


def test_a_crashing_task_is_an_error_row_and_sgc_counts_scenarios(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, installation: Any
) -> None:
    # One scripted answer for a run that needs more: the second call raises, mid-task.
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(["```python\nprint(apis.supervisor.show_profile())\n```"]))
    out = tmp_path / "run"
    args = [
        "solve", "--task", "appworld", "--split", "dev", "-m", f"scripted:{answers}",
        "-i", "venmo-balance-0", "-n", "3", "-o", str(out),
    ]  # fmt: skip
    code, stdout, err = agents(capsys, *args)
    assert code == 0, err
    [row] = rows(out)
    assert row["status"] == "error" and not row["success"]
    assert "all 1 scripted answers used" in row["error"]
    assert "1 errors" in stdout and "TGC 0.0% (0/1)" in stdout
    code, _, err = agents(capsys, *args)
    assert code == 0 and "already done (skipped)" in err and len(rows(out)) == 1
    # The wrong solutions of one scenario: every task fails, so does the scenario.
    wrong = tmp_path / "wrong"
    code, stdout, err = agents(
        capsys, "solve", "--task", "appworld", "--split", "dev", "-m", "oracle:wrong",
        "-i", "venmo-balance-0,venmo-balance-1", "-o", str(wrong),
    )  # fmt: skip
    assert code == 0 and "TGC 0.0% (0/2), SGC 0.0% (0/1 scenarios)" in stdout


# -- the official path ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def official_data(tmp_path_factory: pytest.TempPathFactory, installation: Any) -> Path:
    from benchmarks.appworld import tasks
    from sandboxes.appworld.official import build_mini_data

    by_name = {m.name: m for m in tasks()}

    def pick(*names: str) -> list[Any]:
        return [(by_name[n].task, by_name[n].gold) for n in names]

    root = tmp_path_factory.mktemp("appworld-official")
    build_mini_data(
        root,
        {
            "train": pick("spotify-public-playlist-0"),
            "dev": pick("venmo-balance-0", "venmo-balance-1", "simple-note-tag-0"),
            "test_normal": pick("todoist-open-tasks-0"),
            "test_challenge": pick("notes-to-files-0"),
        },
        installation,
    )
    return root


APPWORLD_CHECK = """
import json, sys
from appworld.environment import AppWorld
from appworld.evaluator import evaluate_dataset
from appworld.task import Task, load_task_ids

results = {}
for split in ("train", "test_normal"):
    for task_id in load_task_ids(split):
        full = not split.startswith("test")
        task = Task.load(task_id, ground_truth_mode="full" if full else "minimal")
        code = task.ground_truth.compiled_solution_code_body if full else "x = 1"
        with AppWorld(task_id=task_id, experiment_name="check") as world:
            world.execute(code)
            results[task_id] = world.evaluate().success
metrics = evaluate_dataset("check", "train", print_report=False, save_reports=False)
print(json.dumps({"results": results, "train": metrics["aggregate"]}))
"""


def test_the_built_folder_is_read_and_graded_by_appworld_itself(
    official_data: Path, installation: Any, tmp_path: Path
) -> None:
    """AppWorld's own loaders, environment and evaluator on the folder: the gold (from the
    full ground truth) passes on train (TGC and SGC 100 by `evaluate_dataset`); a no-op
    fails a test split's task (minimal ground truth)."""
    (tmp_path / "data").symlink_to(official_data / "data")
    done = subprocess.run(
        [str(installation.python), "-c", APPWORLD_CHECK],
        cwd=tmp_path, env={**installation.env(), "APPWORLD_ROOT": str(tmp_path)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    datasets = official_data / "data" / "datasets"
    [train] = (datasets / "train.txt").read_text().split()
    [test] = (datasets / "test_normal.txt").read_text().split()
    assert found["results"] == {train: True, test: False}
    assert found["train"] == {"task_goal_completion": 100.0, "scenario_goal_completion": 100.0}


def test_solve_on_the_official_layout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, official_data: Path
) -> None:
    from sandboxes.appworld.official import data_dir, load_split, prepare

    base = ["solve", "--task", "appworld", "--appworld-data", str(official_data)]
    out = tmp_path / "dev"
    code, stdout, err = agents(capsys, *base, "--split", "dev", "-m", "oracle", "-o", str(out))
    assert code == 0, err
    assert "appworld (official, dev) / oracle: TGC 100.0% (3/3), SGC 100.0% (2/2" in stdout
    report = json.loads((out / "report.json").read_text())
    assert report["suite"] == "official" and report["levels"]["1"]["scenarios"] == 1
    # The test splits ship no solution: the gold model is refused in one line ...
    line = one_line_error(*agents(capsys, *base, "--split", "test_normal", "-m", "oracle")[::2])
    assert "has no gold solution" in line
    # ... and a model that only completes the task fails the official checks.
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"responses": ["```python\napis.supervisor.complete_task()\n```"],
                                   "on_exhausted": "repeat_last"}))  # fmt: skip
    code, stdout, err = agents(
        capsys, *base, "--split", "test_challenge", "-m", f"scripted:{answers}",
        "-o", str(tmp_path / "challenge"),
    )  # fmt: skip
    assert code == 0 and "TGC 0.0% (0/1)" in stdout, err
    # The agent's executor sees the worlds, never the ground truth.
    data = data_dir(official_data)
    view = prepare(data, load_split(data, "dev"))
    for task in load_split(data, "dev"):
        world = view.data / "tasks" / task.task_id
        assert (world / "specs.json").is_file() and list((world / "dbs").iterdir())
    assert not list(view.data.rglob("ground_truth")) and not list(view.data.rglob("*.py"))
    assert (view.truth.stat().st_mode & 0o777) == 0o700
    for task in load_split(data, "dev"):
        assert (view.truth / task.task_id / "evaluation.py").is_file()


def test_official_task_ids_are_checked() -> None:
    from sandboxes.appworld.official import check_task_id

    assert check_task_id("82e2fac_1") == "82e2fac_1"
    for bad in ("../x_1", "a_b_1", "abc", "abc_1/..", "x_1\n"):
        with pytest.raises(UserError):
            check_task_id(bad)
