"""benchmarks/ray_overhead.py: the projection's arithmetic, and one small real run (Ray in
this process, eval on swe-mini with the local sandbox, a few Hanabi games) whose reports
must agree across the two arms."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import ray_overhead


def _measured(eval_ray: float, start: float = 2.0, cpus: int = 2) -> dict[str, Any]:
    return {
        "cpus": cpus,
        "sandbox": "local",
        "rounds": 1,
        "games": 10,
        "ray_start_s": start,
        "timings": {
            "eval": {"local": [7.0], "ray": [eval_ray]},
            "hanabi": {"local": [1.0], "ray": [1.2]},
        },
        "median": {"eval": {"local": 7.0, "ray": eval_ray}, "hanabi": {"local": 1.0, "ray": 1.2}},
        "resolved": 14,
        "hanabi_mean": 20.5,
        "worker_peak_mib": 150.0,
        "env_cache_mib": 80.0,
    }


def test_the_projection_follows_the_measured_costs() -> None:
    rows = ray_overhead.scale(_measured(eval_ray=7.0))
    grade = rows[0]
    assert grade["calls"] == 0 and grade["instance_s"] == 1.0  # 7 s x 2 slots / 14
    # N=1: 150 waves of one-second instances, plus Ray's start; N=8: ceil(300/16) = 19.
    assert grade["wall_s"] == {1: 152.0, 2: 77.0, 4: 40.0, 8: 21.0}
    per_call = ray_overhead.LOCAL_SECONDS_PER_CALL["seconds"]
    for row, cost in zip(rows[1:], ray_overhead.CALLS.values(), strict=True):
        assert row["instance_s"] == round(cost["calls"] * per_call + 1.0, 2)
        assert row["calls_total"] == round(cost["calls"] * 300)
        # One model host per node: its 300 / N instances' calls one after another.
        for n in ray_overhead.NODES:
            serial = math.ceil(300 / n) * cost["calls"] * per_call + 1.0
            assert row["wall_s"][n] == round(2.0 + serial, 1)
        walls = [row["wall_s"][n] for n in ray_overhead.NODES]
        assert walls == sorted(walls, reverse=True) and walls[0] > 7 * walls[-1]
    # Slower grading moves every row.
    slower = ray_overhead.scale(_measured(eval_ray=14.0))
    assert all(s["wall_s"][1] > r["wall_s"][1] for s, r in zip(slower, rows, strict=True))


def test_the_report_says_when_ray_is_not_within_ten_percent() -> None:
    fast, slow = _measured(eval_ray=7.5), _measured(eval_ray=8.0)  # 1.07x and 1.14x
    text = ray_overhead.markdown(fast, ray_overhead.scale(fast), "cmd")
    eval_line = next(line for line in text.splitlines() if line.startswith("| `agents eval"))
    assert eval_line.endswith("| 1.07 | yes |")
    text = ray_overhead.markdown(slow, ray_overhead.scale(slow), "cmd")
    eval_line = next(line for line in text.splitlines() if line.startswith("| `agents eval"))
    assert eval_line.endswith("| 1.14 | NO |")
    assert "projected, not run" in text and "| N=8 |" in text


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_a_small_run_writes_agreeing_reports(tmp_path: Path) -> None:
    assert ray_overhead.main(["--rounds", "1", "--games", "6", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "ray_overhead.json").read_text())
    assert data["resolved"] == 14  # gold patches resolve every swe-mini instance, both arms
    for work in ("eval", "hanabi"):
        for arm in ("local", "ray"):
            (seconds,) = data["timings"][work][arm]
            assert 0 < seconds < 300 and math.isclose(
                data["median"][work][arm], seconds, abs_tol=1e-3
            )
    assert data["ray_start_s"] > 0 and data["worker_peak_mib"] > 0
    assert data["scale"][0]["work"] == "grade only (gold patches)"
    text = (tmp_path / "ray.md").read_text()
    assert "python -m benchmarks.ray_overhead --rounds 1 --games 6" in text
    assert text.count("| N=1 |") == 1
