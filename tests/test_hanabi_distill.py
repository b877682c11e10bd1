"""The distilled Hanabi blueprint (games/hanabi/distill.py): search labels are paired
gains over the rule bot, the pipeline resumes, a trained model loads through the
`hanabi_learned` spec, its margin decides when it leaves the rule bot, and MDS searches on
top of it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.hanabi import play_game
from benchmarks.hanabi_distill import label
from benchmarks.protocol import HANABI
from games.bots import make_bot
from games.hanabi.distill import (
    DistilledPolicy,
    decision_features,
    label_game,
    load_data,
    train,
)
from games.hanabi.game import HanabiConfig
from games.hanabi.learned import LearnedModelError, read_model
from games.hanabi.rules import rule_position


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("distill")
    label(root / "data", first=5, games=1, worlds=1, chunk=1)  # plain labels
    label(root / "data", first=6, games=1, worlds=1, chunk=1, keep=2, fresh=3)
    train(root / "data", root / "gain.pt", epochs=2, hidden=8, layers=1, heldout=0.5,
          members=2, say=lambda _: None)  # fmt: skip
    return root


def test_labels_are_paired_gains_over_the_rule_bot() -> None:
    d = label_game(HANABI.tuning.start + 3, worlds=1, keep=2, fresh=3)
    n = len(d["bp"])
    assert "x" not in d and d["gain"].shape[0] == d["gain2"].shape[0] == n > 20
    rows = np.arange(n)
    assert np.all(d["gain"][rows, d["bp"]] == 0.0)  # the rule bot's own action gains 0
    assert np.all(np.sum(~np.isnan(d["gain"]), axis=1) >= 2)  # only decisions with a choice
    assert np.nanmax(d["gain"]) <= 25 and np.nanmin(d["gain"]) >= -25
    # Fresh labels: at most `keep` actions per decision, never the rule bot's own, each
    # from the fresh worlds alone (at least 3, as many as the budget left for it).
    fresh = ~np.isnan(d["gain2"])
    assert fresh.any() and fresh.sum(axis=1).max() <= 2 and not fresh[rows, d["bp"]].any()
    assert np.all((d["w2"] >= 3) == fresh)
    x, bp = decision_features(HANABI.tuning.start + 3)  # what training replays
    assert len(x) == n and np.array_equal(bp, d["bp"])
    wide = label_game(HANABI.tuning.start + 3, worlds=1)  # no keep: no fresh labels
    assert np.isnan(wide["gain2"]).all() and np.array_equal(wide["gain"], d["gain"], equal_nan=True)


def test_label_run_resumes_and_train_saves_a_loadable_model(distilled: Path) -> None:
    data = distilled / "data"
    rows = [json.loads(x) for x in (data / "chunks.jsonl").read_text().splitlines()]
    assert sorted(r["first"] for r in rows) == [5, 6] and all(r["decisions"] > 0 for r in rows)
    label(data, first=5, games=1, worlds=1, chunk=1)  # done: nothing is labelled again
    assert len((data / "chunks.jsonl").read_text().splitlines()) == 2
    d = load_data(data)
    assert set(d["seed"]) == {5, 6} and set(d["worlds"]) == {1}
    assert "x" not in np.load(data / "chunk_5_w1.npz")  # replayed, not stored
    assert np.array_equal(d["x"][d["seed"] == 5], decision_features(5)[0])
    assert np.isnan(d["gain2"][d["seed"] == 5]).all() and (d["w2"][d["seed"] == 5] == 0).all()
    assert not np.isnan(d["gain2"][d["seed"] == 6]).all()
    game = HanabiConfig().load()
    bot = make_bot(game, f"hanabi_learned:path={distilled / 'gain.pt'}", seed=0)
    assert isinstance(bot.policy, DistilledPolicy)


def test_margin_decides_when_the_distilled_policy_leaves_the_rule_bot(distilled: Path) -> None:
    path = distilled / "gain.pt"
    seed = HANABI.evaluation.start
    rules = play_game("hanabi_rules", 2, seed)
    never = play_game(f"hanabi_learned:path={path},margin=1000", 2, seed)
    assert (never.score, never.moves) == (rules.score, rules.moves)  # it is the rule bot
    game, state = rule_position(2, 20)
    always = make_bot(game, f"hanabi_learned:path={path},margin=-1000", seed=0)
    action = always.step(state)
    bp = make_bot(game, "hanabi_rules", seed=0).step(state)
    assert action != bp and action in state.legal_actions()
    assert always.policy.deviations == 1


def test_mds_searches_on_the_distilled_blueprint_and_margin_needs_one(
    distilled: Path, tmp_path: Path
) -> None:
    game, state = rule_position(4, 20)
    mds = make_bot(game, f"mds:blueprint=hanabi_learned,model={distilled / 'gain.pt'},rollouts=6")
    assert mds.step(state) in state.legal_actions() and mds.rollouts == 6 and mds.illegal == 0
    model = distilled / "gain.pt"
    for kind in ("mds", "sparta"):
        bot = make_bot(game, f"{kind}:blueprint=hanabi_learned,model={model},margin=7,rollouts=6")
        assert isinstance(bot._policy, DistilledPolicy) and bot._policy.margin == 7
        assert bot._last_move(state) is not None  # hands are checked against the last move
    from games.hanabi.learned import train as imitate

    tiny = imitate(tmp_path / "imitation.pt", games=2, epochs=1, hidden=8, layers=1, say=None)
    imitating = make_bot(game, f"mds:blueprint=hanabi_learned,model={tiny},rollouts=6")
    assert imitating._last_move(state) is None  # not the rule bot's moves: no such check
    with pytest.raises(LearnedModelError, match="margin= goes with a distilled model"):
        make_bot(game, f"hanabi_learned:path={tiny},margin=0.5")


def test_an_ensemble_deviates_only_where_every_member_expects_a_gain(distilled: Path) -> None:
    blob = read_model(distilled / "gain.pt")
    assert len(blob["members"]) == 2 and "state_dict" not in blob
    one, two = ({**blob, "members": [sd]} for sd in blob["members"])
    game, state = rule_position(2, 20)
    bot = make_bot(game, "hanabi_rules", seed=0)
    tracker, player = bot.tracker(state), state.current_player()
    bp = bot.step(state)
    g1, g2 = (DistilledPolicy(b).gains(tracker, state, player, bp) for b in (one, two))
    assert not np.allclose(g1, g2)  # two initialisations: two different networks
    both = DistilledPolicy(blob).gains(tracker, state, player, bp)
    assert np.array_equal(both, np.minimum(g1, g2))
    # A file from before ensembles (one `state_dict`) reads as a one-member ensemble.
    old = {k: v for k, v in one.items() if k != "members"} | {"state_dict": one["members"][0]}
    assert np.array_equal(DistilledPolicy(old).gains(tracker, state, player, bp), g1)


def test_labels_of_another_rule_bot_are_refused(distilled: Path, tmp_path: Path) -> None:
    chunk = dict(np.load(distilled / "data" / "chunk_5_w1.npz"))
    chunk["bp"] = chunk["bp"].copy()
    chunk["bp"][3] += 1  # a decision the current rule bot does not make
    np.savez_compressed(tmp_path / "chunk_5_w1.npz", **chunk)
    with pytest.raises(LearnedModelError, match="not the current rule bot's"):
        load_data(tmp_path)
