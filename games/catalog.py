"""The games we offer by name, and loading them with errors that list the valid names."""

from __future__ import annotations

import pyspiel

from games.errors import UnknownGameError

OFFERED: dict[str, str] = {
    "tic_tac_toe": "3x3 noughts and crosses (2 players, perfect information)",
    "connect_four": "7x6 connect four (2 players, perfect information)",
    "kuhn_poker": "3-card poker (2 players, imperfect information)",
    "leduc_poker": "6-card, two-round poker (2 players, imperfect information)",
    "liars_dice": "bluffing with hidden dice (2 players, imperfect information)",
    "hearts": "trick-taking card game (4 players, imperfect information)",
    "gin_rummy": "draw-and-discard card game (2 players, imperfect information)",
    "bridge": "contract bridge with bidding (4 players, imperfect information)",
    "euchre": "trick-taking card game with trumps (4 players, imperfect information)",
    "oh_hell": "bid-your-tricks card game (3 players by default, imperfect information)",
    "hanabi": "cooperative fireworks card game (2-5 players; bots: hanabi_rules, mds)",
    "werewolf": "social deduction: 2 werewolves vs seer, doctor, 3 villagers (7 players)",
}


def load_game(spec: str) -> pyspiel.Game:
    """Load an offered game, or any registered OpenSpiel game, by name or "name(k=v,...)"."""
    name = spec.split("(", 1)[0].strip()
    if name == "werewolf":
        import games.werewolf  # noqa: F401  (registers the Python game with pyspiel)
    if name not in OFFERED and name not in pyspiel.registered_names():
        raise UnknownGameError(
            f"unknown game {name!r}; offered: {', '.join(OFFERED)} "
            "(any other OpenSpiel game name also works)"
        )
    try:
        return pyspiel.load_game(spec)
    except pyspiel.SpielError as exc:
        raise UnknownGameError(f"cannot load {spec!r}: {exc}") from None
