"""CLI command modules; each defines `register(cli: CLI)` and adds its commands to the groups.

Each command turns its options into one settings model (`agents.commands.settings`) before it
calls into benchmarks or games."""

from __future__ import annotations

from dataclasses import dataclass

import typer


@dataclass(frozen=True)
class CLI:
    """The command groups a command module may add to (`agents.cli` builds it)."""

    app: typer.Typer
    bench: typer.Typer
    eval: typer.Typer
