"""`make_bot(game, spec, seed)`: every agent we offer, as a `pyspiel.Bot`.

A spec is a kind and options: `random`, `mcts:sims=800`, `mcts:seconds=1,c=1.4`,
`openspiel_mcts:sims=800` (OpenSpiel's Python MCTS), `cpp_mcts:sims=800`
(`pyspiel.MCTSBot`), `cfr:iters=300`, `llm:MODELSPEC` (e.g. `llm:local:smollm2`),
`hanabi_rules`, `mds:eta=5,rollouts=200` and `sparta:rollouts=200` (Hanabi only,
games/hanabi/bots.py), `rule`
and `react:MODELSPEC` (Werewolf only, games/werewolf/bots.py); on werewolf,
`cfr:policy=FILE` plays a solved LSPO latent policy (games/werewolf/latent.py) and
`lspo:run=DIR` is the LSPO language agent (games/werewolf/lspo_bot.py).
A kind's options are the fields of its config dataclass (`SearchBotConfig`,
`CFRBotConfig`, `MDSBotConfig`, ...), read by the one parser, `games.spec.spec_config`.
The bots are player-agnostic, so OpenSpiel's `evaluate_bots` runs them as they are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyspiel

from games.adapter import check_searchable
from games.errors import BotSpecError
from games.spec import BotSpec, NoOptions, spec_config, split_spec
from games.spiel import Bot

KINDS: dict[str, str] = {
    "random": "uniformly random legal moves",
    "mcts": "our MCTS: sims=N, seconds=S, c=C, rollouts=R, worlds=W (imperfect info), "
    "final=visits|value, reuse=0|1",
    "openspiel_mcts": "OpenSpiel's Python MCTSBot: sims=N, c=C, rollouts=R",
    "cpp_mcts": "OpenSpiel's C++ pyspiel.MCTSBot: sims=N, seconds=S, c=C, rollouts=R",
    "cfr": "CFR+ average policy (2-player zero-sum games): iters=N; on werewolf, a solved "
    "LSPO latent policy: policy=FILE, select=argmax|sample",
    "llm": "a language model: llm:MODELSPEC, e.g. llm:local:smollm2 or llm:openai:gpt-4o",
    "hanabi_rules": "Hanabi rule-based conventions bot (hanabi only)",
    "rule": "Werewolf rule-based bot (werewolf only)",
    "react": "Werewolf ReAct language agent: react:MODELSPEC (werewolf only)",
    "lspo": "Werewolf LSPO language agent: run=DIR (an `agents train lspo` run), iteration=N, "
    "or policy=FILE,model=SPEC; candidates=N, temperature=T (werewolf only)",
    "hanabi_learned": "Hanabi learned blueprint, an imitation MLP or a distilled rules+gain "
    "model: path=FILE, margin=M (distilled only; hanabi only)",
    "mds": "Hanabi mirror-descent search: blueprint=hanabi_rules|hanabi_learned, model=FILE, "
    "margin=M, "
    "eta=E, alpha=A (MMDS), magnet=uniform|blueprint, rollouts=N, seconds=S, floor=F, "
    "threshold=T, z=Z, select=argmax|sample, keep=K, screen=W, workers=P",
    "sparta": "Hanabi SPARTA single-agent search (greedy over the same rollouts, deviating "
    "past a threshold): rollouts=N, seconds=S, threshold=T (default 0.05), z=Z, keep=K, "
    "screen=W, workers=P, blueprint=..., model=FILE, margin=M",
}
WEREWOLF_KINDS = ("rule", "react", "lspo")
"""The kinds `games.werewolf.bots.make_werewolf_bot` makes (werewolf only)."""
HELP = "valid bot specs: " + "; ".join(f"{k} ({v})" for k, v in KINDS.items())


def parse_spec(spec: str) -> BotSpec:
    """`kind:key=value,...` (or `llm:MODELSPEC`) with a known kind; the options are read
    into the bot's config by `games.spec.spec_config`."""
    kind = spec.strip().partition(":")[0]
    if kind not in KINDS:
        raise BotSpecError(f"unknown bot {kind!r}; {HELP}")
    parsed = split_spec(spec, literal_tail=("llm", "react"))
    if parsed.kind in ("llm", "react") and not parsed.rest:
        raise BotSpecError(
            f"{parsed.kind} needs a model spec, e.g. {parsed.kind}:local:smollm2 or "
            f"{parsed.kind}:scripted:FILE"
        )
    return parsed


@dataclass(frozen=True)
class OpenSpielMCTSConfig:
    """The options of an `openspiel_mcts:` spec (spec keys = field names)."""

    sims: int = 1000
    c: float = 2.0
    rollouts: int = 1


@dataclass(frozen=True)
class CppMCTSConfig:
    """The options of a `cpp_mcts:` spec (spec keys = field names)."""

    sims: int | None = None
    """Simulations per move; 1000 when neither `sims` nor `seconds` is given."""
    seconds: float | None = None
    c: float = 2.0
    rollouts: int = 1


class RandomBot(Bot):
    """Uniformly random legal moves, seeded."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self._rng = random.Random(seed)
        self.thinking = ""

    def step(self, state: pyspiel.State) -> int:
        action: int = self._rng.choice(state.legal_actions())
        return action

    def restart_at(self, state: pyspiel.State) -> None:
        pass

    def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
        pass


def make_bot(game: pyspiel.Game, spec: str, seed: int = 0) -> pyspiel.Bot:
    """A `pyspiel.Bot` for `spec` (see KINDS); raises BotSpecError listing valid specs."""
    parsed = parse_spec(spec)
    kind = parsed.kind
    if kind == "random":
        spec_config(parsed, NoOptions)
        return RandomBot(seed)
    if kind == "llm":
        from games.llm_bot import LLMBot

        return LLMBot(game, parsed.rest, seed)
    if kind == "cfr" and game.get_type().short_name == "werewolf":
        from games.werewolf.latent import make_cfr_bot

        return make_cfr_bot(game, parsed, seed)
    if kind == "cfr":
        from games.cfr import CFRBot, CFRBotConfig

        return CFRBot(game, spec_config(parsed, CFRBotConfig).iters, seed)
    if kind in ("hanabi_rules", "hanabi_learned", "mds", "sparta"):
        from games.hanabi.bots import make_hanabi_bot

        return make_hanabi_bot(game, parsed, seed)
    if kind in WEREWOLF_KINDS:
        from games.werewolf.bots import make_werewolf_bot

        return make_werewolf_bot(game, parsed, seed)
    check_searchable(game)
    if kind == "mcts":
        from games.search_bot import SearchBot, SearchBotConfig

        cfg = spec_config(parsed, SearchBotConfig)
        return SearchBot(game, cfg.mcts_config(seed), cfg.rollouts, cfg.worlds, cfg.reuse)
    if kind == "openspiel_mcts":
        import numpy as np
        from open_spiel.python.algorithms import mcts as os_mcts

        py = spec_config(parsed, OpenSpielMCTSConfig)
        rng = np.random.RandomState(seed)
        evaluator = os_mcts.RandomRolloutEvaluator(py.rollouts, rng)
        bot: pyspiel.Bot = os_mcts.MCTSBot(
            game, py.c, py.sims, evaluator, solve=False, random_state=rng
        )
        return bot
    # cpp_mcts
    cpp = spec_config(parsed, CppMCTSConfig)
    sims = 1000 if cpp.sims is None and cpp.seconds is None else cpp.sims
    return pyspiel.MCTSBot(
        game,
        pyspiel.RandomRolloutEvaluator(cpp.rollouts, seed),
        cpp.c,
        sims if sims is not None else 10**9,
        1000,  # max memory, MB
        False,  # solve: off, like ours
        seed,
        False,
        pyspiel.ChildSelectionPolicy.UCT,
        cpp.seconds if cpp.seconds is not None else -1.0,
    )
