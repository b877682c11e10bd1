"""Crash-safe JSON-lines logs: every resumable run (solve logs, graded results, search
journals) appends one whole, fsynced line per event and reads back what survived a kill;
and atomic whole-file writes (`write_atomic`) for files rewritten in one go."""

from __future__ import annotations

import glob
import json
import os
import threading
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temp file and a rename: a reader, or a run killed
    mid-write, never sees half a file. The temp name carries the pid, so processes writing
    the same file at once (shards) do not share one. A write that fails removes its temp
    file; temp files of writers that were killed (their pid no longer runs) are removed by
    the next write of the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_stale_temps(path: Path) -> None:
    """Remove `path`'s temp files (`NAME.tmpPID`) whose writer no longer runs."""
    prefix = f"{path.name}.tmp"
    for tmp in path.parent.glob(f"{glob.escape(prefix)}*"):
        pid = tmp.name[len(prefix) :]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The log's JSON objects in order; a torn last line (killed mid-write) is skipped."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class JsonlLog:
    """Appends one line per write (a single write of a whole line, then fsync), thread-safe.
    Opening ends a torn last line, so later lines stay whole."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size:
            with open(path, "rb+") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")

    def append_line(self, line: str) -> None:
        data = (line + "\n").encode()
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)

    def append(self, row: dict[str, Any]) -> None:
        self.append_line(json.dumps(row, sort_keys=True, default=str))
