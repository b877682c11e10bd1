"""LSPO's fixed-pool evaluation on a small fake run (scripted models): every agent meets
every member on both sides of the same deals, a latent policy against itself scores
exactly 0.5, the pool rate is the members' mean, and a rerun plays nothing new."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.werewolf_pool import PoolEval, evaluate, main
from games.werewolf.latent import LatentPolicy, LatentSpace


def _run(tmp_path: Path) -> Path:
    answers = tmp_path / "answers.json"
    lines = ["I think player 2 is a werewolf.", "Thought: hm\nChoice: 1", "I am just a villager."]
    answers.write_text(json.dumps({"responses": lines, "on_exhausted": "cycle"}))
    run = tmp_path / "run"
    space = LatentSpace.base()
    for it, favour in ((1, "quiet"), (2, "accuse")):
        step = run / f"iter{it}"
        step.mkdir(parents=True)
        table = {}
        for role, code in enumerate("WSDV"):
            row = [1.0 if s.kind == favour else 0.0 for s in space.roles[role]]
            for day in (1, 2, 3):
                table[f"{code} d{day} a7 p0 s0 m0 k0 o0"] = row
        LatentPolicy(space, table).save(step / "policy.json")
        (step / "summary.json").write_text(json.dumps({"model": f"scripted:{answers}"}))
    return run


def test_every_agent_meets_the_same_pool_on_both_sides(tmp_path: Path) -> None:
    run = _run(tmp_path)
    answers = tmp_path / "answers.json"
    cfg = PoolEval(run, games=3, llm_games=1, react_games=2, react=f"scripted:{answers}", seed=7)
    summary = evaluate(cfg)
    assert summary["pool"] == ["rule", "react", "latent 1", "latent 2"]
    rows = [json.loads(x) for x in (run / "pool.jsonl").read_text().splitlines()]
    assert not [r for r in rows if "error" in r]
    # 2 latent agents x (rule, 2 latent members: 3 deals; react: 2) + 2 language agents x
    # (rule, latent members: 1 deal; react: 2); each on both sides.
    assert len(rows) == 2 * (2 * (3 * 3 + 2) + 2 * (3 + 2))
    agents = {(a["iteration"], a["kind"]): a for a in summary["agents"]}
    assert set(agents) == {(1, "latent"), (1, "language"), (2, "latent"), (2, "language")}
    latent1 = agents[1, "latent"]
    assert latent1["members"]["latent 1"]["overall"]["rate"] == pytest.approx(0.5)
    assert latent1["members"]["rule"]["werewolves"]["games"] == 3
    assert latent1["members"]["react"]["village"]["games"] == 2
    overall = [m["overall"]["rate"] for m in latent1["members"].values()]
    assert latent1["pool"]["rate"] == pytest.approx(sum(overall) / len(overall))
    assert latent1["pool"]["low"] <= latent1["pool"]["rate"] <= latent1["pool"]["high"]
    language = agents[2, "language"]
    assert language["spec"] == f"lspo:run={run},iteration=2"
    assert [m["werewolves"]["games"] for m in language["members"].values()] == [1, 2, 1, 1]
    assert json.loads((run / "pool.json").read_text()) == json.loads(json.dumps(summary))
    # A rerun resumes: nothing new is played, the summary is the same.
    assert main([str(run), "--games", "3", "--llm-games", "1", "--react-games", "2",
                 "--react", f"scripted:{answers}", "--seed", "7"]) == 0  # fmt: skip
    assert len((run / "pool.jsonl").read_text().splitlines()) == len(rows)
    assert json.loads((run / "pool.json").read_text())["agents"] == summary["agents"]


def test_react_and_language_agents_can_be_left_out(tmp_path: Path) -> None:
    cfg = PoolEval(_run(tmp_path), games=2, llm_games=0, react_games=0)
    assert [label for label, _ in cfg.pool()] == ["rule", "latent 1", "latent 2"]
    assert [kind for _, kind, _ in cfg.agents()] == ["latent", "latent"]
    assert len(cfg.units()) == 2 * 3 * 2 * 2


def test_a_run_without_policies_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no iteration with a policy"):
        PoolEval(tmp_path).agents()
