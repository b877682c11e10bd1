"""The conventions a command-line user expects: --version, -h, shell completion, -v/-q,
--json on the commands that print tables, `agents ask` reading stdin, and option defaults
from a TOML file (./agents.toml or --config), the command line winning over the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
HANABI = ["bench", "hanabi", "--bot", "hanabi_rules", "--seed", "5"]


def agents(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [*AGENTS, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_version_and_short_help(tmp_path: Path) -> None:
    proc = agents("--version", cwd=tmp_path)
    assert (
        proc.returncode == 0 and proc.stdout.strip() == f"agents-search {version('agents-search')}"
    )
    root = agents("-h", cwd=tmp_path)
    assert root.returncode == 0 and "--install-completion" in root.stdout
    assert "--config" in root.stdout and "--quiet" in root.stdout
    sub = agents("bench", "hanabi", "-h", cwd=tmp_path)
    assert sub.returncode == 0 and "--games" in sub.stdout and "-o" in sub.stdout


def test_shell_completion_script(tmp_path: Path) -> None:
    """The installed `agents` script (completion is named after the program)."""
    script = Path(sys.executable).parent / "agents"
    if not script.exists():
        pytest.skip(f"no installed agents script beside {sys.executable} (pip install -e .)")
    proc = subprocess.run(
        [str(script), "--show-completion", "bash"], cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "_AGENTS_COMPLETE" in proc.stdout and "complete " in proc.stdout


def test_quiet_leaves_stderr_empty_and_the_result_on_stdout(tmp_path: Path) -> None:
    loud = agents(*HANABI, "--games", "2", "-o", str(tmp_path / "a"), cwd=tmp_path)
    assert loud.returncode == 0 and "seed 5" in loud.stderr
    quiet = agents("-q", *HANABI, "--games", "2", "-o", str(tmp_path / "b"), cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and "hanabi_rules" in quiet.stdout
    # Errors still reach stderr, in one line.
    bad = agents("-q", *HANABI, "--players", "9", cwd=tmp_path)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "error" in bad.stderr


def test_option_defaults_from_agents_toml_and_config(tmp_path: Path) -> None:
    (tmp_path / "agents.toml").write_text('[bench.hanabi]\ngames = 3\nout = "from-toml"\n')
    proc = agents(*HANABI, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["bots"]["hanabi_rules"]["games"] == 3
    assert (tmp_path / "from-toml" / "hanabi_games.jsonl").exists()
    # The command line wins over the file.
    proc = agents(*HANABI, "--json", "--games", "2", cwd=tmp_path)
    assert json.loads(proc.stdout)["bots"]["hanabi_rules"]["games"] == 2
    # --config names another file; dashes and underscores both name an option.
    other = tmp_path / "other.toml"
    other.write_text('[bench.hanabi]\ngames = 4\n"out" = "from-other"\n')
    proc = agents("--config", str(other), *HANABI, "--json", cwd=tmp_path)
    assert json.loads(proc.stdout)["bots"]["hanabi_rules"]["games"] == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[bench.hanabi]\ngams = 3\n", "[bench.hanabi] has no option 'gams' (known: "),
        ("[sovle]\nlimit = 3\n", "the top level has no command 'sovle' (known: "),
        ("[bench.hanabi\n", "is not valid TOML"),
        ("[bench.hanabi]\ngames = 'many'\n", "Invalid value for '--games'"),
    ],
)
def test_a_bad_config_is_a_one_line_error(text: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "agents.toml").write_text(text)
    proc = agents(*HANABI, cwd=tmp_path)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    missing = agents("--config", str(tmp_path / "nope.toml"), "models", cwd=tmp_path)
    assert missing.returncode != 0 and "no such file" in missing.stderr


def test_json_on_commands_that_print_tables(tmp_path: Path) -> None:
    models = agents("models", "--json", cwd=tmp_path)
    assert models.returncode == 0, models.stderr
    specs = {row["spec"]: row for row in json.loads(models.stdout)}
    assert specs["local:PATH"]["usable"] is True and "scripted:FILE" in specs
    status = agents("sandbox", "status", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["local"]["usable"] is True and isinstance(data["docker"]["usable"], bool)
    assert {"state", "reason"} <= set(next(iter(next(iter(data["guarantees"].values())).values())))
    solve = agents(
        "solve", "--task", "game24", "--agent", "rafa", "-m", "oracle", "-k", "2", "--json",
        "-o", str(tmp_path / "g24"), cwd=tmp_path,
    )  # fmt: skip
    assert solve.returncode == 0, solve.stderr
    summary = json.loads(solve.stdout)
    assert summary["instances"] == 2 and summary["successes"] == 2


def test_ask_reads_the_prompt_from_stdin(tmp_path: Path) -> None:
    script = tmp_path / "answers.json"
    script.write_text(json.dumps(["Paris."]))
    proc = agents("ask", "-m", f"scripted:{script}", "--json", cwd=tmp_path, stdin="Capital?\n")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["answers"][0]["text"] == "Paris."
    empty = agents("ask", "-m", f"scripted:{script}", cwd=tmp_path, stdin="  \n")
    assert empty.returncode != 0 and "the prompt is empty" in empty.stderr


def test_eval_takes_the_official_harness_flag_names(tmp_path: Path) -> None:
    """`python -m swebench.harness.run_evaluation`'s flags work unchanged."""
    from benchmarks.swe_bench import load_dataset

    iid = load_dataset("swe-mini")[0]["instance_id"]
    proc = agents(
        "eval", "swe-bench", "--dataset_name", "swe-mini", "--predictions_path", "gold",
        "--max_workers", "1", "--run_id", "official", "--instance_ids", iid,
        "--sandbox", "local", "-o", str(tmp_path / "logs"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(Path(proc.stdout.strip().splitlines()[-1]).read_text())
    assert report["resolved_ids"] == [iid] and report["total_instances"] == 1
    assert (tmp_path / "logs" / "official" / "gold" / iid).is_dir()


def test_json_on_the_benchmarks_that_print_tables(tmp_path: Path) -> None:
    planning = agents(
        "bench", "planning", "--task", "game24", "--agent", "rafa", "--agent", "noplan",
        "-m", "oracle", "-k", "2", "-o", str(tmp_path / "p"), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert planning.returncode == 0, planning.stderr
    rows = json.loads(planning.stdout)
    assert [(r["agent"], r["instances"]) for r in rows] == [("rafa", 2), ("noplan", 2)]
    swe = agents(
        "bench", "swe-search", "-m", "oracle:swe,p=1,q=0,seed=0", "-k", "1", "--sandbox",
        "local", "-o", str(tmp_path / "s"), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert swe.returncode == 0, swe.stderr
    arms = json.loads(swe.stdout)
    assert [a["search"] for a in arms] == ["linear", "mcts"] and arms[0]["resolved"] == 1
