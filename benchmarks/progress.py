"""A progress bar on stderr for a command's long loop (instances, plot steps), with status
lines printed above it; nothing is shown with `agents -q` (`foundation.terminal.quiet`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from foundation.terminal import quiet


@contextlib.contextmanager
def work_bar(title: str) -> Iterator[Callable[[str | None, int, int], None]]:
    """Yields `update(line, done, total)`: prints `line` (if any) above the bar and moves
    the bar to `done` of `total`. The bar appears at the first update, so input errors
    found before the work starts stay one line; it stays on screen at the end."""
    with contextlib.ExitStack() as stack:
        bar: list[Any] = []

        def update(line: str | None, done: int, total: int) -> None:
            if not bar:
                from rich.console import Console
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

                columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
                console = Console(stderr=True, quiet=quiet())
                progress = stack.enter_context(
                    Progress(
                        "[progress.description]{task.description}",
                        *columns,
                        console=console,
                        transient=False,
                    )
                )
                bar.extend([progress, progress.add_task(title, total=total)])
            progress, task = bar
            if line:
                progress.console.print(line, highlight=False, markup=False)
            progress.update(task, completed=done, total=total)

        yield update
