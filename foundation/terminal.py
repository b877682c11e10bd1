"""How much a command says on stderr. `agents -q` sets AGENTS_QUIET=1 for the run (worker
processes inherit it): progress bars and status lines are then left out, errors are not."""

from __future__ import annotations

import os

QUIET = "AGENTS_QUIET"


def quiet() -> bool:
    """True when only errors should reach stderr."""
    return os.environ.get(QUIET, "") == "1"
