"""The options every command shares, set once by the root command (`agents.cli`): option
defaults from a TOML file (`--config`, ./agents.toml) and how much goes to stderr (-v/-q)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from foundation.errors import UserError
from foundation.terminal import QUIET, quiet

LEVELS = {-1: logging.ERROR, 1: logging.INFO, 2: logging.DEBUG}


def set_verbosity(level: int) -> None:
    """-1: quiet (errors only); 0: as the command decides; 1: INFO logs; 2+: DEBUG."""
    if level < 0:
        os.environ[QUIET] = "1"
    else:
        os.environ.pop(QUIET, None)
    if level:
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger().setLevel(LEVELS[max(-1, min(level, 2))])


def status_line(text: str) -> None:
    """A status line on stderr (left out with -q)."""
    if not quiet():
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def load_defaults(path: Path, root: Any) -> dict[str, Any]:
    """The click `default_map` of a TOML file: a table per command (`[solve]`,
    `[bench.hanabi]`), keys are option names (`max-cost` or `max_cost`). An unknown
    command or option, or a file that is not TOML, is a one-line `UserError`."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}") from None
    return _defaults(data, root, path, "")


def _defaults(table: dict[str, Any], command: Any, path: Path, where: str) -> dict[str, Any]:
    subcommands: dict[str, Any] = getattr(command, "commands", {}) or {}
    params = {p.name: p for p in getattr(command, "params", []) if p.name}
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in subcommands:
            if not isinstance(value, dict):
                raise UserError(f"{path}: [{where}{key}] must be a table of option defaults")
            out[key] = _defaults(value, subcommands[key], path, f"{where}{key}.")
            continue
        name = key.lstrip("-").replace("-", "_")
        if not where or name not in params:
            known = sorted(params) if where and params else sorted(subcommands)
            place = f"[{where[:-1]}]" if where else "the top level"
            raise UserError(
                f"{path}: {place} has no {'option' if where else 'command'} {key!r} "
                f"(known: {', '.join(known)})"
            )
        out[name] = value
    return out
