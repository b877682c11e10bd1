"""Owned scratch directories in the system temp dir: local sandboxes and the harness's
repository copies. Each records its owner process (`engine.owner_labels`), so what a
SIGKILLed run left behind is removed by the next run, or by `agents sandbox gc`, exactly as
orphaned containers are; a directory without an owner file is never ours to judge."""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sandboxes import engine

PREFIX = "agents-search-"
OWNER_FILE = ".owner.json"


def make_owned_dir(kind: str) -> Path:
    """A new directory `agents-search-<kind>-XXXX` in the temp dir, naming this process as
    its owner. The caller removes it; if the process dies first, the next run does."""
    remove_orphans_once()
    root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-"))
    (root / OWNER_FILE).write_text(json.dumps(engine.owner_labels()))
    return root


@contextlib.contextmanager
def scratch_dir(kind: str) -> Iterator[Path]:
    """`make_owned_dir(kind)`, removed when the block ends (also on errors and Ctrl-C)."""
    root = make_owned_dir(kind)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def remove_orphans(parent: Path | None = None) -> list[Path]:
    """Remove our directories (in the temp dir, or `parent`) whose owner process is gone."""
    removed = []
    for root in Path(parent or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            labels = json.loads((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(labels, dict) and engine.owner_gone(labels):
            shutil.rmtree(root, ignore_errors=True)
            removed.append(root)
    return removed


@functools.lru_cache(maxsize=1)
def remove_orphans_once() -> None:
    """`remove_orphans()` the first time a process makes a scratch directory; best effort."""
    with contextlib.suppress(Exception):
        remove_orphans()
