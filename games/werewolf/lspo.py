"""LSPO's language side for Werewolf: candidate statements from self-play, their
embeddings, k-means clusters per role as latent strategies (`LatentSpace`, latent.py),
and preference pairs from a solved latent policy.

- `Situation`: one speaking turn of a self-play game: the speaker's role, its latent key
  (latent.py `latent_key`), the prompt it was asked with, and the candidate statements
  its model proposed (each with the base kind `parse_statement` hears in it).
- `Embedder`: mean-pooled last hidden states of a causal LM (the local model by default).
- `build_space`: k-means (scipy's `kmeans2`, k-means++ seeding) per role over the
  candidates' embeddings; a cluster's kind is its members' majority kind, its template
  the member nearest the centroid (the seat it names replaced by `{target}`).
- `preference_pairs`: per situation, a candidate of the kind the latent policy favours
  most (chosen) against one of the kind it favours least (rejected), when the policy's
  mass on the two kinds differs by at least `margin`.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyspiel

from games.werewolf.bots import decide
from games.werewolf.game import (
    NUM_PLAYERS,
    ROLE_NAMES,
    SPEECH,
    SPEECH_BASE,
    WOLF,
    View,
)
from games.werewolf.latent import LatentPolicy, LatentSpace, LatentStrategy, latent_key
from games.werewolf.speech import BASE_KINDS, TARGETED, TEMPLATES, Statement, parse_statement
from games.werewolf.transcript import Transcript


@dataclass(frozen=True)
class Candidate:
    text: str
    kind: str
    """The base kind `parse_statement` hears in the text."""


@dataclass(frozen=True)
class Situation:
    """One speaking turn of a self-play game and the statements proposed for it."""

    game: int
    turn: int
    role: int
    key: str
    prompt: str
    candidates: tuple[Candidate, ...]
    spoken: int = 0
    """The candidate that was said."""

    @property
    def group(self) -> str:
        """Held-out splits keep whole games apart."""
        return f"game {self.game}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "candidates": [asdict(c) for c in self.candidates]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Situation:
        return cls(
            int(d["game"]),
            int(d["turn"]),
            int(d["role"]),
            str(d["key"]),
            str(d["prompt"]),
            tuple(Candidate(str(c["text"]), str(c["kind"])) for c in d["candidates"]),
            int(d.get("spoken", 0)),
        )


class Embedder:
    """Sentence vectors: the mean of a causal LM's last hidden states over the text's
    tokens, L2-normalised."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 16) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out: list[np.ndarray] = []
        tok = self.tokenizer
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                batch = tok(
                    [t or " " for t in texts[i : i + self.batch_size]],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=128,
                )
                hidden = self.model(**batch, output_hidden_states=True).hidden_states[-1]
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                mean = mean / mean.norm(dim=-1, keepdim=True).clamp(min=1e-8)
                out.append(mean.float().numpy())
        dim = int(self.model.config.hidden_size)
        return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


_SEAT = re.compile(r"\b(?:player|seat|number|#)\s*(\d)\b|\b(\d)\b", re.I)


def as_template(text: str, kind: str) -> str:
    """A statement as a latent strategy's template: the first seat it names becomes
    `{target}` for targeted kinds; the kind's own template when it names none (or for
    an empty text)."""
    text = " ".join(text.split())[:200].replace("{", "(").replace("}", ")")
    if not text:
        return TEMPLATES[kind]
    if kind not in TARGETED:
        return text if not _SEAT.search(text) else TEMPLATES[kind]
    m = _SEAT.search(text)
    if m is None:
        return TEMPLATES[kind]
    group = 1 if m.group(1) is not None else 2
    start, end = m.span(group)
    return text[:start] + "{target}" + text[end:]


def build_space(
    situations: Sequence[Situation],
    embed: Any,
    k: int,
    seed: int = 0,
    keep: LatentSpace | None = None,
) -> tuple[LatentSpace, dict[tuple[int, int, int], int]]:
    """Per role, `keep`'s strategies (the base kinds by default: the catalogue LSPO
    grows), then k-means with `k` clusters (fewer when a role has fewer distinct
    candidates) over its candidates' embeddings; and each candidate's strategy index,
    keyed by (game, turn, candidate index)."""
    from scipy.cluster.vq import kmeans2

    keep = keep or LatentSpace.base()
    roles: list[tuple[LatentStrategy, ...]] = []
    assignment: dict[tuple[int, int, int], int] = {}
    for role in range(len(ROLE_NAMES)):
        items = [
            ((s.game, s.turn, i), c)
            for s in situations
            if s.role == role
            for i, c in enumerate(s.candidates)
        ]
        kept = keep.roles[role]
        distinct = len({c.text for _, c in items})
        if distinct < 2:
            roles.append(kept)
            continue
        vectors = np.asarray(embed([c.text for _, c in items]), dtype=np.float64)
        kk = min(k, distinct)
        centroids, labels = kmeans2(vectors, kk, minit="++", seed=seed + role)
        strategies = list(kept)
        used = sorted(set(int(x) for x in labels))  # clusters that kept members
        for j, label in enumerate(used):
            members = [i for i, x in enumerate(labels) if x == label]
            kinds = Counter(items[i][1].kind for i in members)
            kind = max(BASE_KINDS, key=lambda kd: (kinds[kd], -BASE_KINDS.index(kd)))
            dist = np.linalg.norm(vectors[members] - centroids[label], axis=1)
            order = [members[i] for i in np.argsort(dist)]
            medoid = next((i for i in order if items[i][1].kind == kind), order[0])
            strategies.append(
                LatentStrategy(
                    f"{ROLE_NAMES[role]}.{j}",
                    kind,
                    as_template(items[medoid][1].text, kind),
                    tuple(dict.fromkeys(items[i][1].text for i in order[:5])),
                    tuple(round(float(x), 5) for x in centroids[label]),
                )
            )
            for i in members:
                assignment[items[i][0]] = len(kept) + j
        roles.append(tuple(strategies))
    return LatentSpace(tuple(roles)), assignment


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str
    group: str
    chosen_p: float
    rejected_p: float


def preference_pairs(
    situations: Sequence[Situation], policy: LatentPolicy, margin: float = 0.2
) -> list[PreferencePair]:
    """Per situation whose key the policy knows: a candidate of the kind the policy
    favours most over one of the kind it favours least, when the policy's mass on the
    two kinds (`LatentPolicy.kind_probs`) differs by at least `margin` (distinct texts
    only). A candidate counts as the kind the game hears in it (`Candidate.kind`), the
    move its words make; two clusters of one kind act alike in the latent game, so the
    policy's split between them is no preference and makes no pair."""
    pairs = []
    for s in situations:
        mass = policy.kind_probs(s.key, s.role)
        if mass is None:
            continue
        scored = [(mass[c.kind], c.text) for c in s.candidates if c.text.strip()]
        if len({t for _, t in scored}) < 2:
            continue
        best = max(scored)
        worst = min(scored)
        if best[0] - worst[0] >= margin and best[1] != worst[1]:
            pairs.append(PreferencePair(s.prompt, best[1], worst[1], s.group, best[0], worst[0]))
    return pairs


def save_jsonl(rows: Sequence[Any], path: Path) -> None:
    with path.open("w") as f:
        for r in rows:
            f.write(json.dumps(r.to_json() if hasattr(r, "to_json") else asdict(r)) + "\n")


# -- self-play ----------------------------------------------------------------------------


def speech_messages(view: View, said: Transcript) -> list[dict[str, str]]:
    """What a speaker is asked: its role and private knowledge (its view only), the
    record so far, and the request for one or two sentences."""
    role = ROLE_NAMES[view.role]
    team = ""
    if view.role == WOLF:
        partner = [p for p in view.wolves if p != view.me]
        team = f" Your fellow werewolf is player {partner[0]}." if partner else ""
    alive = ", ".join(str(p) for p in range(NUM_PLAYERS) if view.alive[p])
    # The whole record in order, the player's private events too (the view holds only its own).
    record = "\n".join([said.line(e, view) for e in view.events][-30:]) or "(nothing yet)"
    return [
        {
            "role": "system",
            "content": "You are playing Werewolf with 7 players (2 werewolves, a seer, a "
            "doctor and 3 villagers). Reply with one short sentence that you say to the "
            "other players.",
        },
        {
            "role": "user",
            "content": f"You are player {view.me}, the {role}.{team} Alive: {alive}. "
            f"Day {view.day}.\nWhat happened:\n{record}\n\n{EXAMPLES}\n\n"
            "Your turn to speak. What do you say?",
        },
    ]


EXAMPLES = (
    "Things players say, for example:\n"
    '"I am the seer: player 4 is a werewolf."\n'
    '"I think player 2 is lying; vote for player 2."\n'
    '"I trust player 5, they are innocent."\n'
    '"I am just a villager."\n'
    '"It is not me, I am not a werewolf."\n'
    '"I am the doctor."\n'
    '"I have nothing to add."'
)
"""Few-shot lines of every base kind: a small model copies their form, so its candidates
cover more than one kind."""


def propose(
    llm: Any,
    view: View,
    said: Transcript,
    n: int,
    temperature: float,
    max_tokens: int,
    rng: random.Random,
) -> tuple[str, list[str]]:
    """The model's `n` candidate statements for `view`'s speaker (one line each, spaces
    collapsed, at most 300 characters; empty answers kept as ""), and the prompt's last
    message: the one call self-play and the LSPO agent share."""
    messages = speech_messages(view, said)
    got = llm.complete_sync(
        messages=messages,
        n=n,
        temperature=temperature,
        max_tokens=max_tokens,
        stop=["\n"],
        seed=rng.randrange(2**31),
    )
    return str(messages[-1]["content"]), [" ".join((c.text or "").split())[:300] for c in got]


def play_and_collect(
    game: pyspiel.Game,
    index: int,
    llm: Any,
    candidates: int,
    seed: int,
    policy: LatentPolicy | None = None,
    embed: Any = None,
    max_tokens: int = 32,
    temperature: float = 0.7,
) -> tuple[list[Situation], list[float]]:
    """One self-play game: at each speaking turn the model proposes `candidates`
    statements (sampled at `temperature`); the one spoken is, with a policy, the candidate
    nearest the centroid of a latent strategy drawn from the policy for the speaker's
    key (for a base-kind strategy: a candidate heard as that kind), else a random one; its heard statement is the game move. Night moves and votes
    are the rule policy's. Returns the situations and the game's returns."""
    rng = random.Random(seed * 1_000_003 + index)
    s = game.new_initial_state()
    said = Transcript()
    situations: list[Situation] = []
    while not s.is_terminal():
        if s.is_chance_node():
            outcomes = s.chance_outcomes()
            s.apply_action(outcomes[rng.randrange(len(outcomes))][0])
            continue
        player = s.current_player()
        view = s.view(player)
        if view.phase != SPEECH:
            move, _ = decide(view, rng)
            s.apply_action(move)
            continue
        prompt, texts = propose(llm, view, said, candidates, temperature, max_tokens, rng)
        texts = texts or [""]
        living = [p for p in range(NUM_PLAYERS) if view.alive[p]]
        heard = [parse_statement(t, player, living) for t in texts]
        key = latent_key(view)
        pick = rng.randrange(len(texts))
        probs = policy.probs(key, view.role) if policy is not None else None
        if probs is not None and policy is not None:
            chosen = policy.space.roles[view.role][rng.choices(range(len(probs)), probs)[0]]
            same = [i for i, h in enumerate(heard) if h[0] == chosen.kind]
            if chosen.centroid and embed is not None:  # a cluster: its nearest candidate
                vectors = np.asarray(embed(texts))
                gap = np.linalg.norm(vectors - np.asarray(chosen.centroid)[None], axis=1)
                pick = int(np.argmin(gap))
            elif same:  # a base kind: a candidate heard as that kind
                pick = rng.choice(same)
        kind, target = heard[pick]
        situations.append(
            Situation(
                index,
                len(situations),
                view.role,
                key,
                prompt,
                tuple(Candidate(t, h[0]) for t, h in zip(texts, heard, strict=True)),
                pick,
            )
        )
        said.record(view.day, player, texts[pick])
        statement = Statement(kind, target)
        s.apply_action(SPEECH_BASE + view.config.catalogue.index(statement))
    return situations, list(s.returns())
