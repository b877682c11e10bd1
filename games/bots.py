"""`make_bot(game, spec, seed)`: every agent we offer, as a `pyspiel.Bot`.

A spec is a kind and options: `random`, `mcts:sims=800`, `mcts:seconds=1,c=1.4`,
`openspiel_mcts:sims=800` (OpenSpiel's Python MCTS), `cpp_mcts:sims=800`
(`pyspiel.MCTSBot`), `cfr:iters=300`, `llm:MODELSPEC` (e.g. `llm:local:smollm2`),
`hanabi_rules` and `mds:eta=5,rollouts=200` (Hanabi only, games/hanabi/bots.py).
The bots are player-agnostic, so OpenSpiel's `evaluate_bots` runs them as they are.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyspiel

from games.adapter import check_searchable
from games.errors import BotSpecError
from search import Budget, InvalidConfigError, MCTSConfig

KINDS: dict[str, str] = {
    "random": "uniformly random legal moves",
    "mcts": "our MCTS: sims=N, seconds=S, c=C, rollouts=R, worlds=W (imperfect info), "
    "final=visits|value, reuse=0|1",
    "openspiel_mcts": "OpenSpiel's Python MCTSBot: sims=N, c=C, rollouts=R",
    "cpp_mcts": "OpenSpiel's C++ pyspiel.MCTSBot: sims=N, seconds=S, c=C, rollouts=R",
    "cfr": "CFR+ average policy (2-player zero-sum games): iters=N",
    "llm": "a language model: llm:MODELSPEC, e.g. llm:local:smollm2 or llm:openai:gpt-4o",
    "hanabi_rules": "Hanabi rule-based conventions bot (hanabi only)",
    "hanabi_learned": "Hanabi MLP trained to imitate hanabi_rules: path=FILE (hanabi only)",
    "mds": "Hanabi mirror-descent search: blueprint=hanabi_rules|hanabi_learned, model=FILE, "
    "eta=E, alpha=A (MMDS), magnet=uniform|blueprint, rollouts=N, seconds=S, floor=F, "
    "threshold=T, z=Z, keep=K, screen=W, workers=P",
}
HELP = "valid bot specs: " + "; ".join(f"{k} ({v})" for k, v in KINDS.items())


@dataclass(frozen=True)
class BotSpec:
    kind: str
    options: dict[str, str]
    rest: str = ""
    """Everything after `llm:` (the model spec)."""


def parse_spec(spec: str) -> BotSpec:
    kind, _, tail = spec.strip().partition(":")
    if kind not in KINDS:
        raise BotSpecError(f"unknown bot {kind!r}; {HELP}")
    if kind == "llm":
        if not tail:
            raise BotSpecError(
                "llm needs a model spec, e.g. llm:local:smollm2 or llm:scripted:FILE"
            )
        return BotSpec(kind, {}, tail)
    options: dict[str, str] = {}
    for part in filter(None, tail.split(",")):
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise BotSpecError(
                f"bad option {part!r} in {spec!r}: write key=value, e.g. mcts:sims=800"
            )
        options[key.strip()] = value.strip()
    return BotSpec(kind, options)


class _Options:
    """Typed reading of spec options; leftovers are an error naming the valid ones."""

    def __init__(self, spec: BotSpec, valid: tuple[str, ...]) -> None:
        self.spec = spec
        unknown = set(spec.options) - set(valid)
        if unknown:
            raise BotSpecError(
                f"unknown option(s) {', '.join(sorted(unknown))} for {spec.kind}; "
                f"valid: {', '.join(valid)}"
            )

    def get(self, key: str, cast: Callable[[str], Any], default: Any) -> Any:
        raw = self.spec.options.get(key)
        if raw is None:
            return default
        try:
            return cast(raw)
        except ValueError:
            raise BotSpecError(f"{self.spec.kind}: {key}={raw!r} is not a valid value") from None


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


class RandomBot(pyspiel.Bot):
    """Uniformly random legal moves, seeded."""

    def __init__(self, seed: int) -> None:
        pyspiel.Bot.__init__(self)
        self._rng = random.Random(seed)
        self.thinking = ""

    def step(self, state: pyspiel.State) -> int:
        action: int = self._rng.choice(state.legal_actions())
        return action

    def restart_at(self, state: pyspiel.State) -> None:
        pass

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass


def _budget(opts: _Options, default_sims: int) -> tuple[int | None, float | None]:
    sims = opts.get("sims", int, None)
    seconds = opts.get("seconds", float, None)
    if sims is None and seconds is None:
        sims = default_sims
    return sims, seconds


def make_bot(game: pyspiel.Game, spec: str, seed: int = 0) -> pyspiel.Bot:
    """A `pyspiel.Bot` for `spec` (see KINDS); raises BotSpecError listing valid specs."""
    parsed = parse_spec(spec)
    kind = parsed.kind
    if kind == "random":
        _Options(parsed, ())
        return RandomBot(seed)
    if kind == "llm":
        from games.llm_bot import LLMBot

        return LLMBot(game, parsed.rest, seed)
    if kind == "cfr":
        from games.cfr import CFRBot

        opts = _Options(parsed, ("iters",))
        return CFRBot(game, opts.get("iters", int, 300), seed)
    if kind in ("hanabi_rules", "hanabi_learned", "mds"):
        from games.hanabi.bots import make_hanabi_bot

        return make_hanabi_bot(game, kind, parsed.options, seed)
    check_searchable(game)
    if kind == "mcts":
        from games.search_bot import SearchBot

        opts = _Options(parsed, ("sims", "seconds", "c", "rollouts", "worlds", "final", "reuse"))
        sims, seconds = _budget(opts, 1000)
        final = opts.get("final", str, "visits")
        if final not in ("visits", "value"):
            raise BotSpecError(f"mcts: final={final!r}; valid: visits, value")
        try:
            config = MCTSConfig(
                budget=Budget(simulations=sims, seconds=seconds),
                c=opts.get("c", float, 2.0),
                final=final,
                seed=seed,
            )
        except InvalidConfigError as exc:
            raise BotSpecError(f"mcts: {exc}") from None
        return SearchBot(
            game,
            config,
            rollouts=opts.get("rollouts", int, 1),
            worlds=opts.get("worlds", int, 8),
            reuse=opts.get("reuse", _flag, True),
        )
    if kind == "openspiel_mcts":
        import numpy as np
        from open_spiel.python.algorithms import mcts as os_mcts

        opts = _Options(parsed, ("sims", "c", "rollouts"))
        rng = np.random.RandomState(seed)
        evaluator = os_mcts.RandomRolloutEvaluator(opts.get("rollouts", int, 1), rng)
        bot: pyspiel.Bot = os_mcts.MCTSBot(
            game,
            opts.get("c", float, 2.0),
            opts.get("sims", int, 1000),
            evaluator,
            solve=False,
            random_state=rng,
        )
        return bot
    # cpp_mcts
    opts = _Options(parsed, ("sims", "seconds", "c", "rollouts"))
    sims, seconds = _budget(opts, 1000)
    evaluator = pyspiel.RandomRolloutEvaluator(opts.get("rollouts", int, 1), seed)
    return pyspiel.MCTSBot(
        game,
        evaluator,
        opts.get("c", float, 2.0),
        sims if sims is not None else 10**9,
        1000,  # max memory, MB
        False,  # solve: off, like ours
        seed,
        False,
        pyspiel.ChildSelectionPolicy.UCT,
        seconds if seconds is not None else -1.0,
    )
