"""Terminal play of imperfect-information games: each human seat sees its own cards with
suits and the public history in words, nothing of another seat's private cards; move
numbers count players' moves only; a bot's reasoning is not shown to a human there; and
--trees says when no bot builds a tree instead of writing nothing."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pyspiel
import pytest

from games.bots import make_bot
from games.errors import GameError
from games.play import PlaySession, Seat
from games.views import card, player_moves, player_view

SYMBOL = re.compile(r"(?:10|[2-9JQKA])[♠♥♦♣]")


def dealt(name: str, seed: int = 0, moves: int = 0) -> pyspiel.State:
    """A state after the deal (random chance outcomes) and `moves` random player moves."""
    rng = random.Random(seed)
    state = pyspiel.load_game(name).new_initial_state()
    made = 0
    while not state.is_terminal():
        if state.is_chance_node():
            state.apply_action(rng.choice([a for a, _ in state.chance_outcomes()]))
        elif made < moves:
            state.apply_action(rng.choice(state.legal_actions()))
            made += 1
        else:
            break
    return state


def test_cards_are_drawn_with_suits() -> None:
    assert [card(c) for c in ("TH", "Qs", "2C", "Ad", "XX")] == ["10♥", "Q♠", "2♣", "A♦", "XX"]


def test_leduc_shows_my_card_and_the_betting_not_the_other_card() -> None:
    game = pyspiel.load_game("leduc_poker")
    state = game.new_initial_state()
    state.apply_action(0)  # J♠ to player 0
    state.apply_action(5)  # K♥ to player 1
    state.apply_action(2)  # player 0 raises
    mine, theirs = player_view(state, 0), player_view(state, 1)
    assert "your card: J♠" in mine and "K♥" not in mine
    assert "your card: K♥" in theirs and "J♠" not in theirs
    assert "round 1: raise" in mine and "board card: (not dealt yet)" in mine
    assert "chips left: player 0 (you)" in mine


def _raw_hand(raw: str) -> set[str]:
    """A seat's cards from OpenSpiel's own hearts string ('S AT93' lines after 'Hand:')."""
    section = raw.split("Hand:", 1)[1].split("\n\n", 1)[0]
    found = set()
    for line in section.splitlines():
        m = re.fullmatch(r"([SHDC]) ?([2-9TJQKA]*)", line.strip())
        if m:
            found |= {card(rank + m.group(1)) for rank in m.group(2)}
    return found


def _drawn_hand(view: str) -> set[str]:
    """The cards of a drawn view's hand ('♠ J 10 3' lines)."""
    section = view.split("Hand:", 1)[1].split("\n\n", 1)[0]
    found = set()
    for line in section.splitlines():
        suit, _, ranks = line.strip().partition(" ")
        found |= {rank + suit for rank in ranks.split()}
    return found


@pytest.mark.parametrize("seed", range(5))
def test_hearts_shows_only_my_hand(seed: int) -> None:
    state = dealt("hearts", seed)
    me = state.current_player()
    view = player_view(state, me)
    mine = _drawn_hand(view)
    assert mine == _raw_hand(state.information_state_string(me)) and len(mine) == 13
    assert not re.search(r"\b[2-9TJQKA][SHDC]\b", view)  # every card drawn with its suit
    for other in set(range(4)) - {me}:
        assert not mine & _raw_hand(state.information_state_string(other))
        assert not _raw_hand(state.information_state_string(other)) <= set(SYMBOL.findall(view))


def test_liars_dice_shows_my_dice_and_the_bids() -> None:
    state = dealt("liars_dice", 3, moves=2)
    me = state.current_player()
    view = player_view(state, me)
    own = state.information_state_string(me).split()
    dice = [w for w in own if w.isdigit()]
    assert f"your dice: {' '.join(dice)}" in view
    assert "bids so far: " in view and "×" in view
    other = 1 - me
    their_dice = [w for w in state.information_state_string(other).split() if w.isdigit()]
    assert f"your dice: {' '.join(their_dice)}" not in view or their_dice == dice


def test_gin_rummy_draws_my_cards_with_suits() -> None:
    state = dealt("gin_rummy", 1, moves=1)
    me = state.current_player()
    view = player_view(state, me)
    assert SYMBOL.search(view) and not re.search(r"\b[2-9TJQKA][shdc]\b", view)


def test_bridge_keeps_its_own_drawing_of_my_hand() -> None:
    state = dealt("bridge", 2)
    me = state.current_player()
    view = player_view(state, me)
    assert "you hold:" in view and view == state.observation_string(me)


def test_move_numbers_count_players_moves_not_the_deal() -> None:
    game = pyspiel.load_game("leduc_poker")
    out: list[str] = []
    seats = [Seat("human"), Seat("random", make_bot(game, "random", seed=1))]
    lines = iter(["1", "quit"])
    PlaySession(game, seats, lambda _: next(lines), out.append, seed=4).run()
    text = "\n".join(out)
    assert "-- move 1: player 0 [human] (you) to play --" in text  # two cards were dealt
    assert "your card: " in text and "[Private:" not in text  # the drawn view
    state = dealt("leduc_poker", 0, moves=1)
    assert player_moves(state) == 1 and len(state.history()) == 3


def test_a_bots_reasoning_is_not_shown_to_a_human_in_a_hidden_information_game() -> None:
    game = pyspiel.load_game("leduc_poker")
    out: list[str] = []
    bot = make_bot(game, "mcts:sims=30,worlds=2", seed=1)
    seats = [Seat("mcts", bot), Seat("human")]
    lines = iter(["1"] * 20)
    PlaySession(game, seats, lambda _: next(lines, None), out.append, show_thinking=True).run()
    text = "\n".join(out)
    assert "player 0 [mcts] plays" in text and "thinking:" not in text
    # With no human seated, the reasoning is shown.
    out.clear()
    both = [Seat("mcts", make_bot(game, "mcts:sims=30,worlds=2", seed=s)) for s in (1, 2)]
    PlaySession(game, both, lambda _: None, out.append, show_thinking=True).run()
    assert "thinking:" in "\n".join(out)


def test_trees_with_no_search_bot_is_an_error_and_a_mix_says_who(tmp_path: Path) -> None:
    game = pyspiel.load_game("tic_tac_toe")
    seats = [Seat("human"), Seat("random", make_bot(game, "random", seed=0))]
    with pytest.raises(GameError, match="--trees: no bot here builds a search tree"):
        PlaySession(game, seats, lambda _: None, lambda _: None, tree_dir=tmp_path)
    out: list[str] = []
    mixed = [
        Seat("random", make_bot(game, "random", seed=0)),
        Seat("mcts:sims=20", make_bot(game, "mcts:sims=20", seed=0)),
    ]
    PlaySession(game, mixed, lambda _: None, out.append, tree_dir=tmp_path).run()
    assert "--trees: player 0 [random] builds no search tree" in "\n".join(out)
    assert list(tmp_path.glob("move*-p1.json"))


def test_bots_against_bots_print_a_table_with_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from agents.cli import main

    main(["play", "tic_tac_toe", "--bots", "mcts:sims=60,c=2,random", "--games", "8", "--json"])
    data = json.loads(capsys.readouterr().out)
    strong, weak = data["bots"]
    assert strong["spec"] == "mcts:sims=60,c=2" and weak["spec"] == "random"
    assert strong["games"] == weak["games"] == 8
    assert strong["wins"] + strong["draws"] + strong["losses"] == 8
    assert strong["wins"] == weak["losses"] and strong["mean_return"] > 0.5
    low, high = strong["ci95"]
    assert low <= strong["mean_return"] <= high
    main(["play", "leduc_poker", "--bots", "random,random", "--games", "4", "--seed", "2"])
    out = capsys.readouterr().out
    assert "leduc_poker: 4 games, seats rotated" in out and "mean return [95% CI]" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bots", "random"], "one spec per seat: tic_tac_toe has 2 players, got 1"),
        (["--bots", "random,deepblue"], "unknown bot 'deepblue'"),
        (["--bots", "random,random", "--opponent", "random"], "--bots plays bots against"),
        (["--games", "3"], "--games and --json go with --bots"),
    ],
)
def test_bot_match_errors_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from agents.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["play", "tic_tac_toe", *args])
    err = capsys.readouterr().err
    assert exit_.value.code != 0 and err.count("\n") == 1 and message in err, err


def test_the_end_of_a_hidden_information_game_shows_only_what_the_seat_knows() -> None:
    game = pyspiel.load_game("leduc_poker")
    out: list[str] = []
    seats = [Seat("human"), Seat("random", make_bot(game, "random", seed=3))]
    lines = iter(["2"] + ["1"] * 10)
    result = PlaySession(game, seats, lambda _: next(lines, None), out.append, seed=3).run()
    assert result.returns is not None
    end = "\n".join(out).split("-- game over --", 1)[1]
    assert "your card: " in end and "Cards (public" not in end and "[Private:" not in end


def test_play_with_trees_writes_the_trees_page(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", "from agents.cli import main; main()", "play", "tic_tac_toe",
         "--opponent", "mcts:sims=30", "--trees", str(tmp_path / "trees")],
        input="1\nquit\n", capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = tmp_path / "trees" / "report.html"
    assert f"search trees: {page}" in proc.stdout
    assert page.read_text().count('<button class="node') > 5
