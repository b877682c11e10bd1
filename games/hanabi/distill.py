"""A blueprint distilled from search: the rule bot plus a learned advantage over it.

Search (SPARTA's estimates: every legal action rolled out in the same sampled worlds,
all seats then following the rule bot) says, at a decision, how much each action gains
over the rule bot's choice. Those estimates are noisy with a few worlds, but their mean
is the true gain, so a network fitted to many cheap ones by least squares learns the
expected gain of each action given what the acting player sees (`learned.features`,
plus the rule bot's choice). The distilled policy plays the rule bot's action unless the
network expects another legal action to gain more than `margin`: one step of policy
iteration over the rule bot, learned, at the cost of a forward pass per move (numpy,
no torch at play time). Search-distillation in the sense of expert iteration, with the
rule bot as the expert's prior.

Pipeline (resumable):

1. Label: `python -m benchmarks.hanabi_distill label` plays rule-bot self-play on tuning
   decks (`label_game`: `--worlds` sampled worlds for every legal action, then
   `--fresh` more for the best `--keep`); chunks of games are units of the run
   primitive, each an .npz written atomically.
2. Train: `python -m benchmarks.hanabi_distill train` (`train` here): least squares on
   the labelled gains, each weighted by its worlds, the last tenth of the games held out.
3. Use: `hanabi_learned:path=FILE,margin=M` as a bot, or
   `mds:blueprint=hanabi_learned,model=FILE` to search on top of it; the margin is chosen
   on tuning seeds (`agents bench hanabi --tuning`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyspiel

from games.hanabi.game import HanabiConfig, Tracker
from games.hanabi.learned import LearnedModelError, Turn, feature_size, features, turns
from games.hanabi.rules import decide

KIND = "rules+gain"
"""The `kind` of a distilled model file (imitation models have none)."""


Decision = Turn
"""A decision of rule-bot self-play: (state, tracker, player, legal actions, rule action)."""


def decisions(seed: int, players: int = 2) -> Iterator[Decision]:
    """Rule-bot self-play on deck `seed`, stopping at every decision with a choice (those
    `label_game` labels); the caller must not change the state or the tracker. Once
    exhausted, the last state yielded is the finished game."""
    for turn in turns(seed, players):
        _, _, _, legal, action = turn
        if len(legal) > 1 and action in legal:
            yield turn


def decision_features(seed: int, players: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The features and rule-bot actions at deck `seed`'s labelled decisions, by replay
    (a fraction of a second a game): label chunks need not store the features, which are
    most of their size."""
    xs, bps = [], []
    for state, tracker, player, _, action in decisions(seed, players):
        xs.append(features(tracker, state, player))
        bps.append(action)
    return np.stack(xs).astype(np.float16), np.asarray(bps, dtype=np.int16)


def label_game(
    seed: int, worlds: int, players: int = 2, keep: int = 0, fresh: int = 14
) -> dict[str, np.ndarray]:
    """Rule-bot self-play on deck `seed`; at every decision with a choice, the paired gain
    of each legal action over the rule bot's from `worlds` worlds in which every action is
    rolled out (`gain`; NaN for illegal actions). With `keep` > 0, the `keep` actions of
    highest gain there are then rolled out, with the rule bot's, in `fresh` more worlds
    (`gain2`, NaN for the others; `w2`: the worlds behind each): those worlds did not
    choose them, so both labels are unbiased, and the fresh one is the less noisy where it
    matters. No features: `decision_features` replays them, as training does."""
    from games.hanabi.mds_bot import MDSBot, MDSBotConfig

    game = HanabiConfig(players=players).load()
    actions = game.num_distinct_actions()
    bps: list[int] = []
    gains: list[np.ndarray] = []
    gains2: list[np.ndarray] = []
    w2: list[np.ndarray] = []
    state: pyspiel.State | None = None
    for state, _, _, legal, action in decisions(seed, players):
        screening = keep > 0 and len(legal) > keep + 1
        budget = worlds * len(legal) + (fresh * (keep + 1) if screening else 0)
        # eta = inf and an unreachable threshold: the estimates, never a deviation.
        config = MDSBotConfig(
            eta=math.inf, floor=0.0, rollouts=budget, threshold=1e9,
            keep=keep if screening else None, screen=worlds,
        )  # fmt: skip
        bot = MDSBot(game, config, seed=seed * 1000 + len(bps))
        bot.step(state)
        res = bot.last
        assert res is not None and res.blueprint_action == action
        first = {k: r for k, r in res.returns.items() if k < worlds}
        later = {k: r for k, r in res.returns.items() if k >= worlds}
        gains.append(_paired(first, legal, action, actions)[0])
        kept = [a for a in legal if a != action and any(a in r for r in later.values())]
        mean2, count2 = _paired(later, kept, action, actions)
        gains2.append(mean2)
        w2.append(count2)
        bps.append(action)
    assert state is not None and state.is_terminal()
    return {
        "bp": np.asarray(bps, dtype=np.int16),
        "gain": np.stack(gains),
        "gain2": np.stack(gains2),
        "w2": np.stack(w2),
        "seed": np.full(len(bps), seed, dtype=np.int64),
        "score": np.asarray([state.returns()[0]], dtype=np.float32),
    }


def _paired(
    table: dict[int, dict[int, float]], acts: list[int], bp: int, actions: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per action, its mean return minus the rule bot's over the worlds both were rolled
    out in, and how many such worlds (NaN and 0 for actions not in `acts`; the rule bot's
    own action gains 0)."""
    mean = np.full(actions, np.nan, dtype=np.float32)
    count = np.zeros(actions, dtype=np.int16)
    for a in acts:
        diffs = [r[a] - r[bp] for r in table.values() if a in r and bp in r]
        if diffs:
            mean[a], count[a] = float(np.mean(diffs)), len(diffs)
    return mean, count


def load_data(data: Path) -> dict[str, np.ndarray]:
    """Every labelled chunk in `data` (`worlds`: the screening worlds per row); chunks
    labelled without fresh worlds get `gain2` NaN and `w2` 0."""
    files = sorted(data.glob("chunk_*.npz"))
    if not files:
        raise FileNotFoundError(f"no labelled chunks in {data} (run `label` first)")
    parts = []
    for f in files:
        p = dict(np.load(f))
        if "x" not in p:  # a compact chunk: the features are replayed
            p["x"] = _replayed(f, p["seed"], p["bp"])
        p.setdefault("gain2", np.full_like(p["gain"], np.nan))
        p.setdefault("w2", np.zeros(p["gain"].shape, dtype=np.int16))
        p.setdefault("worlds", np.full(len(p["bp"]), _worlds_of(f), dtype=np.int16))
        parts.append(p)
    keys = ("x", "bp", "gain", "gain2", "w2", "worlds", "seed")
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _replayed(path: Path, seeds: np.ndarray, bp: np.ndarray) -> np.ndarray:
    """The features of a chunk's rows, replayed deck by deck; the rule bot's actions must
    be the stored ones (else the rule bot changed since the chunk was labelled)."""
    xs, bps = [], []
    for seed in dict.fromkeys(seeds.tolist()):
        x, b = decision_features(int(seed))
        xs.append(x)
        bps.append(b)
    if not np.array_equal(np.concatenate(bps), bp):
        raise LearnedModelError(
            f"{path}: its decisions are not the current rule bot's (games/hanabi/rules.py "
            "changed since it was labelled); label again"
        )
    return np.concatenate(xs)


def _worlds_of(path: Path) -> int:
    """The screening worlds of a chunk, from its name (chunk_START_wW[_kK].npz)."""
    for part in path.stem.split("_"):
        if part.startswith("w") and part[1:].isdigit():
            return int(part[1:])
    return 1


def inputs(x: np.ndarray, bp: np.ndarray, actions: int) -> np.ndarray:
    """The network's input: the features, then the rule bot's action one-hot."""
    onehot = np.zeros((len(bp), actions), dtype=np.float32)
    onehot[np.arange(len(bp)), bp.astype(np.int64)] = 1.0
    return np.concatenate([x.astype(np.float32), onehot], axis=1)


def train(
    data: Path,
    out: Path,
    epochs: int = 20,
    hidden: int = 256,
    layers: int = 2,
    lr: float = 1e-3,
    heldout: float = 0.1,
    seed: int = 0,
    margin: float = 0.5,
    members: int = 1,
    say: Callable[[str], None] = print,
) -> dict[str, float]:
    """Fit the gain network: least squares over the labelled gains of the legal actions
    other than the rule bot's, each weighted by the worlds behind it; the last `heldout`
    share of the games is held out. With `members` > 1, that many networks from different
    initialisations and batch orders (an ensemble: `DistilledPolicy` deviates only where
    all of them expect a gain). Returns the held-out loss of the members' mean prediction
    and of predicting zero gain (the rule bot itself)."""
    import torch

    from games.hanabi.learned import MLP

    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    d = load_data(data)
    actions = d["gain"].shape[1]
    x = torch.from_numpy(inputs(d["x"], d["bp"], actions))
    rows = np.arange(len(d["bp"]))
    targets, weights = [], []
    for gain, worlds in ((d["gain"], d["worlds"][:, None]), (d["gain2"], d["w2"])):
        w = (~np.isnan(gain)) * worlds.astype(np.float32)
        w[rows, d["bp"].astype(np.int64)] = 0.0  # the rule bot's own gain is 0 by definition
        targets.append(torch.from_numpy(np.nan_to_num(gain, nan=0.0)))
        weights.append(torch.from_numpy(w.astype(np.float32)))
    seeds = np.unique(d["seed"])
    cut = seeds[int(len(seeds) * (1 - heldout))] if heldout > 0 else seeds[-1] + 1
    tr = np.flatnonzero(d["seed"] < cut)
    va = torch.from_numpy(np.flatnonzero(d["seed"] >= cut))

    def weighted(pred: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Least squares weighted by the worlds behind each label (inverse variance)."""
        err = sum(
            ((pred - g[idx]) ** 2 * w[idx]).sum() for g, w in zip(targets, weights, strict=True)
        )
        total = sum(w[idx].sum() for w in weights)
        out: torch.Tensor = err / torch.clamp(torch.as_tensor(total), min=1.0)
        return out

    def fit(member: int) -> MLP:
        """One network, its weights those of its epoch of least held-out loss."""
        torch.manual_seed(seed + member)
        model = MLP(x.shape[1], actions, hidden, layers)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-5)
        best, best_state = math.inf, None
        for epoch in range(epochs):
            model.train()
            rng = np.random.default_rng(seed + epoch + 1000 * member)
            order = torch.from_numpy(rng.permutation(tr))
            for i in range(0, len(order), 256):
                batch = order[i : i + 256]
                loss = weighted(model(x[batch]), batch)
                opt.zero_grad()
                torch.autograd.backward(loss)
                opt.step()
            val = heldout_loss([model])
            tag = f"member {member + 1}/{members} " if members > 1 else ""
            say(f"{tag}epoch {epoch + 1}: held-out loss {val:.4f} (zero gain {zero:.4f})")
            if val < best or best_state is None:
                best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
        assert best_state is not None
        model.load_state_dict(best_state)
        return model

    def heldout_loss(models: list[MLP]) -> float:
        if not len(va):
            return float("nan")
        with torch.no_grad():
            for m in models:
                m.eval()
            return float(weighted(torch.stack([m(x[va]) for m in models]).mean(0), va))

    zero = float(weighted(torch.zeros(len(va), actions), va)) if len(va) else 0.0
    say(f"{len(tr)} training decisions, {len(va)} held out; zero-gain held-out loss {zero:.3f}")
    models = [fit(m) for m in range(members)]
    best = heldout_loss(models)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(
        {
            "kind": KIND, "members": [m.state_dict() for m in models],
            "inputs": int(x.shape[1]), "actions": actions, "hidden": hidden, "layers": layers,
            "margin": margin, "decisions": len(d["bp"]), "games": len(seeds),
            "heldout_loss": best, "zero_loss": zero,
        },
        tmp,
    )  # fmt: skip
    os.replace(tmp, out)
    say(f"saved {out}: held-out loss {best:.4f} vs {zero:.4f} for the rule bot's zero gain")
    return {"heldout_loss": best, "zero_loss": zero}


class DistilledPolicy:
    """The rule bot plus the gain network: `policy(tracker, state, player)` -> the rule
    bot's action, unless the network expects another legal action to gain > `margin`."""

    rule_based = True
    """Moves as the rule bot does but for rare deviations: search may check sampled hands
    against the partner's last move with the rule bot (`MDSBot._last_move`)."""

    def __init__(self, blob: dict[str, Any], margin: float | None = None) -> None:
        n = int(blob["layers"]) + 1
        # An ensemble's members, or (files from before ensembles) one network.
        members = blob["members"] if "members" in blob else [blob["state_dict"]]
        if not members:
            raise ValueError("no networks in the file")
        self.nets = [
            (
                [sd[f"net.{2 * k}.weight"].numpy().T.copy() for k in range(n)],
                [sd[f"net.{2 * k}.bias"].numpy().copy() for k in range(n)],
            )
            for sd in members
        ]
        self.inputs = int(blob["inputs"])
        self.actions = int(blob["actions"])
        self.margin = float(blob["margin"] if margin is None else margin)
        self.meta = {k: v for k, v in blob.items() if k not in ("state_dict", "members")}
        self.calls = 0
        self.deviations = 0

    def check(self, game: pyspiel.Game) -> None:
        cfg = HanabiConfig.of(game)
        want = (feature_size(cfg, game) + game.num_distinct_actions(), game.num_distinct_actions())
        if (self.inputs, self.actions) != want:
            raise LearnedModelError(
                f"the distilled model takes {self.inputs} inputs and {self.actions} actions, "
                f"this hanabi variant needs {want[0]} and {want[1]}"
            )

    def gains(self, tracker: Tracker, state: pyspiel.State, player: int, bp: int) -> np.ndarray:
        """Each action's expected gain over the rule bot's `bp`: with an ensemble, the
        least of its members' (a network errs most off the rule bot's own trajectories,
        where it never saw a label and members disagree; a deviation there needs all of
        them to expect a gain)."""
        x = np.concatenate([features(tracker, state, player), np.zeros(self.actions, np.float32)])
        x[self.inputs - self.actions + bp] = 1.0
        out: np.ndarray | None = None
        for weights, biases in self.nets:
            h = x
            for k, (w, b) in enumerate(zip(weights, biases, strict=True)):
                h = h @ w + b
                if k < len(weights) - 1:
                    np.maximum(h, 0.0, out=h)
            out = h if out is None else np.minimum(out, h)
        assert out is not None
        return out

    def __call__(self, tracker: Tracker, state: pyspiel.State, player: int) -> int:
        self.calls += 1
        bp = decide(tracker, player)
        legal = state.legal_actions(player)
        if bp not in legal or len(legal) == 1:
            return bp
        g = self.gains(tracker, state, player, bp)
        best = max((a for a in legal if a != bp), key=lambda a: g[a])
        if g[best] > self.margin:
            self.deviations += 1
            return int(best)
        return bp
