"""A learned Hanabi blueprint: a small torch MLP trained on CPU by imitation of the rule
bot (rules.py), usable as a bot (`hanabi_learned:path=FILE`) and as MDS's blueprint and
rollout policy (`mds:blueprint=hanabi_learned,model=FILE`).

Input: OpenSpiel's observation tensor of the acting player, plus the rule conventions'
public reading of every card (`rules.Public`: its possible identities, their classes, its
flag and whether it is the discard slot), seats in the order the player sees them, and per
hint action how the conventions would read it and what the card it points at is. Output: one logit per action;
illegal actions are masked before the argmax, so the policy only returns legal actions.

Training (`train`, or `python -m games.hanabi.learned train`): rule-bot games on random
decks, where with probability `explore` a seat plays a random legal move instead (the
label stays the rule bot's choice), so the policy also sees states the rule bot would not
reach; cross-entropy over legal actions, Adam. Weights go to
~/.cache/agents-search/hanabi/ by default (not in the repository).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyspiel
import torch
from torch import nn

from games.errors import GameError
from games.hanabi.game import HanabiConfig, Tracker, deck_order
from games.hanabi.rules import Public, RuleBot, apply, decide, public, read_hint
from games.spiel import Bot


def default_path() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "agents-search" / "hanabi" / "learned_rules.pt"


class LearnedModelError(GameError, ValueError):
    """A missing or unreadable model file, or one for another Hanabi variant."""


PER_CARD = 3 + 1 + 4 + 3
"""Per card besides its possible identities: flag one-hot (3), discard slot, the public
classes of its possibilities (known playable, maybe playable, known worthless, known last
copy) and the chances, weighing the identities by the copies the acting player cannot
see, that it is playable, dead or a last copy."""


READINGS = ("play", "warning", "reveal", "stall", "none")
PER_HINT = 1 + len(READINGS) + 3
"""Per hint action: legal, how the conventions read it (`rules.read_hint`), and whether
the card a play reading points at is playable, dead, or the warned card a last copy."""


def feature_size(cfg: HanabiConfig, game: pyspiel.Game) -> int:
    cards = cfg.players * cfg.hands
    hints = (cfg.players - 1) * (cfg.colors + cfg.ranks)
    return (
        int(game.observation_tensor_size())
        + cards * (PER_CARD + cfg.colors * cfg.ranks)
        + hints * PER_HINT
    )


def _hint_features(tracker: Tracker, pub: Public, player: int) -> np.ndarray:
    cfg = tracker.cfg
    n, nr = cfg.players, tracker.nr
    out = np.zeros((n - 1) * (cfg.colors + cfg.ranks) * PER_HINT, dtype=np.float32)
    if tracker.info <= 0:
        return out
    k = 0
    for offset in range(1, n):
        to = (player + offset) % n
        for kind, count in (("color", cfg.colors), ("rank", cfg.ranks)):
            for value in range(count):
                base = k * PER_HINT
                k += 1
                touched = tracker.touched(to, kind, value)
                if not touched:
                    continue
                reading, slot, _ = read_hint(tracker, pub, player, to, kind, value, touched)
                out[base] = 1.0
                if reading in READINGS:
                    out[base + 1 + READINGS.index(reading)] = 1.0
                if slot >= 0:
                    card = tracker.hands[to][slot]
                    color, rank = divmod(card, nr)
                    tail = base + 1 + len(READINGS)
                    out[tail] = float(tracker.fireworks[color] == rank)
                    out[tail + 1] = float(tracker.fireworks[color] > rank)
                    out[tail + 2] = float(pub.valuable >> card & 1)
    return out


def _card_odds(m: int, weights: list[int], pub: Public) -> tuple[float, float, float]:
    """(playable, dead, last copy) chances of a card whose identity is one of mask m."""
    total = play = dead = last = 0
    for c in range(len(weights)):
        if m >> c & 1 and weights[c]:
            w = weights[c]
            total += w
            if pub.playable >> c & 1:
                play += w
            if pub.dead >> c & 1:
                dead += w
            elif pub.valuable >> c & 1:
                last += w
    if not total:
        return 0.0, 0.0, 0.0
    return play / total, dead / total, last / total


def features(tracker: Tracker, state: pyspiel.State, player: int) -> np.ndarray:
    """The policy's input for `player` at `state` (tracker advanced by rules.apply): the
    observation tensor, then per card (seats from the player's) the rule conventions'
    public reading (`rules.Public`)."""
    cfg = tracker.cfg
    n, hs, nk = cfg.players, cfg.hands, cfg.colors * cfg.ranks
    width = PER_CARD + nk
    conv = np.zeros(n * hs * width, dtype=np.float32)
    pub = public(tracker)
    counts = tracker.public_unseen()
    mine = tracker.unseen_by(player)
    for k in range(n):
        seat = (player + k) % n
        slot = pub.discard_slot(seat)
        for i, flag in enumerate(tracker.flags[seat]):
            base = (k * hs + i) * width
            m = pub.poss[seat][i]
            conv[base + min(flag, 2)] = 1.0
            conv[base + 3] = float(i == slot)
            conv[base + 4 : base + 8] = (
                pub.is_playable(m),
                pub.maybe_playable(m),
                pub.is_worthless(m),
                pub.is_valuable(m),
            )
            conv[base + 8 : base + 11] = _card_odds(m, mine if k == 0 else counts, pub)
            conv[base + PER_CARD : base + width] = [(m >> c) & 1 for c in range(nk)]
    obs = np.asarray(state.observation_tensor(player), dtype=np.float32)
    return np.concatenate([obs, conv, _hint_features(tracker, pub, player)])


class MLP(nn.Module):
    def __init__(self, inputs: int, actions: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.inputs = inputs
        self.actions = actions
        mods: list[nn.Module] = []
        width = inputs
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        mods.append(nn.Linear(width, actions))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Illegal actions (mask 0) get -inf."""
    return logits.masked_fill(mask <= 0, float("-inf"))


class LearnedPolicy:
    """A trained MLP as a blueprint: `policy(tracker, state, player)` -> a legal action."""

    def __init__(self, model: MLP, meta: dict[str, object]) -> None:
        self.model = model.eval()
        self.meta = meta
        self.calls = 0

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LearnedPolicy:
        p = Path(path)
        return cls.from_blob(read_model(p), p)

    @classmethod
    def from_blob(cls, blob: dict[str, Any], path: Path) -> LearnedPolicy:
        """The policy of a model file's contents (`read_model`)."""
        try:
            model = MLP(blob["inputs"], blob["actions"], blob["hidden"], blob["layers"])
            model.load_state_dict(blob["state_dict"])
        except Exception as exc:  # any unreadable file is the same error
            raise LearnedModelError(f"cannot read the learned Hanabi model {path}: {exc}") from None
        torch.set_num_threads(1)
        return cls(model, {k: v for k, v in blob.items() if k != "state_dict"})

    def check(self, game: pyspiel.Game) -> None:
        cfg = HanabiConfig.of(game)
        want = (feature_size(cfg, game), game.num_distinct_actions())
        got = (self.model.inputs, self.model.actions)
        if want != got:
            raise LearnedModelError(
                f"the learned model takes {got[0]} inputs and {got[1]} actions, this hanabi "
                f"variant needs {want[0]} and {want[1]}"
            )

    def logits(self, tracker: Tracker, state: pyspiel.State, player: int) -> torch.Tensor:
        x = torch.from_numpy(features(tracker, state, player))
        mask = torch.zeros(self.model.actions)
        mask[state.legal_actions(player)] = 1.0
        with torch.no_grad():
            return masked_logits(self.model(x), mask)

    def __call__(self, tracker: Tracker, state: pyspiel.State, player: int) -> int:
        self.calls += 1
        return int(torch.argmax(self.logits(tracker, state, player)).item())


class Blueprint(Protocol):
    """A learned blueprint: an imitation `LearnedPolicy` or a distilled policy
    (games/hanabi/distill.py); both are `Policy` callables for MDS's rollouts."""

    def __call__(self, tracker: Tracker, state: pyspiel.State, player: int) -> int: ...

    def check(self, game: pyspiel.Game) -> None: ...


def read_model(p: Path) -> dict[str, Any]:
    """The contents of a model file; a missing or unreadable one is a one-line error."""
    if not p.is_file():
        raise LearnedModelError(
            f"no learned Hanabi model at {p}; train one with "
            f"`python -m games.hanabi.learned train --out {p}`"
        )
    try:
        blob = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # any unreadable file is the same error
        raise LearnedModelError(f"cannot read the learned Hanabi model {p}: {exc}") from None
    if not isinstance(blob, dict):
        raise LearnedModelError(f"cannot read the learned Hanabi model {p}: not a model file")
    return blob


def load_policy(path: str | os.PathLike[str], margin: float | None = None) -> Blueprint:
    """The model in `path`, read once: a distilled policy (its file says `kind`), with
    `margin` overriding its saved deviation margin, or an imitation policy (no margin)."""
    from games.hanabi.distill import KIND, DistilledPolicy

    p = Path(path)
    blob = read_model(p)
    if blob.get("kind") == KIND:
        try:
            return DistilledPolicy(blob, margin)
        except (KeyError, TypeError, ValueError) as exc:
            raise LearnedModelError(f"cannot read the distilled Hanabi model {p}: {exc}") from None
    if margin is not None:
        raise LearnedModelError(f"margin= goes with a distilled model, and {p} is not one")
    return LearnedPolicy.from_blob(blob, p)


class LearnedBot(Bot):
    """The learned blueprint as a `pyspiel.Bot`; an illegal choice (impossible with the
    mask, but checked) is counted in `illegal` and replaced by a seeded random legal one."""

    def __init__(self, game: pyspiel.Game, policy: Blueprint, seed: int = 0) -> None:
        super().__init__()
        policy.check(game)
        self.policy = policy
        self._tracking = RuleBot(game, seed)
        self._rng = random.Random(seed)
        self.illegal = 0
        self.thinking = ""

    @property
    def deviations(self) -> int:
        """Moves a distilled policy made away from the rule bot (0 for imitation)."""
        return int(getattr(self.policy, "deviations", 0))

    def step(self, state: pyspiel.State) -> int:
        player = state.current_player()
        action = self.policy(self._tracking.tracker(state), state, player)
        legal = state.legal_actions()
        if action not in legal:
            self.illegal += 1
            action = self._rng.choice(legal)
        self.thinking = state.action_to_string(player, action)
        return action

    def restart_at(self, state: pyspiel.State) -> None:
        self._tracking.restart_at(state)

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass


TUNING_DECKS = 100_000
"""Imitation games deal tuning decks (seeds below 1000000, `benchmarks.protocol`) from
here: 100000 + 10000 * seed onwards."""


Turn = tuple[pyspiel.State, Tracker, int, list[int], int]
"""A turn of a game on a dealt deck: (state, tracker, player, legal actions, the rule
bot's action there)."""


def turns(
    seed: int,
    players: int = 2,
    play: Callable[[Tracker, pyspiel.State, int, list[int], int], int] | None = None,
) -> Iterator[Turn]:
    """A game on deck `seed`, stopping at every player's turn: the rule bot plays, or
    `play(tracker, state, player, legal, rule_action)` chooses, after the caller has seen
    the turn (it must not change the state or the tracker). Once exhausted, the last state
    yielded is the finished game."""
    cfg = HanabiConfig(players=players)
    cards = iter(deck_order(seed, cfg))
    state = cfg.load().new_initial_state()
    tracker = Tracker(cfg)
    while not state.is_terminal():
        if state.is_chance_node():
            action = next(cards)
        else:
            player = state.current_player()
            legal = state.legal_actions()
            action = decide(tracker, player)
            yield state, tracker, player, legal, action
            if play is not None:
                action = play(tracker, state, player, legal, action)
        state.apply_action(action)
        apply(tracker, action)


@dataclass
class Dataset:
    x: np.ndarray
    mask: np.ndarray
    y: np.ndarray


def generate(
    games: int,
    seed: int = 0,
    explore: float = 0.05,
    players: int = 2,
    policy: LearnedPolicy | None = None,
    scores: list[float] | None = None,
) -> Dataset:
    """(features, legal mask, rule action) at every decision of `games` games played by
    the rule bot, or by `policy` when given (DAgger: its states, the rule bot's labels);
    final scores are appended to `scores`. The decks are tuning decks
    (`benchmarks.protocol.HANABI`): deck seeds TUNING_DECKS + 10000 * seed onwards."""
    cfg = HanabiConfig(players=players)
    game = cfg.load()
    actions = game.num_distinct_actions()
    rng = random.Random(seed)
    xs: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    ys: list[int] = []
    first = TUNING_DECKS + 10_000 * seed
    if not (first >= 0 and first + games <= 1_000_000):
        raise ValueError(f"seed {seed} with {games} games leaves the tuning decks")

    def play(
        tracker: Tracker, state: pyspiel.State, player: int, legal: list[int], rule: int
    ) -> int:
        label = rule if policy is None else policy(tracker, state, player)
        action = rng.choice(legal) if rng.random() < explore else label
        return action if action in legal else rng.choice(legal)

    for g in range(games):
        state = None
        for state, tracker, player, legal, label in turns(first + g, players, play):
            if label in legal:
                xs.append(features(tracker, state, player))
                m = np.zeros(actions, dtype=np.float32)
                m[legal] = 1.0
                masks.append(m)
                ys.append(label)
        if scores is not None and state is not None:
            scores.append(float(state.returns()[0]))
    return Dataset(np.stack(xs), np.stack(masks), np.asarray(ys, dtype=np.int64))


def train(
    out: str | os.PathLike[str] | None = None,
    games: int = 2000,
    epochs: int = 8,
    hidden: int = 256,
    layers: int = 2,
    seed: int = 0,
    explore: float = 0.05,
    seconds: float | None = None,
    say: object = print,
    dagger: int = 0,
    dagger_games: int = 500,
    init: str | os.PathLike[str] | None = None,
) -> Path:
    """Imitation of the rule bot, then `dagger` rounds of DAgger (games played by the
    model, labelled by the rule bot, added to the data, `epochs` more epochs each);
    `init` starts from saved weights. Returns the saved file."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    path = Path(out) if out is not None else default_path()
    t0 = time.perf_counter()
    log = say if callable(say) else (lambda _: None)
    chunks = [generate(games, seed, explore)]
    log(f"{len(chunks[0].y)} decisions from {games} games in {time.perf_counter() - t0:.0f} s")
    inputs, actions = chunks[0].x.shape[1], chunks[0].mask.shape[1]
    if init is not None:
        model = LearnedPolicy.load(init).model
    else:
        model = MLP(inputs, actions, hidden, layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    acc = 0.0
    for rnd in range(dagger + 1):
        if rnd:
            scores: list[float] = []
            policy = LearnedPolicy(model, {"inputs": inputs, "actions": actions})
            chunks.append(generate(dagger_games, seed + rnd, explore, policy=policy, scores=scores))
            log(
                f"DAgger round {rnd}: the model scored {sum(scores) / len(scores):.2f} over "
                f"{len(scores)} games; {sum(len(c.y) for c in chunks)} decisions in all"
            )
        acc = _fit(model, opt, chunks, epochs, seed, log)
        if seconds is not None and time.perf_counter() - t0 > seconds:
            break
    x = torch.from_numpy(chunks[0].x[:1])
    mask = torch.from_numpy(chunks[0].mask[:1])
    n = sum(len(c.y) for c in chunks)
    import games.hanabi.rules as rules

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": model.state_dict(),
            "inputs": int(x.shape[1]),
            "actions": int(mask.shape[1]),
            "hidden": model.net[0].out_features,
            "layers": (len(model.net) - 1) // 2,
            "games": games,
            "dagger": dagger,
            "dagger_games": dagger_games,
            "decisions": n,
            "explore": explore,
            "val_accuracy": acc,
            "rules_sha": hashlib.sha256(Path(rules.__file__).read_bytes()).hexdigest()[:12],
        },
        path,
    )
    log(f"saved {path} ({time.perf_counter() - t0:.0f} s)")
    return path


def _fit(
    model: MLP,
    opt: torch.optim.Optimizer,
    chunks: list[Dataset],
    epochs: int,
    seed: int,
    log: object,
) -> float:
    """`epochs` passes over all chunks but the last tenth of each (held out)."""
    x = torch.from_numpy(np.concatenate([c.x for c in chunks]))
    mask = torch.from_numpy(np.concatenate([c.mask for c in chunks]))
    y = torch.from_numpy(np.concatenate([c.y for c in chunks]))
    tr: list[np.ndarray] = []
    val: list[np.ndarray] = []
    start = 0
    for c in chunks:
        idx = np.arange(start, start + len(c.y))
        cut = len(idx) - max(1, len(idx) // 10)
        tr.append(idx[:cut])
        val.append(idx[cut:])
        start += len(c.y)
    train_idx, val_idx = np.concatenate(tr), torch.from_numpy(np.concatenate(val))
    loss_fn = nn.CrossEntropyLoss()
    acc = 0.0
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(np.random.default_rng(seed + epoch).permutation(train_idx))
        for i in range(0, len(order), 256):
            batch = order[i : i + 256]
            loss = loss_fn(masked_logits(model(x[batch]), mask[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = accuracy(model, x[val_idx], mask[val_idx], y[val_idx])
        if callable(log):
            log(f"epoch {epoch + 1}: loss {loss.item():.3f}, held-out accuracy {acc:.3f}")
    return acc


def accuracy(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        pred = masked_logits(model(x), mask).argmax(dim=1)
    return float((pred == y).float().mean())


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train the learned Hanabi blueprint (imitation).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", default=None)
    t.add_argument("--games", type=int, default=2000)
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--explore", type=float, default=0.05)
    t.add_argument("--seconds", type=float, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--dagger", type=int, default=0, help="DAgger rounds after imitation")
    t.add_argument("--dagger-games", type=int, default=500)
    t.add_argument("--init", default=None, help="start from these weights")
    args = ap.parse_args(argv)
    train(
        args.out,
        args.games,
        args.epochs,
        args.hidden,
        args.layers,
        args.seed,
        args.explore,
        args.seconds,
        dagger=args.dagger,
        dagger_games=args.dagger_games,
        init=args.init,
    )


if __name__ == "__main__":
    main()
