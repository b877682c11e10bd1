"""The learned Hanabi blueprint (games/hanabi/learned.py): a tiny model trained for a few
steps returns only legal actions, masks illegal ones even when their logits are huge,
loads through make_bot specs, serves as MDS's blueprint and rollout policy, and bad
model files are one-line errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from games.bots import make_bot
from games.errors import BotSpecError, GameError
from games.hanabi.game import HanabiConfig
from games.hanabi.learned import LearnedModelError, LearnedPolicy, generate, train
from games.hanabi.rules import rule_position, tracker_for


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("learned") / "tiny.pt"
    return train(out, games=3, epochs=1, hidden=8, layers=1, say=None)


def midgame(seed: int, moves: int = 12):
    return rule_position(seed, 10 + moves)


def test_dataset_labels_are_legal_rule_actions() -> None:
    data = generate(2, seed=1)
    assert len(data.y) == len(data.x) == len(data.mask) > 20
    assert all(data.mask[i, a] == 1.0 for i, a in enumerate(data.y))
    with pytest.raises(ValueError, match="leaves the tuning decks"):
        generate(1, seed=90)  # would deal evaluation deck 1000000


def test_tiny_model_returns_legal_actions_and_masks_illegal_ones(tiny: Path) -> None:
    policy = LearnedPolicy.load(tiny)
    for seed in range(5):
        _, state = midgame(seed)
        tracker = tracker_for(state)
        player = state.current_player()
        assert policy(tracker, state, player) in state.legal_actions()
    # Make one illegal action's logit enormous: the mask must still exclude it.
    game, state = midgame(0)
    player = state.current_player()
    illegal = sorted(set(range(game.num_distinct_actions())) - set(state.legal_actions()))
    assert illegal, "the test position should have an illegal action"
    last = policy.model.net[-1]
    with torch.no_grad():
        last.bias[illegal[0]] = 1e6
    tracker = tracker_for(state)
    raw = policy.model(torch.zeros(policy.model.inputs))
    assert int(torch.argmax(raw)) == illegal[0]
    assert policy(tracker, state, player) in state.legal_actions()
    assert policy.logits(tracker, state, player)[illegal[0]] == float("-inf")


def test_make_bot_specs_play_a_game(tiny: Path) -> None:
    game = HanabiConfig().load()
    bots = [make_bot(game, f"hanabi_learned:path={tiny}", seed=p) for p in range(2)]
    state = game.new_initial_state()
    rng = random.Random(0)
    while not state.is_terminal():
        if state.is_chance_node():
            outcomes, probs = zip(*state.chance_outcomes(), strict=True)
            state.apply_action(rng.choices(outcomes, probs)[0])
        else:
            state.apply_action(bots[state.current_player()].step(state))
    assert all(b.illegal == 0 for b in bots)
    mds = make_bot(game, f"mds:blueprint=hanabi_learned,model={tiny},rollouts=6", seed=0)
    _, mid = midgame(3)
    assert mds.step(mid) in mid.legal_actions()
    assert mds.rollouts == 6 and mds.illegal == 0


def test_bad_model_files_and_specs_are_clear_errors(tmp_path: Path) -> None:
    game = HanabiConfig().load()
    with pytest.raises(LearnedModelError, match="no learned Hanabi model"):
        make_bot(game, f"hanabi_learned:path={tmp_path / 'missing.pt'}")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")
    with pytest.raises(GameError, match="cannot read"):
        make_bot(game, f"hanabi_learned:path={junk}")
    with pytest.raises(BotSpecError, match="model=FILE and margin=M go with"):
        make_bot(game, "mds:model=x.pt")
    with pytest.raises(BotSpecError, match="size for hanabi_learned; valid: path"):
        make_bot(game, "hanabi_learned:size=3")
