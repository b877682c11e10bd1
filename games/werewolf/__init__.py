"""Werewolf: a 7-player social-deduction game as an OpenSpiel Python game (`werewolf`),
registered with pyspiel on import.

- game.py: the rules (module docstring), `WerewolfGame` / `WerewolfState`, `View` (what a
  player may know), `speech_action` / `action_statement`, `load_werewolf`.
- speech.py: the speech catalogue (`Catalogue`, `Statement`), `render_statement`,
  `parse_statement`.
- observer.py: observation and information-state strings and tensors.
- knowledge.py: facts a player can draw from its view; the LSPO abstraction key.
- belief.py: P(werewolf) per seat, exact over the 21 wolf pairs (the rule bot's village side).
- bots.py: the `rule` bot and `make_werewolf_bot` for `games.bots.make_bot`.
"""

from games.werewolf import game as game

__all__ = ["game"]
