"""LSPO's held-out DPO measurement: cross-validation folds over a run's pooled pairs hold
out whole self-play games, every pair is held out exactly once, folds resume, and too
few games is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_models import build_tiny_llama

from benchmarks.werewolf_dpo_cv import cross_validate, load_pairs

pytest.importorskip("trl", reason="DPO needs the train extra (pip install '.[train]')")
pytest.importorskip("peft", reason="DPO needs the train extra (pip install '.[train]')")


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    for it in (1, 2):
        step = run / f"iter{it}"
        step.mkdir(parents=True)
        rows = [
            {
                "prompt": f"day {g} player {i} speaks",
                "chosen": f"I think player {i} is a werewolf.",
                "rejected": "I have nothing to add.",
                "group": f"game {g}",
                "chosen_p": 0.9,
                "rejected_p": 0.1,
            }
            for g in range(2)
            for i in range(2)
        ]
        (step / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def test_folds_hold_out_whole_games_once_and_resume(tmp_path: Path) -> None:
    run = _run(tmp_path)
    pairs = load_pairs(run)
    assert len(pairs) == 8
    assert {p.key for p in pairs} == {
        "iter1 game 0",
        "iter1 game 1",
        "iter2 game 0",
        "iter2 game 1",
    }
    model = f"local:{build_tiny_llama(tmp_path / 'tiny')}"
    result = cross_validate(run, folds=2, steps=2, model=model)
    assert result["pairs"] == 8 and result["games"] == 4 and result["premises"] == 4
    assert [f["heldout_pairs"] for f in result["folds"]] in ([4, 4], [2, 6], [6, 2])
    assert sum(f["heldout_pairs"] + f["train_pairs"] for f in result["folds"]) == 2 * 8
    assert not list((run / "dpo_cv").glob("fold*/*.safetensors"))
    saved = json.loads((run / "dpo_cv" / "cv.json").read_text())
    assert saved["mean_change"] == pytest.approx(result["mean_change"])
    stamp = (run / "dpo_cv" / "fold0" / "dpo_report.json").stat().st_mtime_ns
    again = cross_validate(run, folds=2, steps=2, model=model)
    assert (run / "dpo_cv" / "fold0" / "dpo_report.json").stat().st_mtime_ns == stamp
    assert again["mean_change"] == pytest.approx(result["mean_change"])


def test_too_few_games_for_the_folds(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="needs at least one game per fold"):
        cross_validate(_run(tmp_path), folds=5, model="local:unused")


def test_pairs_of_chosen_iterations(tmp_path: Path) -> None:
    run = _run(tmp_path)
    assert {p.key.split()[0] for p in load_pairs(run, [2])} == {"iter2"}
    assert len(load_pairs(run, [1, 2])) == len(load_pairs(run)) == 8
