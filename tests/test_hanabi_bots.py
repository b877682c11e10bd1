"""The Hanabi blueprint and MDS bots: legal, reasonable play, make_bot specs, illegal
blueprint choices counted and replaced, eta = 0 is the blueprint, and the bench CLI."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest

from agents.cli import main
from benchmarks.hanabi import play_game
from games.bots import make_bot
from games.errors import BotSpecError
from games.hanabi import mds_bot
from games.hanabi.game import HanabiConfig
from games.hanabi.mds_bot import MDSBot
from games.hanabi.rules import RuleBot, decide, rule_position, tracker_for
from search.mirror_descent import MDSConfig


def _midgame(seed: int, moves: int = 20):
    return rule_position(seed, moves)


def test_rule_bot_plays_legal_and_scores_well() -> None:
    scores = [play_game("hanabi_rules", 2, seed) for seed in range(30)]
    assert all(r.illegal == 0 for r in scores)
    mean = sum(r.score for r in scores) / len(scores)
    assert mean > 22.0  # 23.57 here; 23.43 over seeds 0..999 (the old bot: 20.48); random ~0


@pytest.mark.parametrize("players", [3, 4, 5])
def test_rule_bot_plays_more_players(players: int) -> None:
    rec = play_game("hanabi_rules", players, 0)
    assert rec.illegal == 0 and rec.score > 5


def test_rule_bot_ignores_its_own_cards() -> None:
    _game, state = _midgame(3)
    me = state.current_player()
    t = tracker_for(state)
    before = decide(t, me)
    t.hands[me] = list(reversed(t.hands[me]))  # a different own hand, same information
    assert decide(t, me) == before


def test_mds_with_eta_zero_plays_the_blueprint() -> None:
    for seed in range(3):
        game, state = _midgame(seed)
        bp = RuleBot(game, 0).step(state)
        bot = MDSBot(game, MDSConfig(eta=0.0, rollouts=20, floor=0.1), seed)
        assert bot.step(state) == bp
        assert bot.last is not None and bot.last.rollouts == 0


def _favour(monkeypatch: pytest.MonkeyPatch, target: int) -> None:
    """Rig the rollouts: `target` returns 30 points more than it would."""
    real = mds_bot.rollout

    def rigged(
        world: mds_bot.World, a: int, policy: mds_bot.Policy, on_illegal: Callable[[], None]
    ) -> float:
        return real(world, a, policy, on_illegal) + (30.0 if a == target else 0.0)

    monkeypatch.setattr(mds_bot, "rollout", rigged)


def test_mds_searches_and_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    game, state = _midgame(1)
    me, legal = state.current_player(), state.legal_actions()
    bp = RuleBot(game, 0).step(state)
    bot = MDSBot(game, MDSConfig(eta=5.0, rollouts=30, floor=0.1), 0)
    action = bot.step(state)
    res = bot.last
    assert res is not None and res.rollouts == bot.rollouts == 30 and bot.illegal == 0
    assert res.blueprint_action == bp and sorted(res.visits) == legal
    assert sum(res.visits.values()) == 30 and min(res.visits.values()) >= 1  # 19 actions
    assert all(0 <= res.q[a] <= 25 for a in legal)  # means of real Hanabi scores
    assert action == res.action == max(legal, key=lambda a: (res.policy[a], a == bp))
    name = state.action_to_string
    assert bot.thinking.startswith(f"{name(me, action)}: q={res.q[action]:.2f} vs blueprint ")
    # Rollouts that favour one action far from the blueprint: the search must pick it.
    target = legal[-1]
    assert target != bp
    _favour(monkeypatch, target)
    bot = MDSBot(game, MDSConfig(eta=5.0, rollouts=30, floor=0.1), 0)
    assert bot.step(state) == target
    assert bot.last is not None and bot.last.deviated and bot.deviations == 1
    assert bot.last.q[target] >= 30 > max(q for a, q in bot.last.q.items() if a != target)
    assert bot.thinking.startswith(f"{name(me, target)}: q=")
    assert f"vs blueprint {name(me, bp)} q=" in bot.thinking


def test_sparta_rolls_out_every_action_and_deviates_only_past_its_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SPARTA on a real position: every legal action gets the same worlds (no screening),
    the blueprint's move stands when no gain clears the threshold, and an action whose
    rollouts are rigged 30 points higher is played (its gain clears any threshold)."""
    game, state = _midgame(1)
    legal = state.legal_actions()
    bp = RuleBot(game, 0).step(state)
    bot = make_bot(game, f"sparta:rollouts={4 * len(legal)},threshold=25", seed=0)
    assert isinstance(bot, MDSBot)
    assert bot.step(state) == bp and bot.last is not None
    assert set(bot.last.visits.values()) == {4} and bot.last.worlds == 4
    assert not bot.last.deviated and bot.illegal == 0
    target = next(a for a in reversed(legal) if a != bp)
    _favour(monkeypatch, target)
    bot = make_bot(game, f"sparta:rollouts={4 * len(legal)},threshold=25", seed=0)
    assert bot.step(state) == target and bot.last is not None and bot.last.deviated
    assert bot.last.gain > 25 and bot.last.policy[target] == 1.0


def test_illegal_blueprint_moves_in_rollouts_are_counted_and_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    game, state = _midgame(2)
    monkeypatch.setattr(mds_bot, "decide", lambda t, p: 10_000)
    bot = MDSBot(game, MDSConfig(eta=1.0, rollouts=5, floor=0.1), 0)
    action = bot.step(state)
    assert action in state.legal_actions()
    assert bot.illegal > 5  # the root choice and every rollout step were replaced


def test_make_bot_specs_and_errors() -> None:
    game = HanabiConfig().load()
    assert isinstance(make_bot(game, "hanabi_rules"), RuleBot)
    assert isinstance(make_bot(game, "mds:eta=2,rollouts=10,alpha=0.5"), MDSBot)
    for bad, word in [
        ("mds:rollouts=0", "rollouts must be >= 1"),
        ("mds:speed=3", "unknown option.*speed for mds; valid: eta, alpha, .*blueprint"),
        ("mds:blueprint=ppo", "valid: hanabi_rules, hanabi_learned"),
        ("mds:eta=fast", "not a valid number"),
    ]:
        with pytest.raises(BotSpecError, match=word):
            make_bot(game, bad)
    import pyspiel

    with pytest.raises(BotSpecError, match="hanabi only"):
        make_bot(pyspiel.load_game("tic_tac_toe"), "hanabi_rules")


def _run(args: list[str]) -> None:
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code in (0, None)


def test_bench_hanabi_cli_writes_reports_and_resumes(tmp_path, capsys) -> None:
    args = ["bench", "hanabi", "--bot", "hanabi_rules", "--bot", "random", "--games", "4",
            "--out", str(tmp_path), "--json"]  # fmt: skip
    _run(args)
    summary = json.loads(capsys.readouterr().out)
    rules = summary["bots"]["hanabi_rules"]
    assert rules["games"] == 4 and rules["mean"] > 5
    assert summary["paired"]["random"]["mean_diff"] == pytest.approx(-rules["mean"])
    for name in ("hanabi_2p.json", "hanabi_2p.md", "hanabi_2p.png", "hanabi_games.jsonl"):
        assert (tmp_path / name).exists()
    lines = (tmp_path / "hanabi_games.jsonl").read_text().splitlines()
    _run(args)
    assert (tmp_path / "hanabi_games.jsonl").read_text().splitlines() == lines  # resumed
    assert "24.62" in (tmp_path / "hanabi_2p.md").read_text()


def test_bench_hanabi_plays_evaluation_seeds_by_default_and_says_so(tmp_path, capsys) -> None:
    from benchmarks.protocol import HANABI

    args = ["bench", "hanabi", "--games", "2", "--out", str(tmp_path)]
    _run(args)
    err = capsys.readouterr().err
    assert "1000000..1999999 for evaluation" in err and "tuning" in err
    seeds = [json.loads(x)["seed"] for x in (tmp_path / "hanabi_games.jsonl").open()]
    assert seeds == [1_000_000, 1_000_001] and all(s in HANABI.evaluation for s in seeds)
    assert HANABI.describe() in (tmp_path / "hanabi_2p.md").read_text()
    _run([*args, "--tuning", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["config"]["seed"] == 0 and summary["protocol"].startswith("Tuning seeds")
    assert "Tuning seeds" in (tmp_path / "hanabi_2p.md").read_text()


def test_seed_splits_are_disjoint_and_bounded() -> None:
    from benchmarks.protocol import HANABI, Split

    assert HANABI.seeds("evaluation", 3, 5) == range(1_000_005, 1_000_008)
    assert HANABI.which(range(0, 500)) == "tuning"
    assert HANABI.which(range(999_999, 1_000_001)) is None  # across both: not a protocol run
    with pytest.raises(ValueError, match="run past"):
        HANABI.seeds("tuning", 10, 999_995)
    with pytest.raises(ValueError, match="overlap"):
        Split("x", "deck", tuning=range(0, 10), evaluation=range(9, 20))


def test_bench_hanabi_replays_games_when_the_bot_code_changed(tmp_path, monkeypatch) -> None:
    from benchmarks import hanabi

    cfg = hanabi.HanabiBench(bots=("hanabi_rules",), games=2, out=str(tmp_path))
    first = hanabi.run(cfg)
    assert {r.code for r in first} == {hanabi.code_version()}
    assert len(hanabi.run(cfg)) == 2 and len(hanabi.load_records(hanabi.log_path(cfg))) == 2
    monkeypatch.setattr(hanabi, "code_version", lambda: "changed-code")
    again = hanabi.run(cfg)  # the old games were played by other code: play them anew
    assert {r.code for r in again} == {"changed-code"}
    assert len(hanabi.load_records(hanabi.log_path(cfg))) == 4


def test_bench_hanabi_bad_input_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "hanabi", "--players", "6"])
    assert exc.value.code == 2
    assert "players=6" in capsys.readouterr().err


def test_partner_mode_puts_the_bot_in_seat_zero_only() -> None:
    solo = play_game("random", 2, 0, partner="hanabi_rules")
    assert solo.partner == "hanabi_rules"
    assert (
        play_game("hanabi_rules", 2, 0).score
        == play_game("hanabi_rules", 2, 0, partner="hanabi_rules").score
    )  # same deck, same bots: same game


def test_mds_worlds_respect_play_clues() -> None:
    from games.hanabi.belief import HandBelief
    from games.hanabi.rules import PLAY

    for seed in range(8):
        game, state = _midgame(seed, moves=30)
        me = state.current_player()
        bot = MDSBot(game, MDSConfig(eta=1.0, rollouts=5), 0)
        t = bot._blueprint.tracker(state)
        flagged = [i for i, f in enumerate(t.flags[me]) if f == PLAY]
        rng = random.Random(seed)
        for _ in range(50):
            hand = bot._sample_hand(HandBelief(t, me), t, me, rng)
            assert all(hand[i] % 5 <= t.fireworks[hand[i] // 5] for i in flagged)


def test_lean_rollouts_match_plain_ones_and_reuse_the_public_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rollout tracker's caches (public counts, touches, the rule bot's Public view,
    shared by copies) change no decision: same returns as plain trackers, far fewer
    Public builds."""
    from benchmarks.hanabi_rollouts import measure, worlds
    from games.hanabi import rules

    built = [0]
    real = rules.Public.__init__

    def counting(self, t):
        built[0] += 1
        real(self, t)

    monkeypatch.setattr(rules.Public, "__init__", counting)
    jobs = []
    for seed in range(3):
        _, state = _midgame(seed, moves=24)
        jobs += [(w, a) for w in worlds(state, 3, seed) for a in state.legal_actions()[:4]]
    built[0] = 0
    _, plain, bad = measure(jobs, mds_bot.rule_policy, lean=False)
    plain_builds, built[0] = built[0], 0
    _, lean, bad_lean = measure(jobs, mds_bot.rule_policy, lean=True)
    assert lean == plain and bad == bad_lean == 0
    assert built[0] < 0.6 * plain_builds  # apply and decide share one per move


# -- conventions in constructed positions (2 players, cards R1=0 .. B5=24) --------------


def _card(name: str) -> int:
    return "RYGWB".index(name[0]) * 5 + int(name[1]) - 1


def _position(hands: list[list[str]], fireworks: tuple[int, ...] = (0,) * 5, info: int = 8):
    from games.hanabi.game import Tracker

    t = Tracker(HanabiConfig())
    for hand in hands:
        for name in hand:
            t.deal(_card(name))
    t.fireworks = list(fireworks)
    t.info = info
    return t


def test_known_trash_is_discarded_before_the_discard_slot() -> None:
    from games.hanabi.rules import Public, apply

    # Seat 0's slot 3 is an R1 and R1 is already played; seat 1 holds nothing urgent.
    t = _position(
        [["Y3", "G4", "B3", "R1", "W4"], ["Y4", "G3", "B4", "W3", "G4"]], (1, 0, 0, 0, 0), 0
    )
    assert decide(t, 0) != 3  # not known yet: seat 0 discards elsewhere
    t.turn = 1
    t.info = 1
    apply(t, t.hint_action("rank", 1, 0))  # seat 1 tells seat 0 about its 1 ...
    t.turn, t.info = 1, 1
    apply(t, t.hint_action("color", 1, 0))  # ... and that it is red
    t.info = 0
    assert Public(t).is_worthless(Public(t).poss[0][3])
    assert decide(t, 0) == 3  # the known-dead card goes first


def test_critical_five_on_the_partners_discard_slot_is_saved() -> None:
    from games.hanabi.rules import SAVE, Public, apply

    hands = [["Y3", "G4", "B3", "W3", "Y4"], ["B5", "G3", "Y2", "W2", "B2"]]
    t = _position(hands, info=5)
    assert Public(t).discard_slot(1) == 0
    unwarned = t.copy()
    unwarned.turn, unwarned.info = 1, 0
    assert decide(unwarned, 1) == 0  # unwarned, seat 1 would throw the B5 away
    action = decide(t, 0)
    assert action == t.hint_action("rank", 1, 4)  # no play clue exists: a 5 warning
    apply(t, action)
    assert t.flags[1][0] == SAVE
    pub = Public(t)
    assert pub.is_valuable(pub.poss[1][0])
    t.info = 0
    assert decide(t, 1) != 0  # the saved 5 stays


def test_no_warning_tells_the_next_player_its_discard_slot_is_safe() -> None:
    from games.hanabi.rules import Public, apply

    hands = [["Y3", "G4", "B3", "W3", "Y4"], ["G3", "B5", "Y2", "W2", "B2"]]
    t = _position(hands, info=5)
    slot = Public(t).discard_slot(1)
    assert slot >= 0 and t.hands[1][slot] != _card("B5")
    valuable = Public(t).valuable
    assert Public(t).poss[1][slot] & valuable  # could be a 5 before seat 0 moves
    apply(t, 4)  # seat 0 discards instead of warning
    assert Public(t).poss[1][slot] & valuable == 0


def test_play_clue_marks_the_newest_playable_card_and_it_is_played() -> None:
    from games.hanabi.rules import NONE, PLAY, apply

    hands = [["Y3", "G4", "B3", "W3", "Y4"], ["G3", "R3", "W2", "B2", "R1"]]
    t = _position(hands, info=5)
    red = t.copy()
    apply(red, red.hint_action("color", 1, 0))  # "red" touches R3 and R1: the newest plays
    assert red.flags[1][4] == PLAY and red.flags[1][1] == NONE
    assert decide(red, 1) == red.cfg.hands + 4
    action = decide(t, 0)  # the bot's own clue gets the R1 played too
    assert t.decode(action)[:2] in (("color", 1), ("rank", 1))
    apply(t, action)
    assert decide(t, 1) == t.cfg.hands + 4


def test_search_report_pairs_evaluation_games_of_the_current_blueprint_only(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import hanabi_mds
    from benchmarks.protocol import HANABI

    log = tmp_path / "games.jsonl"
    spec = "sparta:rollouts=8,keep=1"
    hanabi_mds.play(spec, "hanabi_rules", HANABI.seeds("evaluation", 2), 0, 1, "all", log)
    hanabi_mds.play(spec, "hanabi_rules", HANABI.seeds("tuning", 1), 0, 1, "all", log)
    rows = hanabi_mds.load(log)
    assert len(rows) == 6 and {r["split"] for r in rows} == {"evaluation", "tuning"}
    hanabi_mds.play(spec, "hanabi_rules", HANABI.seeds("evaluation", 2), 0, 1, "all", log)
    assert len(hanabi_mds.load(log)) == 6  # resumed: nothing played twice
    [row] = hanabi_mds.summarize(rows)
    assert (row["bot"], row["seats"], row["games"]) == (spec, "all", 2)
    by = {(r["bot"], r["seed"]): float(r["score"]) for r in rows}
    diffs = [by[(spec, s)] - by[("hanabi_rules", s)] for s in HANABI.seeds("evaluation", 2)]
    assert row["mean_diff"] == pytest.approx(sum(diffs) / 2)
    lo, hi = row["ci95"]
    assert lo <= row["mean_diff"] <= hi
    text = hanabi_mds.markdown([row])
    assert HANABI.describe() in text and f"`{spec}` | all | 2 |" in text
    monkeypatch.setattr(hanabi_mds, "blueprint_sha", lambda partner: "a-newer-blueprint")
    assert hanabi_mds.summarize(rows) == []  # games of an older blueprint are left out
