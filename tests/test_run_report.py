"""The run report (`agents report RUN_DIR`, written by every swe-bench solve): what it
shows of a real scripted run, that a model's text is shown and never run, and clear errors
for a directory that is not a run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from swe_plans import IID, PlanLLM

from agents.cli import main
from benchmarks.report import render, run_data, write_report
from benchmarks.swe_bench.solve import run_swe_bench
from benchmarks.tasks import SolveOptions
from foundation.errors import UserError


def solve_run(out: Path, record: bool = True) -> Path:
    """SWE-Search with the plan model: a broken first edit, then the fix (a tree with a
    dead branch and a kept path), graded in the local sandbox."""
    opts = SolveOptions(
        model="scripted:plan", instances=(IID,), search="mcts", sandbox="local", output=out,
        max_iterations=4, record_prompts=record,
    )  # fmt: skip
    summary = run_swe_bench(opts, llm=PlanLLM("broken"))
    assert summary["resolved"] == 1
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return solve_run(tmp_path_factory.mktemp("report") / "run")


def test_solve_writes_the_page_with_calls_tree_diff_and_tests(run: Path) -> None:
    html = (run / "report.html").read_text()
    trajectory = json.loads((run / "trajectories" / f"{IID}.json").read_text())
    calls = trajectory["calls"]
    assert len(calls) == json.loads((run / "usage.json").read_text())["calls"]
    assert {c["role"] for c in calls} == {"agent", "judge"}
    assert all(c["messages"] and c["completions"] for c in calls)
    assert f"{IID}" in html and 'class="badge ok">resolved' in html
    assert html.count('<details class="call">') == len(calls)
    # The diff, line by line, coloured.
    assert (
        '<span class="add">+        if key in self:  # __missing__ may not store item</span>'
        in html
    )
    # The tree: every node a button; the kept path (root to the finished node) highlighted.
    data = run_data(run)
    (inst,) = data["instances"]
    assert html.count('<button class="node') == len(inst["nodes"]) >= 5
    assert inst["chosen"][0] == 0 and len(inst["chosen"]) >= 3
    assert html.count('<button class="node chosen"') == len(inst["chosen"])
    finish = next(n for n in inst["nodes"] if n["sid"] == inst["chosen"][-1])
    assert finish["action"].startswith("finish") and finish["calls"]
    # Test results from the grading.
    tests = html.split("<h3>Tests</h3>", 1)[1].split("<h3>", 1)[0]
    assert "<tr><td>FAIL_TO_PASS</td><td>3</td><td>0</td></tr>" in tests
    # Offline: nothing is fetched from elsewhere.
    assert not re.search(r"""(src|href)=["']?https?:""", html)


def test_model_text_is_shown_never_run(run: Path, tmp_path: Path) -> None:
    data = run_data(run)
    hostile = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'
    (inst,) = data["instances"]
    inst["calls"][0]["completions"][0]["text"] = hostile
    inst["patch"] = "+" + hostile
    inst["nodes"][1]["observation"] = hostile
    html = render(data)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html  # as text
    # In the tree's JSON the markup is escaped too, so it cannot end the script block.
    payload = html.split('<script type="application/json" id="nodes-0">', 1)[1]
    payload = payload.split("</script>", 1)[0]
    assert "<" not in payload and json.loads(payload)["nodes"][1]["observation"] == hostile


def test_no_prompts_leaves_the_calls_out(tmp_path: Path) -> None:
    run = solve_run(tmp_path / "run", record=False)
    assert "calls" not in json.loads((run / "trajectories" / f"{IID}.json").read_text())
    html = (run / "report.html").read_text()
    assert "Not recorded (the run used --no-prompts" in html
    assert '<details class="call">' not in html


def test_not_a_run_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError, match="no such directory"):
        write_report(tmp_path / "nope")
    with pytest.raises(UserError, match=r"is not a run directory: no solve.jsonl \(agents solve"):
        write_report(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_.value.code != 0 and err.count("\n") == 1 and err.startswith("error: ")


def test_agents_report_writes_where_asked(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "page.html"
    main(["report", str(run), "-o", str(out)])
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_text() == render(run_data(run))


def test_planning_story_and_play_runs_get_their_own_pages(tmp_path: Path) -> None:
    # A planning run writes its page at the end, one section per puzzle.
    main(["-q", "solve", "--task", "game24", "--agent", "rafa", "-m", "oracle", "-k", "2",
          "-o", str(tmp_path / "g24")])  # fmt: skip
    html = (tmp_path / "g24" / "report.html").read_text()
    assert "agents solve --task game24" in html and html.count('class="badge ok">solved') == 2
    assert "Numbers left: " in html
    # The trees of agents play --trees: every node a button.
    import pyspiel

    from games.bots import make_bot
    from games.play import PlaySession, Seat

    ttt = pyspiel.load_game("tic_tac_toe")
    seats = [
        Seat("mcts:sims=30", make_bot(ttt, "mcts:sims=30", seed=0)),
        Seat("random", make_bot(ttt, "random", seed=0)),
    ]
    PlaySession(ttt, seats, lambda _: None, lambda _: None, tree_dir=tmp_path / "trees").run()
    data = run_data(tmp_path / "trees")
    assert data["kind"] == "agents play --trees" and len(data["instances"]) >= 3
    page = render(data)
    assert page.count('<button class="node') == sum(len(s["nodes"]) for s in data["instances"])
    first = data["instances"][0]["nodes"]
    assert first[0]["sid"] == 0 and first[0]["visits"] == 30 and "value" in first[1]
    # A story run (the committed SmolLM2 story): its steps and one tree per plot step.
    story = run_data(Path(__file__).parent.parent / "benchmarks/results/story_smollm2")
    assert story["kind"] == "agents solve --task story"
    assert len(story["instances"]) == 1 + len(story["instances"][0]["steps"])


def test_bench_game_logs_get_a_table_per_bot_or_pairing(tmp_path: Path) -> None:
    from benchmarks.hanabi import HanabiBench
    from benchmarks.hanabi import run as hanabi
    from benchmarks.werewolf import WerewolfBench
    from benchmarks.werewolf import run as werewolf

    hanabi(HanabiBench(bots=("hanabi_rules", "random"), games=3, out=str(tmp_path)))
    data = run_data(tmp_path / "hanabi_games.jsonl")
    assert [s["id"] for s in data["instances"]] == ["hanabi_rules", "random"]
    table = data["instances"][0]["table"]
    assert len(table["rows"]) == 3 and "score" in table["columns"]
    assert data["instances"][0]["meta"].startswith("3 games · mean score ")
    page = write_report(tmp_path / "hanabi_games.jsonl")
    assert page == tmp_path / "hanabi_games.html" and page.read_text().count("<tr>") >= 8
    cfg = WerewolfBench(agents=("rule", "random"), games=2, output=str(tmp_path / "ww.jsonl"),
                        speed_seconds=0.0)  # fmt: skip
    werewolf(cfg)
    sections = run_data(tmp_path / "ww.jsonl")["instances"]
    assert sorted(s["id"] for s in sections) == ["random vs rule", "rule vs random"]
    assert all("won by " in s["meta"] for s in sections)
    with pytest.raises(UserError, match="not a game log"):
        (tmp_path / "other.jsonl").write_text('{"x": 1}\n')
        run_data(tmp_path / "other.jsonl")


def test_benches_write_their_games_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["bench", "hanabi", "--games", "2", "-o", str(tmp_path), "--json"])
    capsys.readouterr()
    assert "hanabi_rules" in (tmp_path / "hanabi_games.html").read_text()
    main(["bench", "werewolf", "--agents", "rule,random", "--games", "1", "--speed-seconds",
          "0", "-o", str(tmp_path / "ww.jsonl"), "--json"])  # fmt: skip
    capsys.readouterr()
    assert "rule vs random" in (tmp_path / "ww.html").read_text()
