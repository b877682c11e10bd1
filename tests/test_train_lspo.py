"""`agents train lspo`: every artifact per iteration, a latent space that grows, a rerun
that resumes without replaying finished games, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tiny_models import build_tiny_llama


def _cmd(tiny: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "agents.cli", "train", "lspo", "--model", f"local:{tiny}",
        "--out", str(out), "--iterations", "2", "--games", "2", "--candidates", "3",
        "--cfr-iterations", "30", "--dpo-steps", "2", "--eval-games", "6", *extra,
    ]  # fmt: skip


def test_iterations_save_their_artifacts_grow_the_space_and_resume(tmp_path: Path) -> None:
    tiny = build_tiny_llama(tmp_path / "tiny")
    out = tmp_path / "run"
    run = subprocess.run(_cmd(tiny, out), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    for it in (1, 2):
        step = out / f"iter{it}"
        for name in ("selfplay.jsonl", "space.json", "policy.json", "pairs.jsonl", "eval.json"):
            assert (step / name).is_file(), (it, name)
        assert len((step / "selfplay.jsonl").read_text().splitlines()) == 2
    s1 = json.loads((out / "iter1" / "summary.json").read_text())
    s2 = json.loads((out / "iter2" / "summary.json").read_text())
    # The catalogue grows: base kinds (8) + k clusters, k = 2 then 3 (fewer when a role
    # has fewer distinct candidates).
    assert all(8 <= n <= 10 for n in s1["strategies"]) and max(s1["strategies"]) == 10
    assert max(s2["strategies"]) == 11
    v = s1["versus_rule"]
    assert v["games"] == 6 and v["overall"] == (v["werewolves"] + v["village"]) / 2
    assert "iteration 2:" in run.stdout and "latent policy vs rule" in run.stdout
    assert "self-play" in run.stderr and "MCCFR" in run.stderr  # progress bars
    # A rerun resumes: no game is played again, the saved policy is kept.
    before = (out / "iter1" / "policy.json").read_text()
    again = subprocess.run(_cmd(tiny, out), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len((out / "iter2" / "selfplay.jsonl").read_text().splitlines()) == 2
    assert (out / "iter1" / "policy.json").read_text() == before
    assert (
        json.loads((out / "iter2" / "summary.json").read_text())["strategies"] == s2["strategies"]
    )


def test_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    bad = subprocess.run(
        _cmd(tmp_path / "missing", tmp_path / "run"), capture_output=True, text=True, timeout=300
    )
    assert bad.returncode != 0 and bad.stderr.startswith("error:"), bad.stderr[-500:]
    assert "Traceback" not in bad.stderr
    zero = subprocess.run(
        [*_cmd(tmp_path / "missing", tmp_path / "run"), "--games", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert zero.returncode != 0 and "games" in zero.stderr and "Traceback" not in zero.stderr


def test_the_report_reads_every_iteration_with_intervals(tmp_path: Path) -> None:
    from benchmarks.werewolf import wilson
    from benchmarks.werewolf_lspo import markdown, plot, summaries

    lo, hi = wilson(50, 100)
    assert (round(lo, 3), round(hi, 3)) == (0.404, 0.596)  # the textbook value
    for it, (w, v) in enumerate(((0.6, 0.3), (0.7, 0.4)), 1):
        step = tmp_path / f"iter{it}"
        step.mkdir()
        summary = {
            "iteration": it, "situations": 10, "strategies": [9, 9, 9, 9], "kinds": ["quiet"],
            "cfr_iterations_total": 100 * it, "dpo": {"pairs": 0},
            "versus_rule": {"games": 100, "werewolves": w, "village": v, "overall": (w + v) / 2},
        }  # fmt: skip
        (step / "summary.json").write_text(json.dumps(summary))
    rows = summaries(tmp_path)
    text = markdown(rows, "agents train lspo --out X")
    assert [r["iteration"] for r in rows] == [1, 2]
    assert "| 2 | 10 | 9 9 9 9 | quiet | 200 | 0 | not trained" in text
    # mean 0.55 +- 1.96 * sqrt(sum of p(1-p)/n over the Wilson-adjusted sides) / 2
    assert "0.550 [0.485, 0.615]" in text and "0.700 [0.604, 0.781]" in text
    assert "their setup" in text  # the paper's numbers, labelled as theirs
    plot(rows, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_the_report_adds_the_fixed_pool_and_the_cross_validation(tmp_path: Path) -> None:
    from benchmarks.werewolf_lspo import markdown, plot

    rate = {"rate": 0.6, "low": 0.5, "high": 0.7}
    member = {"overall": rate}
    agents = [
        {"iteration": i, "kind": k, "spec": "x", "games": 8, "seconds_per_game": 0.5,
         "pool": {"rate": 0.5 + i / 10, "low": 0.4, "high": 0.9},
         "members": {"rule": member, "react": {"overall": {"rate": None}}}}
        for i in (1, 2) for k in ("latent", "language")
    ]  # fmt: skip
    pool = {"pool": ["rule", "react"], "games": 4, "llm_games": 2, "react": "local:m",
            "seed": 9, "agents": agents}  # fmt: skip
    fold = {"fold": 0, "folds": 2, "train_pairs": 3, "heldout_pairs": 3, "heldout_premises": 1,
            "before": -0.5, "after": -0.25, "rose": 2, "train_before": 0.0,
            "train_after": 1.0, "seconds": 5}  # fmt: skip
    cv = {"pairs": 6, "games": 2, "model": "local:m", "steps": 4, "folds": [fold, fold],
          "mean_change": 0.25, "se": 0.1, "rose": 4, "premises": 2,
          "premise_mean_change": 0.25, "premise_se": 0.05, "premises_rose": 2}  # fmt: skip
    row = {
        "iteration": 1, "situations": 10, "strategies": [9, 9, 9, 9], "kinds": ["quiet"],
        "cfr_iterations_total": 100, "dpo": {"pairs": 0},
        "versus_rule": {"games": 100, "werewolves": 0.6, "village": 0.3, "overall": 0.45},
    }  # fmt: skip
    text = markdown([row], "cmd", pool=pool, cv=cv)
    assert "| 2 | language | 0.700 [0.400, 0.900] | 0.600 [0.500, 0.700] | - | 0.5 |" in text
    assert "--llm-games 2 --react-games 0 --react local:m --seed 9" in text
    assert "Pooled over 6 held-out pairs: change +0.2500" in text and "By game" in text
    plot([row], tmp_path / "p.png", pool)
    assert (tmp_path / "p.png").stat().st_size > 1000
