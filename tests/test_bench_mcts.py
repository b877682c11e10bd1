"""A small, bounded smoke run of `agents bench mcts` (the real run is in the benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.mcts_speed import BenchConfig, _score, markdown

ROOT = Path(__file__).resolve().parents[1]


def _bench(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--sims", "30", "--games", "2", "--seconds", "0.005", "--positions", "1",
            "--reps", "1", "--workers", "1", "--out", str(out), *extra]  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", "from agents.cli import main; main()", "bench", "mcts", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip


def test_bench_mcts_writes_reports_and_resumes(tmp_path: Path) -> None:
    out = _bench(tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    rates = result["speed"]["sims_per_s"]
    assert set(rates) == {"ours", "ours_python_rollouts", "openspiel_python", "openspiel_cpp"}
    assert all(r > 0 for r in rates.values())
    assert result["speed"]["ratio_ours_to_python"] == rates["ours"] / rates["openspiel_python"]
    assert set(result["matches"]) == {"sims_python", "sims_cpp", "time_python", "time_cpp"}
    for m in result["matches"].values():
        assert m["games"] == 2 and m["wins"] + m["draws"] + m["losses"] == 2
    for name in ("mcts_speed.json", "mcts_speed.md", "mcts_speed.png"):
        assert (tmp_path / name).stat().st_size > 0
    log = (tmp_path / "mcts_speed.games.jsonl").read_text().splitlines()
    assert len(log) == 8 and {json.loads(line)["index"] for line in log} == {0, 1}
    again = _bench(tmp_path, "--pairing", "sims_cpp")
    assert again.returncode == 0, again.stderr
    assert "resuming: 8 games already" in again.stderr
    assert len((tmp_path / "mcts_speed.games.jsonl").read_text().splitlines()) == 8
    assert "| OpenSpiel C++ MCTSBot | 30 sims/move | 2 |" in again.stdout


def test_bad_pairing_is_rejected(tmp_path: Path) -> None:
    out = _bench(tmp_path, "--pairing", "vs_human")
    assert out.returncode == 2 and "valid: sims_python, sims_cpp" in out.stderr


def test_score_counts_draws_as_half_and_splits_by_seat() -> None:
    records = [
        {"ours_return": 1.0, "ours_seat": 0, "ours_s_per_move": 0.01, "theirs_s_per_move": 0.02},
        {"ours_return": 0.0, "ours_seat": 1, "ours_s_per_move": 0.01, "theirs_s_per_move": 0.02},
        {"ours_return": -1.0, "ours_seat": 1, "ours_s_per_move": 0.01, "theirs_s_per_move": 0.02},
    ]
    s = _score(records)
    assert (s["wins"], s["draws"], s["losses"]) == (1, 1, 1) and s["score"] == 0.5
    assert s["score_moving_first"] == 1.0 and s["score_moving_second"] == 0.25
    assert s["ci95"][0] < 0.5 < s["ci95"][1]
    assert BenchConfig().key() != BenchConfig(sims=10).key()
    assert BenchConfig().key() == BenchConfig(games=5, workers=1).key()  # resumable across these


def test_markdown_reports_ratios() -> None:
    result = {
        "config": {"game": "connect_four", "reuse": False},
        "machine": {"cpus": 2, "python": "3.11"},
        "speed": {"sims_per_search": 10, "positions": 1, "reps": 1,
                  "sims_per_s": {"ours": 300.0, "openspiel_python": 100.0, "openspiel_cpp": 600.0}},
        "matches": {},
        "checks": {"ours_3x_python": True},
    }  # fmt: skip
    text = markdown(result)
    assert "| ours | 300 | 3.00 | 0.50 |" in text and "PASS: ours_3x_python" in text
