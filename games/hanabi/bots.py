"""Hanabi bot specs for `games.bots.make_bot`: `hanabi_rules`, `hanabi_learned:path=FILE`
and `mds:blueprint=hanabi_rules,eta=5,alpha=0,magnet=uniform,rollouts=200,seconds=2,floor=0.1,
threshold=0,keep=3,screen=2` (see MDS_OPTIONS)."""

from __future__ import annotations

import pyspiel

from games.errors import BotSpecError
from games.hanabi.game import HanabiConfig, HanabiConfigError

MDS_OPTIONS = {
    "blueprint": "the rollout and prior policy: hanabi_rules or hanabi_learned",
    "model": "weights of hanabi_learned (default: games.hanabi.learned.default_path())",
    "workers": "processes for the rollouts (default 1)",
    "eta": "step size (default 5)",
    "alpha": "magnet strength, > 0 for MMDS (default 0)",
    "magnet": "uniform or blueprint (default uniform)",
    "rollouts": "rollouts per move, over all actions (default 200)",
    "seconds": "seconds per move (default: none; whichever budget ends first)",
    "floor": "uniform mass mixed into the one-hot blueprint (default 0.1)",
    "threshold": "deviate only when the estimated gain exceeds it (default 0)",
    "z": "...and exceeds z standard errors of the paired gain (default 0)",
    "keep": "after `screen` worlds, roll out only the best KEEP actions (default: all)",
    "screen": "worlds every action gets before screening (default 2)",
}


def _check_hanabi(game: pyspiel.Game, kind: str) -> None:
    try:
        HanabiConfig.of(game)
    except HanabiConfigError:
        raise BotSpecError(f"{kind} plays hanabi only, not {game.get_type().short_name}") from None


def make_hanabi_bot(
    game: pyspiel.Game, kind: str, options: dict[str, str], seed: int
) -> pyspiel.Bot:
    _check_hanabi(game, kind)
    if kind == "hanabi_rules":
        if options:
            raise BotSpecError(f"hanabi_rules takes no options, got {', '.join(options)}")
        from games.hanabi.rules import RuleBot

        return RuleBot(game, seed)
    if kind == "hanabi_learned":
        from games.hanabi.learned import LearnedBot, LearnedPolicy, default_path

        if set(options) - {"path"}:
            raise BotSpecError(f"hanabi_learned takes path=FILE, got {', '.join(options)}")
        return LearnedBot(game, LearnedPolicy.load(options.get("path", default_path())), seed)
    unknown = set(options) - set(MDS_OPTIONS)
    if unknown:
        raise BotSpecError(
            f"unknown option(s) {', '.join(sorted(unknown))} for mds; valid: {', '.join(MDS_OPTIONS)}"
        )
    blueprint = options.get("blueprint", "hanabi_rules")
    if blueprint not in ("hanabi_rules", "hanabi_learned"):
        raise BotSpecError(f"mds: blueprint={blueprint!r}; valid: hanabi_rules, hanabi_learned")
    if "model" in options and blueprint != "hanabi_learned":
        raise BotSpecError("mds: model=FILE goes with blueprint=hanabi_learned")
    from games.hanabi.mds_bot import MDSBot
    from search.errors import InvalidConfigError
    from search.mirror_descent import MDSConfig

    def num(key: str, cast: type, default: object) -> object:
        raw = options.get(key)
        if raw is None:
            return default
        try:
            return cast(raw)
        except ValueError:
            raise BotSpecError(f"mds: {key}={raw!r} is not a valid number") from None

    seconds = num("seconds", float, None)
    rollouts = num("rollouts", int, None if seconds is not None else 200)
    try:
        config = MDSConfig(
            eta=num("eta", float, 5.0),  # type: ignore[arg-type]
            alpha=num("alpha", float, 0.0),  # type: ignore[arg-type]
            magnet=options.get("magnet", "uniform"),  # type: ignore[arg-type]
            rollouts=rollouts,  # type: ignore[arg-type]
            seconds=seconds,  # type: ignore[arg-type]
            prior_floor=num("floor", float, 0.1),  # type: ignore[arg-type]
            threshold=num("threshold", float, 0.0),  # type: ignore[arg-type]
            z=num("z", float, 0.0),  # type: ignore[arg-type]
            keep=num("keep", int, None),  # type: ignore[arg-type]
            screen=num("screen", int, 2),  # type: ignore[arg-type]
            workers=num("workers", int, 1),  # type: ignore[arg-type]
            seed=seed,
        )
    except InvalidConfigError as exc:
        raise BotSpecError(f"mds: {exc}") from None
    if blueprint == "hanabi_learned":
        from games.hanabi.learned import LearnedPolicy, default_path

        policy = LearnedPolicy.load(options.get("model", default_path()))
        policy.check(game)
        return MDSBot(game, config, seed, policy=policy)
    return MDSBot(game, config, seed)
