"""Where built environments live on the host, and the lock that stops two workers building one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


def cache_dir() -> Path:
    """`$AGENTS_SEARCH_CACHE`, else `~/.cache/agents-search` (`/var/cache/agents-search` as root).

    As root, local sandboxes run commands as an unprivileged uid, which must read the venvs;
    root's home directory is usually closed to other users.
    """
    default = (
        Path("/var/cache/agents-search")
        if os.geteuid() == 0
        else Path.home() / ".cache" / "agents-search"
    )
    path = Path(os.environ.get("AGENTS_SEARCH_CACHE") or default)
    path.mkdir(parents=True, exist_ok=True, mode=0o755)
    return path


@contextlib.contextmanager
def build_lock(name: str) -> Iterator[None]:
    """An exclusive inter-process lock: the second builder waits, then finds the cache filled."""
    locks = cache_dir() / "locks"
    locks.mkdir(exist_ok=True)
    with open(locks / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def low_on_space(path: Path | str, minimum: int = 64 << 20) -> bool:
    """Whether the filesystem holding `path` has less than `minimum` bytes free.

    Tools often hide ENOSPC behind their own error (ensurepip, pip, docker); checking the
    free space after a failure tells "disk full" apart from other failures.
    """
    try:
        return shutil.disk_usage(path).free < minimum
    except OSError:
        return False
