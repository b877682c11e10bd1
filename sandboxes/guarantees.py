"""What each sandbox mode guarantees on this machine: `agents sandbox status` prints the
table, and tests/security/test_probes.py holds every mode to it (a probe is stopped where a
cell says "held" and gets through where it says "not held").

Modes: `docker` (a container), `bwrap` (the local backend with bubblewrap) and `plain` (the
local backend without it). Cells are computed from facts of this machine (root or not, a
cgroup we can make, bubblewrap, Docker, who may open the Docker socket), not per mode alone.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from typing import Any

MODES = ("docker", "bwrap", "plain")
HELD, NOT_HELD, UNAVAILABLE = "held", "not held", "mode unavailable"

# Row keys (tests look them up) and the words the table shows.
PRIVATE_FILES = "private-files"
WRITES = "writes"
DOCKER_SOCKET = "docker-socket"
NETWORK = "network"
MEMORY = "memory"
PROCESSES = "processes"
OUTPUT = "output"
TIMEOUT = "timeout"
LEFTOVERS = "leftovers"
GROUPS = "groups"
FILE_OPS = "file-ops"

TITLES = {
    PRIVATE_FILES: "host private files unreadable",
    WRITES: "writes outside the workdir blocked",
    DOCKER_SOCKET: "Docker socket not reachable",
    NETWORK: "no network (network=False)",
    MEMORY: "memory limit for the whole sandbox",
    PROCESSES: "process-count limit (fork bomb)",
    OUTPUT: "output capped",
    TIMEOUT: "timeout kills the whole tree",
    LEFTOVERS: "no process left after close",
    GROUPS: "supplementary groups dropped",
    FILE_OPS: "read_file/write_file never follow symlinks out",
}

_WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")


@dataclass(frozen=True)
class Cell:
    state: str  # HELD, NOT_HELD or UNAVAILABLE
    reason: str = ""

    @property
    def held(self) -> bool:
        return self.state == HELD


@dataclass(frozen=True)
class Facts:
    """What the table is computed from."""

    root: bool
    docker: tuple[bool, str]
    docker_limits: tuple[bool, bool]  # the engine supports memory (+swap) and pids limits
    bwrap: tuple[bool, str]
    cgroup: tuple[bool, str]  # a per-sandbox cgroup can be made: (yes, what) / (no, why)
    docker_socket: str | None  # an existing Docker socket, if any
    socket_open: bool  # the identity local commands run as may connect to it
    docker_tcp: bool  # DOCKER_HOST is a TCP address (reachable with the network)
    home_hidden: bool  # bubblewrap hides $HOME (it is under a hidden directory)
    world_writable: tuple[str, ...]  # host dirs any uid may write to

    @classmethod
    def here(cls) -> Facts:
        from sandboxes import cgroups, isolation
        from sandboxes.engine import docker_available

        root = os.geteuid() == 0
        docker = docker_available()
        limits = _docker_limits() if docker[0] else (False, False)
        socket = next((p for p in isolation.docker_socket_paths() if _is_socket(p)), None)
        home = os.path.realpath(os.path.expanduser("~"))
        hidden = isolation.hidden_dirs()
        return cls(
            root=root,
            docker=docker,
            docker_limits=limits,
            bwrap=_bwrap(root),
            cgroup=cgroups.available(),
            docker_socket=socket,
            socket_open=socket is not None and _may_connect(socket, root),
            docker_tcp=os.environ.get("DOCKER_HOST", "").startswith("tcp://"),
            home_hidden=any(home == h or home.startswith(h + "/") for h in hidden),
            world_writable=tuple(
                d for d in _WORLD_WRITABLE if os.path.isdir(d) and _world_writable(d)
            ),
        )


def _bwrap(root: bool) -> tuple[bool, str]:
    from sandboxes.isolation import NOBODY, bwrap_works

    if os.environ.get("AGENTS_SANDBOX_NO_BWRAP"):
        return False, "disabled by AGENTS_SANDBOX_NO_BWRAP"
    if shutil.which("bwrap") is None:
        return False, "bubblewrap (bwrap) is not installed"
    if not bwrap_works(NOBODY if root else None):
        return False, "bwrap cannot create namespaces here (user namespaces disabled?)"
    return True, "works"


def _docker_limits() -> tuple[bool, bool]:
    try:
        from sandboxes import engine

        info: dict[str, Any] = engine.client().info()
    except Exception:
        return False, False
    memory = bool(info.get("MemoryLimit", False)) and bool(info.get("SwapLimit", False))
    return memory, bool(info.get("PidsLimit", False))


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _world_writable(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & stat.S_IWOTH)
    except OSError:
        return False


def _may_connect(path: str, root: bool) -> bool:
    """Whether local commands may connect to socket `path`: as root they run as a private
    uid in no group, so only the "other" bits (of the socket and each directory) count."""
    if not root:
        return os.access(path, os.W_OK)
    current = os.path.realpath(path)
    try:
        if not os.stat(current).st_mode & stat.S_IWOTH:
            return False
        parent = os.path.dirname(current)
        while True:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            if parent == "/":
                return True
            parent = os.path.dirname(parent)
    except OSError:
        return False


def held(why: str = "") -> Cell:
    return Cell(HELD, why)


def no(why: str) -> Cell:
    return Cell(NOT_HELD, why)


def table(facts: Facts | None = None) -> dict[str, dict[str, Cell]]:
    """row key -> mode -> Cell, for this machine (or for `facts`)."""
    f = facts or Facts.here()
    private_uid = "commands run as a private unused uid with no groups"
    you = "commands run as you"
    # A delegated cgroup is yours: a command running as you (not under bubblewrap, where
    # /sys is read-only) could move itself out of it.
    escapes = f"{you}: it can leave your delegated cgroup"
    if f.cgroup[0]:
        bwrap_tree = held(f"the sandbox's {f.cgroup[1]} is killed whole")
        tree = bwrap_tree if f.root else no(escapes)
    elif f.root:
        tree = bwrap_tree = held(f"no cgroup ({f.cgroup[1]}); every process of the private uid")
    else:
        tree = no(f"no cgroup ({f.cgroup[1]}): a process that calls setsid escapes")
        bwrap_tree = held("a pid namespace that dies with the command")
    memory_none = no(f"per-process rlimit only; no cgroup: {f.cgroup[1]}")
    if f.cgroup[0]:
        memory_bwrap = held(f.cgroup[1])
        memory_plain = held(f.cgroup[1]) if f.root else no(escapes)
    else:
        memory_plain = memory_bwrap = memory_none
    if f.cgroup[0] and f.root:
        procs_plain = procs_bwrap = held(f.cgroup[1])
    elif f.cgroup[0]:
        procs_bwrap = held(f.cgroup[1])
        procs_plain = held("RLIMIT_NPROC, shared with your own processes")
    elif f.root:
        procs_plain = procs_bwrap = held("RLIMIT_NPROC on the private uid")
    else:
        procs_plain = procs_bwrap = held("RLIMIT_NPROC, shared with your own processes")

    if f.root:
        socket_plain = (
            no(f"{f.docker_socket} is open to every user")
            if f.socket_open
            else held("the private uid is in no group that may open it")
        )
    else:
        socket_plain = (
            no(f"{you}, and you may open {f.docker_socket}")
            if f.socket_open
            else held("you may not open it either")
        )
    if f.docker_socket is None and not f.docker_tcp:
        socket_plain = held("no Docker socket on this machine")
    if f.docker_tcp:
        socket_plain = no("DOCKER_HOST is a TCP address and plain mode has the network")
    writable = ", ".join(f.world_writable)
    rows: dict[str, dict[str, Cell]] = {
        PRIVATE_FILES: {
            "docker": held("the host filesystem is not mounted"),
            "bwrap": held(f"{private_uid}; /home and /root hidden")
            if f.root
            else (
                held("/home, /root and $HOME hidden; your files elsewhere stay readable")
                if f.home_hidden
                else no(f"{you} and $HOME is not hidden")
            ),
            "plain": held(private_uid) if f.root else no(you),
        },
        WRITES: {
            "docker": held("writes stay in the container"),
            "bwrap": held("the host is mounted read-only; /tmp is private"),
            "plain": (no(f"world-writable {writable} are writable") if writable else held())
            if f.root
            else no(you),
        },
        DOCKER_SOCKET: {
            "docker": held("not mounted into the container"),
            "bwrap": held(
                "/run hidden, host unix sockets covered"
                + ("; DOCKER_HOST is TCP: reachable with network=True" if f.docker_tcp else "")
            ),
            "plain": socket_plain,
        },
        NETWORK: {
            "docker": held("network mode none"),
            "bwrap": held("a network namespace of its own"),
            "plain": no("shares the host's network (needs bubblewrap or Docker)"),
        },
        MEMORY: {
            "docker": held("container cgroup, memory+swap")
            if f.docker_limits[0]
            else no("the engine reports no memory/swap limit support"),
            "bwrap": memory_bwrap,
            "plain": memory_plain,
        },
        PROCESSES: {
            "docker": held("container cgroup pids limit")
            if f.docker_limits[1]
            else no("the engine reports no pids limit support"),
            "bwrap": procs_bwrap,
            "plain": procs_plain,
        },
        OUTPUT: dict.fromkeys(MODES, held("head and tail kept, on the host side")),
        TIMEOUT: {
            "docker": held("every process but the container's init is killed"),
            "bwrap": bwrap_tree,
            "plain": tree,
        },
        LEFTOVERS: {
            "docker": held("the container is removed"),
            "bwrap": bwrap_tree,
            "plain": tree,
        },
        GROUPS: {
            "docker": held("commands run as the container's root, not as a host user"),
            "bwrap": held(private_uid)
            if f.root
            else no("an unprivileged process cannot drop them (sockets are hidden instead)"),
            "plain": held(private_uid) if f.root else no("an unprivileged process cannot"),
        },
        FILE_OPS: dict.fromkeys(MODES, held("no symlink followed (component by component)")),
    }
    for row in rows.values():
        if not f.docker[0]:
            row["docker"] = Cell(UNAVAILABLE, f.docker[1].split(";")[0])
        if not f.bwrap[0]:
            row["bwrap"] = Cell(UNAVAILABLE, f.bwrap[1])
    return rows


def render(rows: dict[str, dict[str, Cell]]) -> Any:
    """A rich Table of `rows`."""
    from rich.markup import escape
    from rich.table import Table

    grid = Table(title="What each sandbox mode guarantees on this machine", show_lines=True)
    grid.add_column("guarantee")
    for header in ("docker", "local, bubblewrap", "local, plain"):
        grid.add_column(header)
    style = {HELD: "green", NOT_HELD: "bold red", UNAVAILABLE: "dim"}
    for key, row in rows.items():
        cells = []
        for mode in MODES:
            cell = row[mode]
            text = f"[{style[cell.state]}]{cell.state}[/]"
            cells.append(f"{text}: {escape(cell.reason)}" if cell.reason else text)
        grid.add_row(TITLES[key], *cells)
    return grid
