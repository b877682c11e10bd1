"""`agents solve --task game24|blocksworld|tictactoe|story` through the real CLI entry point,
with the tasks' oracle models, scripted answer files and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agents.cli import main
from benchmarks.planning_tasks import describe_run, markdown_table, paired_difference


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # default run directories land under tmp_path/runs


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["solve", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def scripted(tmp_path: Path, answers: list[str], name: str = "answers.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps({"responses": answers, "on_exhausted": "cycle"}))
    return f"scripted:{path}"


def test_game24_oracle_scores_100_percent_through_rafa_and_a_rerun_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--task", "game24", "--model", "oracle", "--limit", "5")
    assert code == 0, err
    assert "game24 / rafa / oracle: 5/5 solved (100.0%)" in out
    assert "LLM calls" in out and "$0.0000" in out and "steps 3.00 per instance" in out
    run_dir = tmp_path / "runs" / "game24" / "rafa-oracle"
    rows = records(run_dir / "trajectories.jsonl")
    assert [r["id"] for r in rows] == [f"g24-{i:03d}" for i in range(5)]
    assert all(r["agent"] == "rafa" and r["outcome"]["verdict"] == "correct" for r in rows)
    assert all(len(r["trajectory"]) == 3 and len(r["trajectory"][0]["plan"]) == 3 for r in rows)
    assert err.count("solved (done") == 5  # progress, one line per instance
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["success_rate"] == 1.0 and summary["llm_calls"] == sum(r["calls"] for r in rows)

    code, out, err = run(capsys, "--task", "game24", "--model", "oracle", "--limit", "6")
    assert code == 0 and "6/6 solved" in out and "5 from the earlier run" in out
    assert err.count("solved (done") == 1  # only the new puzzle ran
    assert len(records(run_dir / "trajectories.jsonl")) == 6


def test_agent_option_reaches_the_agent_planning_recovers_and_noplan_does_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The misleading oracle names a losing step first: RAFA's lookahead avoids it,
    acting on the first proposal cannot (so a dropped --agent would show)."""
    rates = {}
    runs = [("game24", "rafa"), ("game24", "noplan"), ("game24", "react")]
    runs += [("blocksworld", "rafa"), ("blocksworld", "noplan")]
    for task, agent in runs:
        code, out, err = run(
            capsys, "--task", task, "-m", "oracle:mislead", "-k", "3", "--agent", agent, "-n", "100"
        )
        assert code == 0, err
        assert f"{task} / {agent} / oracle:mislead" in out
        rates[task, agent] = out.split("solved (")[1].split("%")[0]
    assert rates == {
        ("game24", "rafa"): "100.0",
        ("game24", "noplan"): "0.0",
        ("game24", "react"): "0.0",
        ("blocksworld", "rafa"): "100.0",
        ("blocksworld", "noplan"): "0.0",
    }
    rafa, noplan = (
        describe_run(Path("runs/blocksworld") / f"{a}-oracle_mislead") for a in ("rafa", "noplan")
    )
    assert paired_difference(rafa, noplan) == {"instances": 3, "difference": 1.0, "stderr": 0.0}
    assert rafa["value_disagreement"] == 0.0 and rafa["judged_states"] > 0  # exact values
    assert noplan["ended_by"] == {"done": 3} and noplan["invalid_lines"] == 0.0
    assert "| blocksworld | noplan | oracle:mislead | 3 | 0% |" in markdown_table([rafa, noplan])


def test_blocksworld_with_a_scripted_model_and_a_block_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moves = "\n".join(f"move {x} onto {y}" for x in "ABC" for y in ["table", *"ABC"] if x != y)
    model = scripted(tmp_path, [moves, "2"])  # proposals, then a distance estimate, ...
    args = ["--task", "blocksworld", "-m", model, "--option", "3", "-k", "2", "-n", "40"]
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "blocksworld / rafa / scripted:" in out and "/2 solved" in out
    run_dir = next((tmp_path / "runs" / "blocksworld").iterdir())
    assert run_dir.name.endswith("-3")  # the option is part of the default run directory
    rows = records(run_dir / "trajectories.jsonl")
    assert [r["id"] for r in rows] == ["bw3-0-0", "bw3-0-1"]  # three blocks, not four
    assert all(0 < r["calls"] <= 40 and r["steps"] >= 1 for r in rows)
    moved = [m["action"] for r in rows for m in r["trajectory"]]
    assert moved and all(m.startswith("move ") for m in moved)
    assert json.loads((run_dir / "run.json").read_text())["option"] == "3"


def test_tictactoe_with_a_scripted_model_against_random_and_mcts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = "\n".join(f"cell {i}" for i in (4, 0, 2, 6, 8, 1, 3, 5, 7))
    model = scripted(tmp_path, [cells])
    for opponent in ("random", "mcts:sims=50"):
        code, out, err = run(
            capsys, "--task", "tictactoe", "-m", model, "--option", opponent, "-k", "2"
        )
        assert code == 0, err
        assert "mean score" in out and "ended by: done 2" in out
        rows = records(Path(out.split("trajectories: ")[1].split()[0]))
        assert [r["id"] for r in rows] == [f"ttt-{opponent}-{i:03d}" for i in range(2)]
        assert [r["outcome"]["seat"] for r in rows] == [0, 1]
        assert all(r["outcome"]["opponent"] == opponent for r in rows)
        assert all(r["outcome"]["score"] in (0.0, 0.5, 1.0) for r in rows)
    # The ablation acts on the first proposal: one call per move, no MCTS (the task's planner).
    code, out, err = run(capsys, "--task", "tictactoe", "-m", model, "--agent", "noplan", "-k", "2")
    assert code == 0, err
    rows = records(Path(out.split("trajectories: ")[1].split()[0]))
    assert all(r["calls"] == r["steps"] and r["ended_by"] == "done" for r in rows)


def test_unusable_answers_are_fed_back_and_retried_within_a_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = scripted(tmp_path, ["I am not sure what to do here."])
    code, out, err = run(capsys, "--task", "game24", "-m", model, "--agent", "react", "-k", "2")
    assert code == 0, err
    assert "0/2 solved" in out and "ended by: no_move 2" in out
    rows = records(next((tmp_path / "runs" / "game24").iterdir()) / "trajectories.jsonl")
    assert [r["calls"] for r in rows] == [3, 3]  # the answer and two retries, then it gives up


def test_an_impossible_puzzle_is_reported_by_the_checker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--task", "game24", "-m", "oracle", "--option", "1 1 1 1")
    assert code == 0
    assert "0/1 solved" in out and "checker: impossible puzzle: 1 1 1 1 cannot make 24" in out
    code, out, _ = run(capsys, "--task", "game24", "-m", "oracle", "--option", "4 4 10 10")
    assert code == 0 and "1/1 solved" in out and "checker: correct" in out


def test_story_writes_the_story_its_tree_and_step_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = [
        "The keeper opened the door and found a staircase going down.",
        "At the bottom a lamp was burning although nobody had lit it.",
        "A letter on the table was addressed to the keeper's dead father.",
        "The sea outside went silent while she read the first line.",
        "yes",
    ]
    model = scripted(tmp_path, steps)
    premise = "a lighthouse keeper finds a door"
    code, out, err = run(capsys, "--task", "story", "-m", model, "--prompt", premise, "-n", "2")
    assert code == 0, err
    run_dir = next((tmp_path / "runs" / "story").iterdir())
    saved = json.loads((run_dir / "story.json").read_text())
    assert saved["premise"] == premise and len(saved["steps"]) == 2
    assert all(isinstance(s["value"], float) and s["text"] in steps for s in saved["steps"])
    assert out.count("[value ") == 2 and "story value" in out
    html = (run_dir / "tree.html").read_text()
    assert html.startswith("<!doctype html>") and saved["steps"][0]["text"] in html
    assert premise in (run_dir / "story.md").read_text()
    assert "story search (plot steps)" in err and "2/2" in err  # the progress bar


def test_planning_runs_show_a_bar_and_a_line_per_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTS_QUIET", "0")  # restored after the test: -q sets it
    code, _, err = run(capsys, "--task", "game24", "-m", "oracle", "-k", "3", "-o", "g")
    assert code == 0, err
    assert "game24 / rafa" in err and "3/3" in err
    assert err.count(": solved (") == 3
    code, _, err = run(capsys, "--task", "game24", "-m", "oracle", "-k", "3", "-o", "g")
    assert err.count("already done (skipped)") == 3 and "3/3" in err
    main(["-q", "solve", "--task", "game24", "-m", "oracle", "-k", "4", "-o", "g"])
    assert capsys.readouterr().err == ""  # -q: no bar, no lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "game24", "--agent", "mcts"], "unknown agent 'mcts' for game24"),
        (["--task", "story", "--prompt", ""], "the story prompt is empty"),
        (["--task", "story", "--prompt", "   "], "the story prompt is empty"),
        (["--task", "blocksworld", "--option", "9"], "number of blocks, 2 to 6, not '9'"),
        (["--task", "blocksworld", "--option", "four"], "number of blocks"),
        (["--task", "tictactoe", "--option", "grandmaster"], "unknown bot 'grandmaster'"),
        (["--task", "game24", "--option", "1 2 3"], "four whole numbers"),
        (["--task", "swe-bench", "--agent", "rafa"], "--agent does not apply to --task swe-bench"),
        (["--task", "game24", "--prompt", "x"], "--prompt does not apply to --task game24"),
        (["--task", "story", "--prompt", "x", "--agent", "tot"], "--agent does not apply"),
        (["--task", "game24", "--search", "mcts"], "--search does not apply to --task game24"),
        (["--task", "tictactoe", "-m", "oracle"], "task tictactoe has no oracle model"),
        (["--task", "tictactoe", "-k", "0"], "--limit must be >= 1"),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_code_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.jsonl"))


def test_resuming_with_other_settings_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--task", "game24", "-m", "oracle", "-k", "1", "-o", "run"]
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args, "-n", "7")
    assert code == 2 and "holds a run with max_calls=60, not 7" in err


def test_the_installed_command_prints_one_line_errors(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "from agents.cli import main; main()", "solve", "--task"]
    r = subprocess.run(
        [*cmd, "story", "--prompt", ""], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert r.returncode == 2 and r.stderr.startswith("error: the story prompt is empty")
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
