"""What every resumable run directory shares beyond its JSONL files (foundation.jsonl): one
process at a time (`run_lock`), and names that become paths checked first (`path_component`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from foundation.errors import UserError

LOCK_FILE = ".lock"


class RunLocked(UserError):
    """Another process works in the same run directory."""


@contextlib.contextmanager
def run_lock(directory: Path) -> Iterator[Path]:
    """Hold `directory`'s lock while the block runs; a second process (or a second run in
    this one) gets `RunLocked` naming the holder. The kernel drops the lock when the holder
    dies, even by SIGKILL, so a killed run never leaves a stale lock behind."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunLocked(
            f"{directory} is in use by {holder}; wait for that run to end, or give this one "
            "another run directory (--output / --run-id)"
        ) from None
    try:
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        yield directory
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']} since {info['since']} (`{info['command']}`)"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def path_component(name: str, what: str) -> str:
    """`name` if it is safe as one file or directory name, else a one-line `UserError`:
    not empty, `.` or `..`, no `/`, no NUL or other control characters, at most 200 bytes."""
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if name in ("", ".", "..") or "/" in name or bad is not None:
        why = f"control character {bad!r}" if bad is not None else "not a single file name"
        raise UserError(f"{what} {name!r} cannot name a directory ({why})")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        raise UserError(f"{what} {name!r} is not valid text (a lone surrogate)") from None
    if size > 200:
        raise UserError(f"{what} {name[:40]!r}... is longer than 200 bytes")
    return name
