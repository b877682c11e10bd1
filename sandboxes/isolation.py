"""Process isolation for the local backend: rlimits (via `prlimit`), process-group killing,
a private uid per sandbox, and the bubblewrap command line."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from sandboxes.limits import Limits
from sandboxes.output import CappedBuffer

NOBODY = 65534
# As root, each sandbox runs as its own unused uid from this range, so the per-user process
# limit of one sandbox (a fork bomb) cannot starve another.
UIDS = range(1_000_000, 1_000_000 + (1 << 20))


def bwrap_argv(tmp: Path, copy: Path, workdir: str, network: bool) -> list[str]:
    """bubblewrap: the host's top-level dirs read-only, a private /tmp, the copy at `workdir`,
    new namespaces (no network unless asked), killed with its parent."""
    argv = ["bwrap", "--die-with-parent", "--unshare-all", "--new-session"]
    if network:
        argv.append("--share-net")
    for entry in sorted(os.scandir("/"), key=lambda e: e.name):
        if entry.name in ("proc", "dev", "tmp"):
            continue
        if entry.is_symlink():
            argv += ["--symlink", os.readlink(entry.path), entry.path]
        elif entry.is_dir():
            argv += ["--ro-bind", entry.path, entry.path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--bind", str(tmp), "/tmp"]
    return [*argv, "--bind", str(copy), workdir, "--chdir", workdir]


def rlimits(limits: Limits, timeout: float, nproc: int) -> list[tuple[int, str, int]]:
    """(resource, prlimit option, value): memory, processes, file size, core dumps, CPU time."""
    chosen = [
        (resource.RLIMIT_AS, "--as", limits.memory_mb << 20),
        (resource.RLIMIT_NPROC, "--nproc", nproc),
        (resource.RLIMIT_FSIZE, "--fsize", limits.file_size_mb << 20),
        (resource.RLIMIT_CORE, "--core", 0),
    ]
    if math.isfinite(timeout):
        chosen.append((resource.RLIMIT_CPU, "--cpu", math.ceil(timeout * max(limits.cpus, 1)) + 5))
    return chosen


def limited(
    argv: list[str], chosen: list[tuple[int, str, int]], prlimit: str | None = ""
) -> tuple[list[str], Any]:
    """Wrap `argv` in util-linux `prlimit` when present (no Python runs between fork and
    exec, which matters in threaded callers); else set the limits in a preexec hook."""
    prlimit = shutil.which("prlimit") if prlimit == "" else prlimit
    if prlimit:
        return [prlimit, *(f"{opt}={value}" for _, opt, value in chosen), "--", *argv], None

    def apply() -> None:
        for name, _, value in chosen:
            resource.setrlimit(name, (value, value))

    return argv, apply


def pump(stream: IO[bytes], buffer: CappedBuffer) -> threading.Thread:
    def run() -> None:
        with contextlib.suppress(Exception):
            while chunk := stream.read1(1 << 16):  # type: ignore[attr-defined]
                buffer.write(chunk)
        with contextlib.suppress(Exception):
            stream.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def kill_group(pgid: int) -> None:
    """Kill the group until no live member is left (a fork bomb may still be forking)."""
    for _ in range(100):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        if not live_members(pgid):
            return
        time.sleep(0.02)


def live_members(pgid: int) -> bool:
    """Whether a process of group `pgid` is still running (not merely a zombie)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] not in "ZX":
                return True
    return False


def unused_uid() -> int:
    """A uid in `UIDS` that no running process uses."""
    used = set()
    for path in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            used.add(path.stat().st_uid)
    while True:
        uid = random.choice(UIDS)
        if uid not in used:
            return uid


@functools.lru_cache(maxsize=4)
def bwrap_works(run_as: int | None) -> bool:
    """bubblewrap is installed and can create namespaces here (as the sandbox's user)."""
    if shutil.which("bwrap") is None:
        return False
    try:
        proc = subprocess.run(
            ["bwrap", "--die-with-parent", "--unshare-all", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            timeout=20,
            user=run_as,
            group=run_as,
            extra_groups=[] if run_as is not None else None,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0
