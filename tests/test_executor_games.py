"""`agents bench werewolf` and `agents bench mcts` with `--executor` Ray on a real (in-process,
2-CPU) Ray instance: the same reports and game logs as `--executor local` on the same seeds,
but for timings; language agents refused on Ray in one line, before any game."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.cli import main
from agents.commands.bench_werewolf import BenchWerewolfSettings
from foundation.errors import UserError

pytestmark = pytest.mark.timeout(120)

WEREWOLF_TIMINGS = ("seconds", "wolves_seconds", "village_seconds")
MCTS_TIMINGS = ("ours_s_per_move", "theirs_s_per_move")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Ray instance (2 CPUs) for the module, which the commands run in this process use
    (`--executor ray` joins the instance already up). Nothing of this module is sent to
    the workers: they play the benches' own module-level functions."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install '.[ray]')")
    started = time.monotonic()
    context = ray.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING
    )
    print(f"ray started in {time.monotonic() - started:.1f} s")
    try:
        yield str(context.address_info["gcs_address"])
    finally:
        ray.shutdown()


@pytest.fixture
def submissions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the tasks sent to Ray (proof that the games ran there, and how batched)."""
    from foundation.executors import RayPool

    sent: list[int] = []
    real = RayPool.submit

    def submit(self: RayPool, work: Any, unit: Any) -> Any:
        sent.append(len(unit) if isinstance(unit, list) else 1)
        return real(self, work, unit)

    monkeypatch.setattr(RayPool, "submit", submit)
    return sent


def _rows(path: Path, drop: tuple[str, ...], order: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows = [{k: v for k, v in r.items() if k not in drop} for r in rows]
    return sorted(rows, key=lambda r: [r[k] for k in order])


def test_bench_werewolf_reports_the_same_on_ray(
    cluster: str, submissions: list[int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summaries, logs = {}, {}
    for executor in ("local", "ray"):
        log = tmp_path / executor / "ww.jsonl"
        main(["bench", "werewolf", "--agents", "rule,random", "--games", "8", "--output",
              str(log), "--speed-seconds", "0", "--json", "--executor", executor])  # fmt: skip
        summary = json.loads(capsys.readouterr().out)
        summary["config"].pop("output")
        for agent in summary["agents"].values():
            agent.pop("seconds_per_move")  # the workers' clocks
        for matchup in summary["matchups"]:
            matchup.pop("games_per_s")
        assert summary["run"].pop("executor") == executor
        for timing in ("seconds", "games_per_s"):
            summary["run"].pop(timing)
        summaries[executor] = summary
        logs[executor] = _rows(log, WEREWOLF_TIMINGS, ("wolves", "village", "seed"))
    assert summaries["ray"] == summaries["local"]
    assert summaries["ray"]["agents"]["rule"]["games"] == 16
    assert summaries["ray"]["run"] == {"new_games": 16, "skipped": 0, "stopped": ""}
    assert logs["ray"] == logs["local"] and len(logs["ray"]) == 16
    # 16 games on 2 CPUs: about 4 tasks per CPU, 2 games each.
    assert sum(submissions) == 16 and len(submissions) == 8


def test_bench_mcts_plays_the_same_games_on_ray(
    cluster: str, submissions: list[int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The equal-simulation pairings (the equal-time ones depend on the clock even
    locally); the speed test runs here either way and is not compared."""
    results, logs = {}, {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        main(["bench", "mcts", "--sims", "20", "--games", "3", "--positions", "1", "--reps",
              "1", "--workers", "1", "--pairing", "sims_python", "--pairing", "sims_cpp",
              "--out", str(out), "--json", "--executor", executor])  # fmt: skip
        result = json.loads(capsys.readouterr().out)
        assert result.pop("executor") == executor
        for timed in ("speed", "checks", "machine"):  # this machine's speed test
            result.pop(timed)
        result["config"].pop("out")
        for match in result["matches"].values():
            for timing in ("ours_ms_per_move", "theirs_ms_per_move"):
                match.pop(timing)
        results[executor] = result
        logs[executor] = _rows(out / "mcts_speed.games.jsonl", MCTS_TIMINGS, ("pairing", "index"))
        assert (out / "mcts_speed.md").read_text().count("Games played as Ray tasks") == (
            executor == "ray"
        )
    assert results["ray"] == results["local"]
    assert [m["games"] for m in results["ray"]["matches"].values()] == [3, 3]
    assert logs["ray"] == logs["local"] and len(logs["ray"]) == 6
    assert submissions == [1] * 6  # a game per task: seconds each at real budgets


def test_language_agents_are_refused_on_ray_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before Ray starts or any bot is built (no cluster needed)."""
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"responses": ["Choice: 1"], "on_exhausted": "cycle"}))
    log = tmp_path / "ww.jsonl"
    args = ["bench", "werewolf", "--agents", f"rule,react:scripted:{answers}", "--games", "1",
            "--output", str(log), "--speed-seconds", "0"]  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--executor", "ray"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "does not run language agents (react:scripted:" in err
    assert "use --executor local" in err and not log.exists()
    with pytest.raises(UserError, match="does not run language agents"):
        BenchWerewolfSettings(agents="rule,llm:openai:gpt-4o-mini", executor="127.0.0.1:6379")
    # The benchmark refuses too, when called without the command.
    from benchmarks.werewolf import WerewolfBench, run

    cfg = WerewolfBench(agents=("rule", "lspo:run=x"), games=1, output=str(log))
    with pytest.raises(UserError, match=r"\(lspo:run=x\) yet"):
        run(cfg, executor="ray")
    assert not log.exists()
    # Locally they play as before.
    main([*args, "--executor", "local", "--json"])
    assert json.loads(capsys.readouterr().out)["run"]["new_games"] == 2
