"""OpenSpiel games through our seams: the adapter, C++ rollouts, bots in OpenSpiel's own tools."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import numpy as np
import pyspiel
import pytest
from open_spiel.python import policy as os_policy
from open_spiel.python.algorithms import evaluate_bots, exploitability

from games.adapter import SpielProblem, SpielRolloutEvaluator
from games.bots import make_bot
from games.catalog import OFFERED, load_game
from games.cfr import solve
from games.errors import BotSpecError, UnknownGameError, UnsupportedGameError
from games.ismcts import ReplaySampler, SpielResampler, belief_sampler_for
from games.llm_bot import LLMBot, parse_move
from search import MCTS, BatchingEvaluator, Budget, MCTSConfig

TTT = pyspiel.load_game("tic_tac_toe")


def _ttt(moves: list[int]) -> pyspiel.State:
    state = TTT.new_initial_state()
    for m in moves:
        state.apply_action(m)
    return state


# Cells 0..8 row by row. (moves so far, the only good move)
WINS = [([0, 3, 1, 4], 2), ([4, 0, 2, 1, 8, 3], 6), ([0, 1, 4, 2], 8)]  # X completes a line
BLOCKS = [([0, 4, 1], 2), ([4, 0, 8, 2], 1), ([0, 4, 8, 6], 2)]  # only one move avoids losing


def _search(moves: list[int], sims: int, seed: int, workers: int | None = None) -> int:
    problem = SpielProblem(TTT)
    config = MCTSConfig(budget=Budget(simulations=sims), seed=seed)
    if workers is None:
        mcts = MCTS(problem, SpielRolloutEvaluator(TTT, seed=seed), config)
        return int(mcts.search(_ttt(moves)).action)
    batcher = BatchingEvaluator(SpielRolloutEvaluator(TTT, seed=seed), max_batch=workers)
    mcts = MCTS(problem, batcher, config)
    return int(asyncio.run(mcts.search_async(_ttt(moves), workers=workers)).action)


@pytest.mark.parametrize("moves,best", WINS + BLOCKS)
def test_mcts_finds_the_forced_win_and_the_forced_block(moves: list[int], best: int) -> None:
    assert _search(moves, 1500, seed=1) == best


@pytest.mark.parametrize("moves,best", WINS + BLOCKS)
def test_four_workers_agree_on_decided_positions(moves: list[int], best: int) -> None:
    assert _search(moves, 1500, seed=2, workers=4) == best


def test_cpp_rollouts_average_to_the_known_value() -> None:
    # With one move left a rollout is exactly the terminal value; from the start, X's
    # random-play win rate is known (about 58.5% wins, 28.8% losses).
    evaluator = SpielRolloutEvaluator(TTT, rollouts=1, seed=0)
    last = _ttt([0, 1, 2, 4, 3, 5, 7, 6])  # X plays 8 (the only move) -> draw
    assert evaluator.evaluate([last]) == [[0.0, 0.0]]
    start = TTT.new_initial_state()
    values = SpielRolloutEvaluator(TTT, rollouts=2000, seed=0).evaluate([start])[0]
    assert 0.2 < values[0] < 0.4 and values[1] == pytest.approx(-values[0])  # X wins ~58.5%
    assert start.history() == []  # the evaluator never touches its argument


@pytest.mark.parametrize(
    "name,specs",
    [
        ("tic_tac_toe", ["mcts:sims=100", "random"]),
        ("leduc_poker", ["mcts:sims=64,worlds=4", "cfr:iters=20"]),
        ("liars_dice", ["mcts:sims=64,worlds=4", "random"]),
        ("hearts", ["mcts:sims=32,worlds=2", "random", "random", "cpp_mcts:sims=20"]),
        ("connect_four", ["cpp_mcts:sims=50", "openspiel_mcts:sims=20"]),
    ],
)
def test_make_bot_bots_run_in_openspiel_evaluate_bots(
    name: str, specs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTS_CACHE_DIR", str(tmp_path))
    game = pyspiel.load_game(name)

    def fresh_bots() -> list[pyspiel.Bot]:
        return [make_bot(game, spec, seed=i) for i, spec in enumerate(specs)]

    state = game.new_initial_state()
    returns = evaluate_bots.evaluate_bots(state, fresh_bots(), np.random.RandomState(0))
    # The Python driver played in `state`: replay it, every bot move must have been legal.
    replay = game.new_initial_state()
    movers = set()
    for action in state.history():
        assert action in replay.legal_actions(), f"illegal {action} at {replay.history()}"
        if not replay.is_chance_node():
            movers.add(replay.current_player())
        replay.apply_action(action)
    assert replay.is_terminal() and list(returns) == replay.returns()
    assert movers == set(range(game.num_players()))
    # The C++ driver too; the bots are seeded, so the same seeds play the same game.
    cpp_returns = pyspiel.evaluate_bots(game.new_initial_state(), fresh_bots(), 3)
    assert pyspiel.evaluate_bots(game.new_initial_state(), fresh_bots(), 3) == cpp_returns


def test_mcts_bot_beats_random_at_tic_tac_toe() -> None:
    results = []
    for seed in range(6):
        specs = ["mcts:sims=300", "random"] if seed % 2 == 0 else ["random", "mcts:sims=300"]
        bots = [make_bot(TTT, s, seed=seed) for s in specs]
        r = evaluate_bots.evaluate_bots(TTT.new_initial_state(), bots, np.random.RandomState(seed))
        results.append(r[0] if seed % 2 == 0 else r[1])
    assert min(results) >= 0 and sum(results) >= 4  # never loses, wins most


def test_mcts_bot_reuses_its_tree_and_explains_itself() -> None:
    bot = make_bot(TTT, "mcts:sims=200", seed=0)
    state = TTT.new_initial_state()
    state.apply_action(bot.step(state))
    state.apply_action(0 if 0 in state.legal_actions() else 1)
    bot.step(state)
    assert "reused" in bot.thinking and "visits" in bot.thinking
    no_reuse = make_bot(TTT, "mcts:sims=200,reuse=0", seed=0)
    no_reuse.step(state)
    assert "reused" not in no_reuse.thinking


def test_determinized_search_plays_kuhn_poker_sensibly() -> None:
    game = pyspiel.load_game("kuhn_poker")
    # Deal: P0 holds the King (2), P1 the Jack (0); P0 bets; P1 must fold the Jack...
    state = game.new_initial_state()
    for a in (0, 2, 1):  # P0 Jack, P1 King, P0 bets
        state.apply_action(a)
    bot = make_bot(game, "mcts:sims=400,worlds=4", seed=0)
    assert state.action_to_string(1, bot.step(state)) == "Bet"  # King calls: it always wins
    state = game.new_initial_state()
    for a in (2, 0, 1):  # P0 King, P1 Jack, P0 bets
        state.apply_action(a)
    assert state.action_to_string(1, bot.step(state)) == "Pass"  # Jack folds: it always loses


def test_belief_samplers_keep_the_information_state() -> None:
    rng = random.Random(0)
    dice = pyspiel.load_game("liars_dice").new_initial_state()
    for a in (2, 5, 0):  # dice 3 and 6, then a bid
        dice.apply_action(a)
    sampler = belief_sampler_for(dice, 1)
    assert isinstance(sampler, ReplaySampler)
    worlds = [sampler.sample(dice, 1, rng) for _ in range(60)]
    assert all(w.information_state_string(1) == dice.information_state_string(1) for w in worlds)
    assert len({str(w) for w in worlds}) == 6  # P0's hidden die takes every value
    leduc = pyspiel.load_game("leduc_poker").new_initial_state()
    leduc.apply_action(0)
    leduc.apply_action(3)
    assert isinstance(belief_sampler_for(leduc, 0), SpielResampler)


def test_cfr_policy_is_near_equilibrium_and_cached_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTS_CACHE_DIR", str(tmp_path))
    game = pyspiel.load_game("kuhn_poker")
    table = solve("kuhn_poker()", 101)
    assert list(tmp_path.glob("cfr/*-cfrplus-101.json"))
    tabular = os_policy.TabularPolicy(game)
    for info, pairs in table.items():
        probs = tabular.policy_for_key(info)
        for a, p in pairs:
            probs[a] = p
    assert exploitability.exploitability(game, tabular) < 0.02
    uniform = exploitability.exploitability(game, os_policy.UniformRandomPolicy(game))
    assert uniform > 0.4  # the check has teeth
    solve.cache_clear()
    again = solve("kuhn_poker()", 101)  # read back from disk
    assert again == table


def test_llm_bot_retries_then_falls_back_and_counts(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(["I think the centre", "x(1,1)", "?", "??", "nonsense"]))
    bot = LLMBot(TTT, f"scripted:{answers}", seed=0)
    state = TTT.new_initial_state()
    assert bot.step(state) == 4 and bot.invalid_answers == 1 and bot.fallbacks == 0
    state.apply_action(4)
    action = bot.step(state)  # three unparsable answers: a random legal move
    assert action in state.legal_actions() and bot.invalid_answers == 4 and bot.fallbacks == 1
    assert "random" in bot.thinking
    assert make_bot(TTT, f"llm:scripted:{answers}").model_spec == f"scripted:{answers}"


def test_parse_move_accepts_names_numbers_and_embedded_names() -> None:
    names = {"x(0,0)": 0, "x(1,1)": 4, "x(2,2)": 8}
    assert parse_move(" X(1,1) ", names) == 4
    assert parse_move("3", names) == 8
    assert parse_move("I play x(0,0) now", names) == 0
    assert parse_move("1. x(2,2)\n2. x(0,0)\n3. x(1,1)", names) == 8  # the first one named
    assert parse_move("pass", names) is None and parse_move("9", names) is None


def test_bad_specs_and_games_say_what_is_valid() -> None:
    with pytest.raises(BotSpecError, match=r"unknown bot 'alphazero'.*random.*mcts.*cfr.*llm"):
        make_bot(TTT, "alphazero")
    with pytest.raises(BotSpecError, match="valid: sims, seconds"):
        make_bot(TTT, "mcts:depth=3")
    with pytest.raises(BotSpecError, match="key=value"):
        make_bot(TTT, "mcts:sims")
    with pytest.raises(BotSpecError, match="sims='lots'"):
        make_bot(TTT, "mcts:sims=lots")
    with pytest.raises(BotSpecError, match="simulations must be >= 1"):
        make_bot(TTT, "mcts:sims=0")
    with pytest.raises(UnknownGameError, match="offered: tic_tac_toe, connect_four"):
        load_game("tictactoe")
    with pytest.raises(UnsupportedGameError, match="simultaneous"):
        make_bot(pyspiel.load_game("goofspiel"), "mcts")
    with pytest.raises(UnsupportedGameError, match=r"simultaneous.*sequential"):
        SpielProblem(pyspiel.load_game("matrix_rps"))
    with pytest.raises(UnsupportedGameError, match="two-player zero-sum"):
        make_bot(pyspiel.load_game("hearts"), "cfr")
    with pytest.raises(UnsupportedGameError, match="use mcts there"):
        make_bot(TTT, "cfr")
    assert {"tic_tac_toe", "connect_four", "kuhn_poker", "leduc_poker", "liars_dice"} <= set(
        OFFERED
    )
