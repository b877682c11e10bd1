"""Progress bars on stderr for commands whose work comes in named phases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from foundation.terminal import quiet


@contextmanager
def phase_bars(disable: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """A `progress(phase, done, total)` callback: one rich bar per phase, added when the
    phase first reports, on stderr (stdout stays for results)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, quiet=quiet()),
        disable=disable,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)

        yield progress
