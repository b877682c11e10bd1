"""A typed name for `pyspiel.Bot`, the one pyspiel class our bots subclass.

`pyspiel` is a compiled extension without stubs, so mypy sees all of it as `Any`, and
`mypy --strict` refuses a class whose base is `Any`. `Bot` is `pyspiel.Bot` itself at run
time; to mypy it is a plain class with the methods OpenSpiel's drivers (`evaluate_bots`,
in Python and C++) call. Other pyspiel objects (`pyspiel.Game`, `pyspiel.State`) stay
`Any`-typed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyspiel

if TYPE_CHECKING:

    class Bot:
        """What mypy knows of `pyspiel.Bot` (never instantiated: the run-time base is
        pyspiel's). Subclasses call `super().__init__()` (pybind11 requires it) and
        define `step`, `restart_at` and `inform_action`."""

        def __init__(self) -> None:
            pass

        def step(self, state: pyspiel.State) -> int:
            raise NotImplementedError

        def restart_at(self, state: pyspiel.State) -> None:
            raise NotImplementedError

        def inform_action(self, state: pyspiel.State, player_id: int, action: int) -> None:
            raise NotImplementedError

else:
    Bot = pyspiel.Bot

__all__ = ["Bot"]
