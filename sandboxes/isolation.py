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
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from sandboxes.limits import Limits
from sandboxes.output import CappedBuffer

NOBODY = 65534
# As root, each sandbox runs as its own unused uid from this range, so the per-user process
# limit of one sandbox (a fork bomb) cannot starve another.
UIDS = range(1_000_000, 1_000_000 + (1 << 20))


def bwrap_argv(
    tmp: Path, copy: Path, workdir: str, network: bool, keep: Sequence[str] = ()
) -> list[str]:
    """bubblewrap: the host's top-level dirs read-only, a private /tmp, the copy at `workdir`,
    new namespaces (no network unless asked), killed with its parent.

    Hidden behind empty tmpfs: /run (and /var/run), where the Docker socket, D-Bus and
    the users' agent sockets live, and the home directories (/home, /root, $HOME: ssh keys,
    API key files). Every other unix socket the host has bound (/proc/net/unix), and the
    one DOCKER_HOST names, is covered by /dev/null. `keep` (the env's venv and its base
    Python) is bound back read-only where it lies under a hidden directory."""
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
    hidden = hidden_dirs()
    for path in hidden:
        argv += ["--tmpfs", path]
    for path in keep:
        if any(_under(path, h) for h in hidden) and os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    resolv = os.path.realpath("/etc/resolv.conf")  # often a link into /run
    if any(_under(resolv, h) for h in hidden) and os.path.isfile(resolv):
        argv += ["--ro-bind", resolv, resolv]
    replaced = [*hidden, "/tmp", "/dev", "/proc"]  # private or fresh in the sandbox anyway
    for path in host_sockets():
        if not any(_under(path, h) for h in replaced):
            argv += ["--ro-bind", "/dev/null", path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--bind", str(tmp), "/tmp"]
    return [*argv, "--bind", str(copy), workdir, "--chdir", workdir]


def hidden_dirs() -> list[str]:
    """Directories a bubblewrap sandbox sees empty: /run, /var/run, /home, /root and $HOME
    (symlinks resolved: these are the host's own paths), never / or a system directory."""
    found: list[str] = []
    for path in ("/run", "/var/run", "/home", "/root", os.path.expanduser("~")):
        real = os.path.realpath(path)
        if Path(real).parent == Path("/") and real not in ("/run", "/home", "/root"):
            continue  # $HOME=/ or /usr or /tmp (private anyway): never hide the system
        if real.startswith("/tmp/") or not os.path.isdir(real):
            continue
        if real not in found and not any(_under(real, f) for f in found):
            found.append(real)
    return found


def docker_socket_paths() -> list[str]:
    """Where this machine's Docker daemon may listen: DOCKER_HOST (if a unix socket) and the
    usual places, the rootless one of this user included."""
    paths = ["/var/run/docker.sock", "/run/docker.sock", f"/run/user/{os.getuid()}/docker.sock"]
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        paths.insert(0, host[len("unix://") :])
    return list(dict.fromkeys(paths))


_SOCKETS_MAX = 256


def host_sockets() -> list[str]:
    """The unix sockets bound in the host's network namespace (/proc/net/unix) and the
    Docker socket, as paths with no symlink in them (checked component by component with
    lstat, never followed: a socket path may have been chosen by a sandboxed command)."""
    names = [os.path.realpath(p) for p in docker_socket_paths()]  # the host's own settings
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
            fields = line.split(None, 7)
            if len(fields) == 8 and fields[7].startswith("/"):
                names.append(fields[7])
    found: list[str] = []
    for name in dict.fromkeys(names):
        if len(found) >= _SOCKETS_MAX:
            break
        if _plain_socket(name):
            found.append(os.path.normpath(name))
    return found


def _plain_socket(path: str) -> bool:
    """Whether `path` is a socket reached through no symlink (each component lstat'ed)."""
    if os.path.normpath(path) != path or path == "/":
        return False
    current, mode = "/", 0
    for part in Path(path).parts[1:]:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return False
        if stat.S_ISLNK(mode):
            return False
    return stat.S_ISSOCK(mode)


def python_paths(venv: Path) -> list[str]:
    """What a command in `venv` needs outside it: the base Python's installation (pyvenv.cfg's
    `home` is its bin dir; its parent holds the standard library). Never a whole home
    directory (nor / or /home), so a venv a sandbox wrote to cannot open one up."""
    paths = [str(venv)]
    try:
        config = (venv / "pyvenv.cfg").read_text()
    except OSError:
        return paths
    for line in config.splitlines():
        key, _, home = (part.strip() for part in line.partition("="))
        if key != "home" or not home.startswith("/"):
            continue
        prefix = os.path.realpath(os.path.dirname(home) if home.endswith("/bin") else home)
        homes = ("/", "/home", "/root", os.path.realpath(os.path.expanduser("~")))
        if not any(_under(h, prefix) for h in homes) and os.path.dirname(prefix) != "/home":
            paths.append(prefix)
    return paths


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


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
            # read1: what is there now, not a full 64 KiB (typeshed's IO lacks it; a
            # Popen pipe is a BufferedReader, which has it).
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
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] not in "ZX":
                return True
    return False


def kill_if(pid: int, check: Callable[[int], bool]) -> None:
    """SIGKILL `pid` if `check(pid)` holds once a pidfd pins the process: a pid that died and
    was reused by an unrelated process in between is never signalled."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if check(pid):
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        os.close(fd)


def uid_of(pid: int) -> int | None:
    """The real uid of live (not zombie) process `pid`, else None."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        state = next(x for x in lines if x.startswith("State:")).split()[1]
        uid = int(next(x for x in lines if x.startswith("Uid:")).split()[1])
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return None if state in ("Z", "X") else uid


def processes_of(uid: int) -> list[int]:
    """Live processes whose real uid is `uid`."""
    return [
        int(entry.name)
        for entry in os.scandir("/proc")
        if entry.name.isdigit() and uid_of(int(entry.name)) == uid
    ]


def kill_uid(uid: int) -> None:
    """As root without a cgroup: kill every process of a sandbox's private uid until none is
    left. No process of that uid can leave it, `setsid` or not."""
    for _ in range(200):
        pids = processes_of(uid)
        if not pids:
            return
        for pid in pids:
            kill_if(pid, lambda p: uid_of(p) == uid)
        time.sleep(0.01)


# A command waits at this gate (one line on stdin) until its pid is in the sandbox's cgroup,
# so nothing it starts can be outside; then it runs with stdin from /dev/null.
_GATE = 'read -r _ || exit 125; exec "$@" </dev/null'


def gated(argv: list[str]) -> list[str]:
    return ["/bin/sh", "-c", _GATE, "sandbox-gate", *argv]


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
