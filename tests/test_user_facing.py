"""What a new user trips over first (issue 23's defects list): error messages that name
flags which exist, a solve summary that tells a patch from a resolved instance, reports
without developers' labels, and file names that survive every file system and a zip."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from agents.cli import app
from agents.llm import BudgetExceeded, load_llm

ROOT = Path(__file__).resolve().parent.parent
MSG = [{"role": "user", "content": "plan the next step"}]


def _every_flag() -> set[str]:
    """Every option name of every `agents` command."""
    flags: set[str] = set()

    def walk(command: Any) -> None:
        for param in getattr(command, "params", []):
            flags.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(get_command(app))
    return flags


@pytest.mark.parametrize("cap", [{"max_cost": 0.0001}, {"max_total_tokens": 150}])
def test_budget_errors_name_only_flags_that_exist(cap: dict[str, float], tmp_path: Path) -> None:
    script = tmp_path / "a.json"
    script.write_text(json.dumps(["word " * 100] * 5))
    llm = load_llm(f"scripted:{script}", price="1000,1000", cache=False, **cap)
    with pytest.raises(BudgetExceeded) as info:
        for _ in range(5):
            asyncio.run(llm.complete(MSG, max_tokens=100))
    named = set(re.findall(r"--[a-z][a-z-]+", str(info.value)))
    assert named, str(info.value)  # it tells the user what to change
    flags = _every_flag()
    assert "--max-cost" in flags and "--no-such-flag" not in flags
    assert named <= flags, f"{named - flags} named in: {info.value}"


def test_a_solve_summary_tells_a_patch_from_a_resolved_instance(tmp_path: Path) -> None:
    """The broken edit makes a patch that does not resolve the instance."""
    from agents.llm import ScriptedLLM
    from benchmarks.swe_bench.solve import run_swe_bench
    from benchmarks.tasks import SolveOptions
    from tests.swe_plans import BROKEN_PLAN, IID

    opts = SolveOptions(
        model="scripted:broken", instances=(IID,), sandbox="local", output=tmp_path / "run"
    )
    summary = run_swe_bench(opts, llm=ScriptedLLM(BROKEN_PLAN))
    assert summary["with_patch"] == 1 and summary["resolved"] == 0
    assert "solved" not in summary
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert written["with_patch"] == 1 and written["resolved"] == 0
    # The grading report's file name carries no colon from the model spec.
    names = [p.name for p in (tmp_path / "run").rglob("*")]
    assert names and not [n for n in names if ":" in n]


def test_model_log_directories_have_no_colon() -> None:
    from benchmarks.swe_bench.dataset import model_dir

    assert model_dir("local:smollm2") == "local_smollm2"
    assert model_dir("openai/gpt-4o") == "openai__gpt-4o"  # SWE-bench's own rule, kept


def test_results_files_carry_no_developer_labels_or_colons() -> None:
    results = ROOT / "benchmarks" / "results"
    files = list(results.rglob("*"))
    assert len(files) > 20
    assert not [f for f in files if ":" in f.name]
    for md in results.rglob("*.md"):
        text = md.read_text()
        assert not re.search(r"\b[Ii]ssues? \d+\b", text), md.name
    for source in (ROOT / "benchmarks").rglob("*.py"):
        assert not re.search(r"\(issues? \d+\)", source.read_text()), source.name


def _short_flags() -> dict[str, set[tuple[str, str]]]:
    """Each short flag -> {(command, its long name)} over every `agents` command."""
    found: dict[str, set[tuple[str, str]]] = {}

    def walk(command: Any, path: str) -> None:
        for param in getattr(command, "params", []):
            names = [*param.opts, *param.secondary_opts]
            long = next((n for n in names if n.startswith("--")), param.name)
            for short in (n for n in names if n.startswith("-") and not n.startswith("--")):
                found.setdefault(short, set()).add((path, long))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(get_command(app), "agents")
    return found


def test_one_flag_vocabulary_across_commands() -> None:
    """A short flag means the same thing in every command, and the common options have
    their short flag wherever they appear."""
    shorts = _short_flags()
    for short, uses in shorts.items():
        meanings = {long for _, long in uses}
        assert len(meanings) == 1, f"{short} means {sorted(meanings)} in {sorted(uses)}"
    common = {"--model": "-m", "--output": "-o", "--limit": "-k", "--instances": "-i",
              "--workers": "-w"}  # fmt: skip

    def walk(command: Any, path: str) -> None:
        for param in getattr(command, "params", []):
            names = [*param.opts, *param.secondary_opts]
            for long, short in common.items():
                if long in names:
                    assert short in names, f"{path} {long} has no {short}"
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(get_command(app), "agents")
    assert len(shorts["-m"]) >= 8 and len(shorts["-o"]) >= 10
