"""Hanabi bot specs for `games.bots.make_bot`: `hanabi_rules`, `hanabi_learned:path=FILE`
and `mds:blueprint=hanabi_rules,eta=5,alpha=0,magnet=uniform,rollouts=200,seconds=2,floor=0.1,
threshold=0,keep=3,screen=2` (the fields of `MDSBotConfig`, described in MDS_OPTIONS), and
`sparta:rollouts=200,threshold=0.05` (SPARTA: the same search with eta = infinity;
`SpartaBotConfig`, SPARTA_OPTIONS)."""

from __future__ import annotations

from dataclasses import dataclass

import pyspiel

from games.errors import BotSpecError
from games.hanabi.game import HanabiConfig, HanabiConfigError
from games.spec import BotSpec, NoOptions, spec_config

MDS_OPTIONS = {
    "eta": "step size (default 5)",
    "alpha": "magnet strength, > 0 for MMDS (default 0)",
    "magnet": "uniform or blueprint (default uniform)",
    "rollouts": "rollouts per move, over all actions (default 200; none when seconds is given)",
    "seconds": "seconds per move (default: none; whichever budget ends first)",
    "floor": "uniform mass mixed into the one-hot blueprint (default 0.1)",
    "threshold": "deviate only when the estimated gain exceeds it (default 0)",
    "z": "...and exceeds z standard errors of the paired gain (default 0)",
    "select": "argmax or sample (from the updated policy; default argmax)",
    "keep": "after `screen` worlds, roll out only the best KEEP actions (default: all)",
    "screen": "worlds every action gets before screening (default 2)",
    "workers": "processes for the rollouts (default 1)",
    "blueprint": "the rollout and prior policy: hanabi_rules or hanabi_learned",
    "model": "weights of hanabi_learned (default: games.hanabi.learned.default_path())",
    "margin": "a distilled hanabi_learned model's deviation margin (default: its saved one)",
}
"""The `mds:` spec keys (the fields of `MDSBotConfig`), for help texts."""

SPARTA_OPTIONS = {
    "rollouts": "rollouts per move, over all actions (default 200; none when seconds is given)",
    "seconds": "seconds per move (default: none; whichever budget ends first)",
    "threshold": "deviate only when the greedy action's paired gain exceeds it (default 0.05)",
    "z": "...and exceeds z standard errors of that gain (default 0)",
    "keep": "after `screen` worlds, roll out only the best KEEP actions (default: all)",
    "screen": "worlds every action gets before screening (default 2)",
    "workers": "processes for the rollouts (default 1)",
    "blueprint": "the rollout policy: hanabi_rules or hanabi_learned",
    "model": "weights of hanabi_learned (default: games.hanabi.learned.default_path())",
    "margin": "a distilled hanabi_learned model's deviation margin (default: its saved one)",
}
"""The `sparta:` spec keys (the fields of `SpartaBotConfig`), for help texts."""


@dataclass(frozen=True)
class LearnedBotConfig:
    """The options of a `hanabi_learned:` spec (spec keys = field names)."""

    path: str | None = None
    """The weights (default: `games.hanabi.learned.default_path()`)."""
    margin: float | None = None
    """A distilled model's deviation margin (default: the one saved with it)."""


def _check_hanabi(game: pyspiel.Game, kind: str) -> None:
    try:
        HanabiConfig.of(game)
    except HanabiConfigError:
        raise BotSpecError(f"{kind} plays hanabi only, not {game.get_type().short_name}") from None


def make_hanabi_bot(game: pyspiel.Game, spec: BotSpec, seed: int) -> pyspiel.Bot:
    _check_hanabi(game, spec.kind)
    if spec.kind == "hanabi_rules":
        from games.hanabi.rules import RuleBot

        spec_config(spec, NoOptions)
        return RuleBot(game, seed)
    if spec.kind == "hanabi_learned":
        from games.hanabi.learned import LearnedBot, default_path, load_policy

        learned = spec_config(spec, LearnedBotConfig)
        return LearnedBot(game, load_policy(learned.path or default_path(), learned.margin), seed)
    from games.hanabi.mds_bot import MDSBot, MDSBotConfig, SpartaBotConfig

    # seconds alone is a time budget with no rollout cap
    no_cap = {"rollouts": None} if "seconds" in spec.options else None
    if spec.kind == "sparta":
        config = spec_config(spec, SpartaBotConfig, no_cap, seed=seed).mds()
    else:
        config = spec_config(spec, MDSBotConfig, no_cap, seed=seed)
    if config.blueprint == "hanabi_learned":
        from games.hanabi.learned import default_path, load_policy

        policy = load_policy(config.model or default_path(), config.margin)
        policy.check(game)
        return MDSBot(game, config, seed, policy=policy)
    return MDSBot(game, config, seed)
