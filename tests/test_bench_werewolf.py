"""`agents bench werewolf`: the round robin ranks rule above random with sane intervals,
resumes from its log, records a failing bot's games as error rows and goes on, puts the
LSPO paper's numbers beside ours labelled as theirs; `pool_win_rate` rotates its pool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import games.werewolf.transcript as transcript_module
from agents.cli import main
from agents.commands.bench_werewolf import BenchWerewolfSettings
from benchmarks.werewolf import (
    WerewolfBench,
    markdown,
    play_game,
    pool_win_rate,
    run,
    summarize,
    wilson,
)
from foundation.errors import UserError
from foundation.jsonl import read_rows
from games.werewolf.game import load_werewolf
from games.werewolf.react import ReactBot

GAME = load_werewolf()


def _bench(tmp_path: Path, agents: tuple[str, ...], games: int) -> WerewolfBench:
    return WerewolfBench(
        agents=agents, games=games, output=str(tmp_path / "ww.jsonl"), speed_seconds=0
    )


def _sane(r: dict[str, Any]) -> None:
    assert 0.0 <= r["low"] <= r["rate"] <= r["high"] <= 1.0
    assert r["high"] - r["low"] < 0.5


def test_rule_beats_random_with_sane_intervals(tmp_path: Path) -> None:
    cfg = _bench(tmp_path, ("rule", "random"), 30)
    summary = summarize(cfg, run(cfg))
    rule, rand = summary["agents"]["rule"], summary["agents"]["random"]
    for a in (rule, rand):
        assert a["games"] == 60 and a["werewolves"]["games"] == a["village"]["games"] == 30
        for r in (a["overall"], a["werewolves"], a["village"]):
            _sane(r)
        assert a["roles"]["villager"]["seats"] == 90 and a["roles"]["werewolf"]["seats"] == 60
        assert a["roles"]["seer"]["rate"] == a["village"]["rate"]
    assert rule["overall"]["low"] > rand["overall"]["high"]
    assert rule["werewolves"]["rate"] > rand["werewolves"]["rate"]
    assert rule["village"]["rate"] > rand["village"]["rate"]
    # paired deals: game g of both pairings dealt the same roles
    rows = read_rows(Path(cfg.output))
    by_seed: dict[int, set[int]] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], set()).add(r["deal"])
    assert all(len(d) == 1 for d in by_seed.values()) and len(by_seed) == 30


def test_wilson_interval() -> None:
    low, high = wilson(0, 10)
    assert low == 0.0 and 0.25 < high < 0.35
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)


def test_a_rerun_skips_finished_games(tmp_path: Path) -> None:
    cfg = _bench(tmp_path, ("rule", "random"), 5)
    first = run(cfg)
    assert (first.new, first.skipped) == (10, 0)
    log = Path(cfg.output)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:4]) + "\n" + lines[4][:30])  # killed mid-write
    again = run(cfg)
    assert (again.new, again.skipped) == (6, 4)
    key = ("wolves", "village", "seed", "winner", "deal")
    assert [[r[k] for k in key] for r in again.rows] == [[r[k] for k in key] for r in first.rows]
    third = run(cfg)
    assert (third.new, third.skipped) == (0, 10)
    stale = [{**r, "code": "other"} for r in read_rows(log)]
    log.write_text("".join(json.dumps(r) + "\n" for r in stale))
    assert run(cfg).new == 10  # games logged by other code are not reused


def test_a_failing_bot_is_an_error_row_and_the_run_goes_on(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"  # one answer, then the model raises
    broken.write_text(json.dumps(["Thought: x\nChoice: 1"]))
    cfg = _bench(tmp_path, ("rule", "random", f"react:scripted:{broken}"), 2)
    result = run(cfg)
    assert len(result.rows) == 2 * 2 and len(result.errors) == 4 * 2
    assert {(r["wolves"], r["village"]) for r in result.rows} == {
        ("rule", "random"),
        ("random", "rule"),
    }
    assert all("scripted answers used" in e["error"] for e in result.errors)
    summary = summarize(cfg, result)
    text = markdown(summary)
    assert "## Errors (8 games; a rerun retries them)" in text
    again = run(cfg)  # errors are retried, finished games are not
    assert (again.new, again.skipped, len(again.errors)) == (8, 4, 8)


def test_the_markdown_puts_the_papers_numbers_beside_ours_as_theirs(tmp_path: Path) -> None:
    cfg = _bench(tmp_path, ("rule", "random"), 2)
    summary = summarize(cfg, run(cfg))
    text = markdown(summary)
    line = next(ln for ln in text.splitlines() if "LSPO 0.50" in ln)
    assert "theirs" in line.lower() and "large model" in line
    assert "strongest earlier agent 0.47" in line and "ReAct 0.38" in line
    assert "| `rule` |" in text and "games/s" in text
    assert summary["theirs"]["overall"] == {
        "LSPO": 0.5,
        "strongest earlier agent": 0.47,
        "ReAct": 0.38,
    }


def test_react_agents_of_a_game_share_one_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = tmp_path / "a.json"
    answers.write_text(
        json.dumps(
            {"responses": ["Say: I suspect player 2.", "Choice: 2"], "on_exhausted": "cycle"}
        )
    )
    seen: list[tuple[list[object], object]] = []
    real = transcript_module.share_transcript

    def spy(bots: list[object]) -> object:
        shared = real(bots)
        seen.append((list(bots), shared))
        return shared

    monkeypatch.setattr(transcript_module, "share_transcript", spy)
    row = play_game(GAME, f"react:scripted:{answers}", "rule", seed=3)
    [(bots, shared)] = seen
    react = [b for b in bots if isinstance(b, ReactBot)]
    assert len(react) == 2 and all(b.transcript is shared for b in react)
    assert "I suspect player 2." in shared.values()  # type: ignore[attr-defined]
    assert row["wolves_moves"] > 0 and row["village_invalid"] == 0


def test_pool_win_rate_rotates_the_pool() -> None:
    out = pool_win_rate(GAME, "rule", ["random", "rule"], games=12, seed=5)
    assert out["games"] == 12 and out["werewolves"]["games"] == out["village"]["games"] == 12
    assert out["by_member"]["random"]["werewolves"]["games"] == 6
    assert (
        out["by_member"]["random"]["overall"]["rate"] > out["by_member"]["rule"]["overall"]["rate"]
    )
    _sane(out["overall"])
    with pytest.raises(ValueError, match="at least one pool agent"):
        pool_win_rate(GAME, "rule", [], games=1)


def test_the_command_writes_reports_and_refuses_bad_agents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r" / "ww.jsonl"
    main(["bench", "werewolf", "--agents", "rule,random", "--games", "3", "--output", str(out),
          "--speed-seconds", "0.05"])  # fmt: skip
    text = capsys.readouterr().out
    assert "| `rule` |" in text and "in every seat" in text
    assert out.with_suffix(".md").exists() and json.loads(out.with_suffix(".json").read_text())
    with pytest.raises(UserError, match="unknown bot 'deepblue'; valid bot specs: random"):
        BenchWerewolfSettings(agents="rule,deepblue")
    with pytest.raises(UserError, match="at least two distinct agents"):
        BenchWerewolfSettings(agents="rule, rule")
    assert BenchWerewolfSettings(agents="mcts:sims=8,c=2,rule").specs() == (
        "mcts:sims=8,c=2",
        "rule",
    )
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "werewolf", "--agents", "rule", "--games", "1"])
    assert exit_.value.code == 2 and capsys.readouterr().err.count("\n") == 1
