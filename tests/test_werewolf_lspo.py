"""LSPO's language side: self-play collects candidate statements per speaking turn; an
LM embeds them; k-means per role makes latent strategies with their kinds and
templates; a solved latent policy turns them into preference pairs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tiny_models import build_tiny_llama

from agents.llm import load_llm
from games.catalog import load_game
from games.werewolf.latent import LatentPolicy, LatentSpace, load_latent, solve
from games.werewolf.lspo import (
    Candidate,
    Embedder,
    Situation,
    as_template,
    build_space,
    play_and_collect,
    preference_pairs,
)
from games.werewolf.speech import BASE_KINDS

LINES = [
    "I am the seer: player 4 is a werewolf.",
    "I think player 2 is lying; vote for player 2.",
    "I have nothing to add.",
    "I trust player 5, they are innocent.",
    "It is not me, I am not a werewolf.",
]


@pytest.fixture()
def scripted(tmp_path: Path) -> str:
    path = tmp_path / "lines.json"
    path.write_text(json.dumps({"responses": LINES, "on_exhausted": "cycle"}))
    return f"scripted:{path}"


def test_self_play_records_every_speaking_turn_with_its_candidates(scripted: str) -> None:
    game = load_game("werewolf")
    llm = load_llm(scripted, cache=False)
    situations, returns = play_and_collect(game, 3, llm, candidates=3, seed=0)
    assert sorted(set(returns)) == [-1.0, 1.0]
    assert situations and all(len(s.candidates) == 3 for s in situations)
    assert {c.text for s in situations for c in s.candidates} <= set(LINES)
    kinds = {c.kind for s in situations for c in s.candidates}
    assert {"quiet", "defend_self"} <= kinds and kinds & {"accuse", "claim_seer_wolf"}
    assert all(s.game == 3 and "Your turn to speak" in s.prompt for s in situations)
    assert [s.turn for s in situations] == list(range(len(situations)))
    again = Situation.from_json(json.loads(json.dumps(situations[0].to_json())))
    assert again == situations[0]
    # The prompt holds only the speaker's view: never another seat's role.
    assert all("the seer." not in s.prompt or s.role == 1 for s in situations)


def test_the_spoken_candidate_is_the_one_nearest_the_policys_strategy(scripted: str) -> None:
    """Where the policy knows the key and always picks the quiet strategy, the spoken
    line is the candidate nearest its centroid: the quiet one."""
    texts = {t: i for i, t in enumerate(LINES)}

    def embed(batch: list[str]) -> np.ndarray:
        return np.eye(len(LINES))[[texts[t] for t in batch]]

    quiet = tuple(np.eye(len(LINES))[2])
    roles = tuple(
        tuple(s if s.kind != "quiet" else replace(s, centroid=quiet) for s in role)
        for role in LatentSpace.base().roles
    )
    game = load_game("werewolf")
    llm = load_llm(scripted, cache=False)
    first, _ = play_and_collect(game, 0, llm, 5, seed=1)
    table = {s.key: [1.0 if k == "quiet" else 0.0 for k in BASE_KINDS] for s in first}
    policy = LatentPolicy(LatentSpace(roles), table)
    situations, _ = play_and_collect(game, 0, llm, 5, seed=1, policy=policy, embed=embed)
    known = [s for s in situations if s.key in table]
    assert known and all(s.candidates[s.spoken].text == LINES[2] for s in known)
    unknown = [s for s in first if s.candidates[s.spoken].text != LINES[2]]
    assert unknown  # without a policy the spoken line is a random candidate


def test_the_embedder_gives_unit_vectors_equal_for_equal_texts(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = build_tiny_llama(tmp_path / "tiny")
    embed = Embedder(
        AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    )
    v = embed(["the cat sat", "the dog", "the cat sat"])
    assert v.shape[0] == 3 and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(v[0], v[2]) and not np.allclose(v[0], v[1])


def _situations() -> list[Situation]:
    """Villager turns whose candidates are accusations and quiet lines."""
    out = []
    for g in range(6):
        cands = (
            Candidate(f"I think player {g % 5 + 1} is a werewolf.", "accuse"),
            Candidate("I have nothing to add.", "quiet"),
            Candidate("Nothing from me today.", "quiet"),
        )
        out.append(Situation(g, 0, 3, f"V key{g % 2}", f"prompt {g}", cands))
    return out


def _kind_embed(batch: list[str]) -> np.ndarray:
    return np.array([[1.0, 0.0] if "werewolf" in t else [0.0, 1.0] for t in batch]) + (
        np.random.RandomState(0).rand(len(batch), 2) * 0.01
    )


def test_clusters_per_role_carry_their_majority_kind_and_a_template() -> None:
    space, assignment = build_space(_situations(), _kind_embed, k=2, seed=0)
    base = LatentSpace.base().roles[3]
    villager = space.roles[3]
    assert villager[: len(base)] == base  # the catalogue grows: base kinds, then clusters
    clusters = villager[len(base) :]
    assert sorted(s.kind for s in clusters) == ["accuse", "quiet"]
    accuse = next(s for s in clusters if s.kind == "accuse")
    assert "{target}" in accuse.template and accuse.examples and accuse.centroid
    assert accuse.name == "villager." + str(clusters.index(accuse))
    assert space.roles[0] == LatentSpace.base().roles[0]  # no wolf candidates: base kept
    assert len(assignment) == 18 and set(assignment.values()) == {len(base), len(base) + 1}


def test_pairs_prefer_the_kind_the_policy_favours(tmp_path: Path) -> None:
    space, _ = build_space(_situations(), _kind_embed, k=2, seed=0)
    n = len(space.roles[3])
    accuse = next(i for i, s in enumerate(space.roles[3]) if s.kind == "accuse" and s.centroid)
    quiet = next(i for i, s in enumerate(space.roles[3]) if s.kind == "quiet" and s.centroid)
    table = {"V key0": [0.0] * n, "V key1": [1.0 / n] * n}
    table["V key0"][accuse] = 0.9
    table["V key0"][quiet] = 0.1
    pairs = preference_pairs(_situations(), LatentPolicy(space, table), margin=0.2)
    assert len(pairs) == 3  # key0 situations only; key1 is indifferent
    assert all("werewolf" in p.chosen and "werewolf" not in p.rejected for p in pairs)
    assert {p.group for p in pairs} == {"game 0", "game 2", "game 4"}
    path = tmp_path / "space.json"
    space.save(path)
    policy = solve(load_latent(path, seeds=1), 5)
    assert {len(v) for k, v in policy.table.items() if k.startswith("V ")} == {n}


def test_pairs_weigh_kinds_not_clusters() -> None:
    """A base strategy and a cluster of one kind pool their mass: the quiet kind (0.3 +
    0.3) beats the accusing cluster (0.4) though no single quiet strategy does."""
    space, _ = build_space(_situations(), _kind_embed, k=2, seed=0)
    roles = space.roles[3]
    n = len(roles)
    row = [0.0] * n
    row[next(i for i, s in enumerate(roles) if s.kind == "accuse" and s.centroid)] = 0.4
    row[next(i for i, s in enumerate(roles) if s.kind == "quiet" and s.centroid)] = 0.3
    row[next(i for i, s in enumerate(roles) if s.kind == "quiet" and not s.centroid)] = 0.3
    policy = LatentPolicy(space, {"V key0": row})
    assert policy.kind_probs("V key0", 3) == pytest.approx(
        {k: {"accuse": 0.4, "quiet": 0.6}.get(k, 0.0) for k in policy.kind_probs("V key0", 3)}
    )
    pairs = preference_pairs(_situations(), policy, margin=0.15)
    assert len(pairs) == 3
    assert all("werewolf" not in p.chosen and "werewolf" in p.rejected for p in pairs)
    assert preference_pairs(_situations(), policy, margin=0.25) == []
    assert policy.kind_probs("unseen", 3) is None


@pytest.mark.parametrize(
    ("text", "kind", "template"),
    [
        ("I think player 3 is a wolf.", "accuse", "I think player {target} is a wolf."),
        ("Seat 6 is innocent.", "support", "Seat {target} is innocent."),
        ("Vote them out!", "accuse", "I think player {target} is a werewolf."),
        ("Nothing from me.", "quiet", "Nothing from me."),
        ("Player 2 {is} odd", "accuse", "Player {target} (is) odd"),
    ],
)
def test_as_template(text: str, kind: str, template: str) -> None:
    assert as_template(text, kind) == template
