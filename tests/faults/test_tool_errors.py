"""A tool that raises is an observation the agent sees; a sandbox that fails ends only its
instance, with the reason recorded, and the run goes on (and a rerun does not replay it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from swe_plans import FIND, FINISH

from agents.llm import ScriptedLLM
from agents.swe.tools import RepoTools
from benchmarks.swe_bench.solve import run_swe_bench
from benchmarks.tasks import SolveOptions
from sandboxes import SandboxError

IDS = ("tkem__cachetools-1", "tkem__cachetools-2")


def test_a_failing_sandbox_ends_its_instance_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = RepoTools._find_class
    broken: list[str] = []

    def flaky(self: RepoTools, name: str):
        if not broken:  # the first instance's sandbox dies under the agent
            broken.append(name)
            raise SandboxError("lost the command in agents-search-x: container vanished")
        return real(self, name)

    monkeypatch.setattr(RepoTools, "_find_class", flaky)
    opts = SolveOptions(
        model="scripted:x.json", instances=IDS, sandbox="local", output=tmp_path / "run",
        evaluate=True,
    )  # fmt: skip
    summary = run_swe_bench(opts, llm=ScriptedLLM([FIND, FIND, FINISH]))
    assert summary["exit_code"] == 0
    out = Path(summary["output"])
    rows = [json.loads(r) for r in (out / "solve.jsonl").read_text().splitlines()]
    assert [r["instance_id"] for r in rows] == list(IDS)
    assert rows[0]["status"].startswith("error: SandboxError: lost the command")
    assert rows[1]["status"] == "finished"
    report = json.loads((out / "report.json").read_text())
    assert report["error_ids"] == [IDS[0]] and report["empty_patch_ids"] == [IDS[1]]
    assert "container vanished" in report["error_reasons"][IDS[0]]

    # The rerun skips both: the failure is recorded, not replayed.
    again = run_swe_bench(opts, llm=ScriptedLLM([FINISH]))
    assert again["exit_code"] == 0
    assert len((out / "solve.jsonl").read_text().splitlines()) == 2


def test_a_tool_exception_is_an_observation(tmp_path: Path) -> None:
    from sandbox_helpers import make_repo, open_backend

    from agents.swe.actions import Action

    with open_backend("local-plain", make_repo(tmp_path)) as sb:
        tools = RepoTools(sb)
        obs = tools.run(Action("create_file", (("path", "pkg"), ("content", "x"))))
        assert not obs.ok and obs.text.startswith("error: IsADirectoryError"), obs.text
        obs = tools.run(Action("create_file", (("path", "ok.txt"), ("content", "\udcff"))))
        assert not obs.ok and obs.text.startswith("error: UnicodeEncodeError"), obs.text
        sb.exec("mkfifo fifo")
        obs = tools.run(Action("create_file", (("path", "fifo"), ("content", "x"))))
        assert obs.text == "error: fifo is not a regular file", obs.text
