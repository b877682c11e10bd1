"""RAFA, ToT, ReAct and the no-planning ablation on the planning tasks, with oracle,
misleading-oracle and scripted models."""

from __future__ import annotations

import json
from pathlib import Path

from agents.graphs.episode import run_episode
from agents.graphs.rafa import RAFAAgent, preset
from agents.llm import ScriptedLLM
from benchmarks.blocksworld.env import BlocksEnv
from benchmarks.blocksworld.oracle import BlocksOracle
from benchmarks.blocksworld.problem import generate
from benchmarks.game24.env import Game24Env
from benchmarks.game24.oracle import Game24Oracle
from benchmarks.game24.puzzles import load_heldout
from benchmarks.planning_tasks import run_task
from benchmarks.tictactoe.env import TicTacToeEnv


def test_oracle_solves_all_100_heldout_puzzles_through_the_full_rafa_loop(tmp_path: Path) -> None:
    summary = run_task("game24", "rafa", "oracle", limit=100, out=tmp_path)
    assert summary.instances == 100 and summary.success_rate == 1.0
    records = [json.loads(x) for x in (tmp_path / "trajectories.jsonl").read_text().splitlines()]
    assert all(r["outcome"]["verdict"] == "correct" for r in records)
    assert all(r["steps"] == 3 and len(r["trajectory"]) == 3 for r in records)


def test_planning_recovers_from_a_misleading_first_idea_and_acting_on_it_does_not() -> None:
    puzzles = load_heldout()[:5]
    for agent in ("rafa", "tot", "noplan", "react"):
        solved = sum(
            run_episode(
                Game24Oracle(mislead=True),
                Game24Env(p),
                agent,
                preset(agent) if agent != "react" else None,
                60,
            ).success
            for p in puzzles
        )
        assert solved == (5 if agent in ("rafa", "tot") else 0), agent
    x = generate(3, blocks=4, seed=0)
    rafa = [
        run_episode(BlocksOracle(True), BlocksEnv(i), "rafa", preset("rafa", depth=2), 100)
        for i in x
    ]
    noplan = [run_episode(BlocksOracle(True), BlocksEnv(i), "noplan", None, 100) for i in x]
    assert all(e.success for e in rafa) and not any(e.success for e in noplan)


def test_rafa_acts_on_the_first_step_only_and_replans_every_step() -> None:
    llm = Game24Oracle()
    env = Game24Env((4, 9, 10, 13))
    episode = RAFAAgent(llm, env, preset("rafa")).run()
    assert episode.success and episode.ended_by == "done"
    plans = [len(m["plan"]) for m in episode.trajectory]
    assert plans == [3, 2, 1]  # a full plan each time, of which one step is acted


def test_tot_keeps_its_plan_while_the_world_behaves_as_predicted() -> None:
    class Counting(Game24Oracle):
        proposals = 0

        def answer(self, prompt: str) -> str:
            if prompt.startswith("TASK: propose") and "Numbers left: " in prompt:
                type(self).proposals += 1
            return super().answer(prompt)

    env = Game24Env((4, 9, 10, 13))
    tot = run_episode(Counting(), env, "tot", preset("tot"), 60)
    assert tot.success
    tot_proposals, Counting.proposals = Counting.proposals, 0
    rafa = run_episode(Counting(), Game24Env((4, 9, 10, 13)), "rafa", preset("rafa"), 60)
    assert rafa.success and Counting.proposals > tot_proposals  # RAFA replanned, ToT did not


def test_unparseable_answers_are_fed_back_and_retried_within_a_bound() -> None:
    llm = ScriptedLLM(["no idea", "still no idea", "4 * 6 = 24"], on_exhausted="repeat_last")
    env = Game24Env((1, 1, 4, 6))
    episode = run_episode(llm, env, "react", None, 10)
    first = episode.trajectory[0]
    assert first["action"] == "4 * 6 = 24" and len(first["rejected"]) == 2
    retry = llm.calls[1].messages[-1]["content"]
    assert "not a usable move" in retry and "no step of the form" in retry
    stuck = run_episode(
        ScriptedLLM(["no idea"], on_exhausted="repeat_last"),
        Game24Env((1, 1, 4, 6)),
        "noplan",
        None,
        10,
    )
    assert stuck.ended_by == "no_move" and stuck.calls == 3  # 1 + 2 retries, then it stops


def test_the_call_budget_ends_an_episode_cleanly() -> None:
    episode = run_episode(Game24Oracle(), Game24Env((4, 9, 10, 13)), "rafa", preset("rafa"), 4)
    assert episode.ended_by == "out_of_calls" and episode.calls == 4 and not episode.success


def test_tictactoe_against_openspiel_bots_reflects_on_surprises() -> None:
    cells = "\n".join(f"cell {i}" for i in (4, 0, 2, 6, 8, 1, 3, 5, 7))
    llm = ScriptedLLM([cells], on_exhausted="repeat_last")
    env = TicTacToeEnv("random", seat=0, seed=1)
    episode = run_episode(llm, env, "rafa", preset("rafa", planner="mcts", simulations=8), 200)
    assert env.done() and episode.ended_by == "done"
    assert episode.outcome["score"] in (0.0, 0.5, 1.0)
    assert any(m["surprise"] for m in episode.trajectory)  # the model predicted cell 0 etc.
    assert any(r.messages[0]["content"].startswith("TASK: reflect") for r in llm.calls)
    strong = run_episode(llm, TicTacToeEnv("mcts:sims=200", seat=1, seed=0), "react", None, 50)
    assert strong.ended_by == "done"


def test_run_task_is_resumable(tmp_path: Path) -> None:
    first = run_task("blocksworld", "tot", "oracle", limit=3, out=tmp_path, max_calls=100)
    again = run_task("blocksworld", "tot", "oracle", limit=4, out=tmp_path, max_calls=100)
    lines = (tmp_path / "trajectories.jsonl").read_text().splitlines()
    assert first.instances == 3 and again.instances == 4 and len(lines) == 4
    assert first.success_rate == 1.0 and "solved" in first.lines()[0]


def test_solve_adapter_speaks_the_task_registry_options(tmp_path: Path) -> None:
    from benchmarks.planning_tasks import solve_game24
    from benchmarks.tasks import SolveOptions

    options = SolveOptions(model="oracle", limit=2, output=tmp_path, extra={"agent": "react"})
    summary = solve_game24(options)
    assert summary["success_rate"] == 1.0 and summary["agent"] == "react"
    assert "2/2 solved" in summary["output"] and "LLM calls" in summary["output"]


def test_episodes_count_unusable_answer_lines_and_compare_values_with_the_truth() -> None:
    llm = ScriptedLLM(["4 + 9 = 13\n1 + 1 = 3\nhello"], on_exhausted="repeat_last")
    episode = run_episode(llm, Game24Env((4, 9, 10, 13)), "noplan", preset("noplan"), 20)
    assert episode.ended_by == "no_move" and episode.steps == 1
    # first answer: one move, one invalid, one unparsable; then 3 answers with no move
    # (4 is gone): two invalid lines and one unparsable line each.
    stats = episode.stats
    assert stats["propose_answers"] == 4 and stats["move_lines"] == 1
    assert stats["invalid_lines"] == 7 and stats["unparsable_lines"] == 4
    assert stats["answers_without_move"] == 3 and stats["judged"] == []
    exact = run_episode(Game24Oracle(mislead=True), Game24Env((4, 9, 10, 13)), "rafa", None, 60)
    judged = exact.stats["judged"]
    assert judged and all(v == t for v, t in judged)  # the oracle's values are exact
    assert {t for _, t in judged} == {0.0, 1.0}  # it judged losing and winning states
    react = run_episode(llm, Game24Env((4, 9, 10, 13)), "react", None, 20)
    assert react.stats["act_answers"] == 1 + 3 and react.stats["answers_without_move"] == 3
