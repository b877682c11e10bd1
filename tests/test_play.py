"""`agents play`: terminal play against our agents, driven line by line as from a pipe."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyspiel
import pytest

from games.bots import make_bot
from games.play import PlaySession, Seat, parse_human_move

ROOT = Path(__file__).resolve().parents[1]
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
TTT = pyspiel.load_game("tic_tac_toe")


def _every_line_against(bot_spec: str, human: int) -> list[float]:
    """The human seat plays every legal line (depth first, `undo` to backtrack) through the
    same line-reading interface a pipe feeds; returns the human's result of each game."""
    tried: dict[tuple[int, ...], set[int]] = {}
    results: list[float] = []
    seats = [Seat(bot_spec, make_bot(TTT, bot_spec, seed=7)), Seat("human")]
    if human == 0:
        seats.reverse()
    session: PlaySession

    def driver(prompt: str) -> str | None:
        state = session.state
        if state.is_terminal():
            results.append(state.returns()[human])
            return "undo"
        done = tried.setdefault(tuple(state.history()), set())
        for action in state.legal_actions():
            if action not in done:
                done.add(action)
                return state.action_to_string(human, action)
        return "undo" if session.can_undo else "quit"

    session = PlaySession(TTT, seats, driver, lambda _: None, seed=0, show_thinking=False)
    assert session.run().reason == "quit"
    return results


@pytest.mark.parametrize("human", [0, 1])
def test_mcts_2000_never_loses_tic_tac_toe_to_any_line(human: int) -> None:
    results = _every_line_against("mcts:sims=2000", human)
    assert len(results) >= (100 if human == 0 else 40)  # every line was played out
    assert max(results) <= 0.0  # the human never wins: the bot never loses


def test_every_line_driver_does_find_a_win_against_a_weak_bot() -> None:
    assert max(_every_line_against("random", 0)) == 1.0  # the check can fail


def _agents(args: list[str], stdin: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENTS, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def test_piped_game_reprompts_bad_input_and_quits_cleanly() -> None:
    out = _agents(
        ["play", "tic_tac_toe", "--opponent", "mcts:sims=200", "--seed", "3"],
        "hello\n42\nx(1,1)\nx(1,1)\nundo\nundo\nquit\n",
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "'hello' is not a legal move here" in text and "'42' is not a legal move" in text
    assert "player 1 [mcts:sims=200] plays" in text and "thinking: mcts 200 sims" in text
    assert "1) x(0,0)" in text  # legal moves listed by name
    assert text.count("is not a legal move") == 3  # x(1,1) a second time is taken
    assert "undone: back to move 1" in text and "nothing to undo yet" in text
    assert "quit: game abandoned" in text and "Traceback" not in out.stderr


def test_piped_full_game_of_leduc_poker() -> None:
    out = _agents(
        ["play", "leduc_poker", "--opponent", "mcts:sims=200,worlds=4", "--seed", "1"], "1\n" * 20
    )
    assert out.returncode == 0, out.stderr
    assert "-- game over --" in out.stdout and "result: player 0 [human] (you)" in out.stdout
    assert "legal moves:" in out.stdout


def test_piped_full_game_of_hearts_with_two_human_seats() -> None:
    out = _agents(
        [
            "play",
            "hearts",
            "-H",
            "0",
            "-H",
            "2",
            "--opponent",
            "mcts:sims=40,worlds=2",
            "--opponent",
            "random",
        ],
        "1\n" * 80,
    )
    assert out.returncode == 0, out.stderr
    assert "-- game over --" in out.stdout
    assert "player 1 [mcts:sims=40,worlds=2] plays" in out.stdout
    assert "player 3 [random] plays" in out.stdout
    assert out.stdout.count("to play --") >= 26  # two humans played their 13 tricks


def test_input_ending_mid_game_abandons_it() -> None:
    out = _agents(["play", "connect_four", "--opponent", "random"], "x3\n")
    assert out.returncode == 0 and "input ended: game abandoned" in out.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["play", "tictactoe"], "unknown game 'tictactoe'; offered: tic_tac_toe, connect_four"),
        (
            ["play", "tic_tac_toe", "--opponent", "deepblue"],
            "unknown bot 'deepblue'; valid bot specs",
        ),
        (
            ["play", "tic_tac_toe", "--opponent", "mcts:sims=x"],
            "sims='x' is not a valid whole number",
        ),
        (["play", "goofspiel"], "simultaneous moves"),
        (["play", "goofspiel", "--opponent", "random"], "simultaneous moves; terminal play takes"),
        (["play", "tic_tac_toe", "--human", "5"], "--human 5: tic_tac_toe has seats 0-1"),
        (
            ["play", "tic_tac_toe", "--opponent", "random", "--opponent", "random"],
            "2 --opponent specs for 1",
        ),
    ],
)
def test_bad_input_names_what_is_valid(args: list[str], message: str) -> None:
    out = _agents(args, "")
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_ctrl_c_ends_cleanly() -> None:
    proc = subprocess.Popen(
        [*AGENTS, "play", "tic_tac_toe", "--opponent", "random"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "your move" not in seen and time.monotonic() < deadline:
        seen += os.read(proc.stdout.fileno(), 4096).decode()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err


def test_parse_human_move_takes_names_and_numbers_only() -> None:
    moves = [(0, "Fold"), (1, "Call"), (2, "Raise")]
    assert parse_human_move("call", moves) == 1 and parse_human_move("3", moves) == 2
    assert parse_human_move("0", moves) is None and parse_human_move("ca", moves) is None


def test_search_trees_are_written_with_move_names(tmp_path: Path) -> None:
    lines = iter(["x(1,1)", "quit"])
    seats = [Seat("human"), Seat("mcts:sims=100", make_bot(TTT, "mcts:sims=100", seed=0))]
    out: list[str] = []
    session = PlaySession(
        TTT, seats, lambda _: next(lines), out.append, show_thinking=True, tree_dir=tmp_path
    )
    assert session.run().reason == "quit"
    (tree,) = tmp_path.glob("move002-p1.json")
    data = json.loads(tree.read_text())
    assert data["action"] == "root" and data["visits"] == 100
    assert all(child["action"].startswith("o(") for child in data["children"])
    dot = tmp_path.joinpath("move002-p1.dot").read_text()
    assert dot.startswith("digraph") and "o(" in dot


def test_piped_game_against_a_scripted_llm_counts_its_invalid_answers(tmp_path: Path) -> None:
    script = ["o(0,0)", "banana", "o(2,1)", "x", "y", "z", "o(2,2)"]
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"responses": script, "on_exhausted": "repeat_last"}))
    cells = "".join(f"x({r},{c})\n" for r in range(3) for c in range(3))
    human = "x(1,1)\nx(0,1)\nx(1,0)\n" + cells * 2
    out = _agents(["play", "tic_tac_toe", "--opponent", f"llm:scripted:{answers}"], human)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "plays o(0,0)" in text and "plays o(2,1)" in text  # the second after one retry
    assert "no legal move in 3 answers; played random" in text
    assert "-- game over --" in text
    counts = re.search(r"\[llm:scripted:.*\]: (\d+) invalid answers, (\d+) random", text)
    assert counts is not None and int(counts[1]) >= 4 and int(counts[2]) >= 1
