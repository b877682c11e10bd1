"""A cgroup per local sandbox: one memory and process-count limit for the whole sandbox (not per
process, as rlimits are), and a way to kill every process in it, `setsid` or not.

Where the machine has cgroup v2 with the memory and pids controllers, one v2 cgroup does it
all (`memory.max`, `pids.max`, `cgroup.kill`). On a v1 or hybrid machine, the v1 `memory` and
`pids` hierarchies hold the limits, and a controller-less v2 cgroup (the hybrid's "unified"
hierarchy), when there is one, gives `cgroup.kill`; without it, every process listed in
`cgroup.procs` is killed until none is left. A machine where no cgroup can be made (not root,
no delegated cgroup) gets none: `create` returns None, `available()` says why, and the sandbox
falls back to per-process rlimits.

Directories are named `agents-search-<pidns>-<pid>-<start>-<random>` after their owner
process, so the cgroups of a SIGKILLed owner are emptied and removed by the next process
that makes one here. Only the owner (root, or the user a cgroup was delegated to) can move a
process between cgroups; a command running as that same user could leave its cgroup.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sandboxes import isolation

PREFIX = "agents-search-"
DISABLE_ENV = "AGENTS_SANDBOX_NO_CGROUP"
_NAME_RE = re.compile(rf"{PREFIX}(\d+)-(\d+)-(\d+)-[0-9a-f]+")


@dataclass(frozen=True)
class _Hierarchy:
    """A mounted cgroup hierarchy and this process's cgroup in it."""

    version: int  # 1 or 2
    controllers: frozenset[str]  # v1: the mount's controllers; v2: those enabled below `own`
    own: Path  # this process's cgroup directory


class Cgroup:
    """The directories of one sandbox's cgroup, one per hierarchy used."""

    def __init__(self, memory: Path | None, pids: Path | None, unified: Path | None) -> None:
        self.memory = memory  # memory limit and OOM counter (v1 or v2)
        self.pids = pids  # process-count limit and its counter (v1 or v2)
        self.unified = unified  # a v2 cgroup: cgroup.kill and cgroup.freeze
        self.dirs = list(dict.fromkeys(d for d in (unified, memory, pids) if d is not None))

    def describe(self) -> str:
        def version(path: Path | None) -> str:
            return "none" if path is None else "v2" if path == self.unified else "v1"

        kill = "cgroup.kill" if self._has_kill() else "a kill loop"
        return f"cgroup (memory {version(self.memory)}, pids {version(self.pids)}, {kill})"

    def add(self, pid: int) -> None:
        """Move process `pid` (and so everything it starts later) into this cgroup."""
        for directory in self.dirs:
            (directory / "cgroup.procs").write_text(f"{pid}\n")

    def pids_in(self) -> list[int]:
        found: set[int] = set()
        for directory in self.dirs:
            with contextlib.suppress(OSError, ValueError):
                found.update(int(x) for x in (directory / "cgroup.procs").read_text().split())
        return sorted(found)

    def counters(self) -> tuple[int, int]:
        """(OOM kills, forks refused at the process limit) so far; 0 where not counted."""
        oom = pids = 0
        if self.memory is not None:
            text = ""
            for name in ("memory.events", "memory.oom_control"):
                with contextlib.suppress(OSError):
                    text += (self.memory / name).read_text()
            found = re.search(r"^oom_kill (\d+)", text, re.MULTILINE)
            if found:
                oom = int(found.group(1))
            else:  # an old v1 kernel without the oom_kill count: times the limit was hit
                with contextlib.suppress(OSError, ValueError):
                    oom = int((self.memory / "memory.failcnt").read_text())
        if self.pids is not None:
            with contextlib.suppress(OSError):
                found = re.search(r"^max (\d+)", (self.pids / "pids.events").read_text(), re.M)
                pids = int(found.group(1)) if found else 0
        return oom, pids

    def _has_kill(self) -> bool:
        return self.unified is not None and (self.unified / "cgroup.kill").exists()

    def kill(self) -> None:
        """Kill every process in the cgroup and wait (a few seconds at most) until it is empty."""
        if self._has_kill():
            assert self.unified is not None
            with contextlib.suppress(OSError):
                (self.unified / "cgroup.kill").write_text("1")
        freeze = self.unified / "cgroup.freeze" if self.unified is not None else None
        frozen = False
        deadline = time.monotonic() + 5
        for attempt in range(1_000_000):
            pids = self.pids_in()
            if not pids or time.monotonic() > deadline:
                break
            if attempt >= 5 or not self._has_kill():  # cgroup.kill's signals are still landing
                if freeze is not None and not frozen and freeze.exists():
                    with contextlib.suppress(OSError):
                        freeze.write_text("1")  # a frozen fork bomb cannot outrun the loop
                        frozen = True
                for pid in pids:
                    isolation.kill_if(pid, self._member)
            time.sleep(0.01)
        if frozen and freeze is not None:
            with contextlib.suppress(OSError):
                freeze.write_text("0")

    def _member(self, pid: int) -> bool:
        """Whether `pid` (as now) is in this cgroup: checked after a pidfd pins the process."""
        try:
            text = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            return False
        return any(f"/{d.name}\n" in text or text.endswith(f"/{d.name}") for d in self.dirs)

    def remove(self) -> None:
        """Kill what is left and remove the directories (nothing of ours stays behind; what
        cannot be removed within seconds is left to the next process's orphan sweep)."""
        deadline = time.monotonic() + 10
        while True:
            self.kill()
            busy = False
            for directory in reversed(self.dirs):
                try:
                    directory.rmdir()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    busy = busy or exc.errno == errno.EBUSY
            if not busy or time.monotonic() > deadline:
                return
            time.sleep(0.02)


def _hierarchies() -> list[_Hierarchy]:
    """The cgroup hierarchies mounted here, with this process's cgroup in each."""
    try:
        own = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    v1_paths: dict[str, str] = {}
    v2_path = None
    for line in own:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            v2_path = path
        for controller in controllers.split(","):
            v1_paths[controller] = path
    found = []
    for line in mounts:
        head, _, tail = line.partition(" - ")
        fields, fs = head.split(), tail.split()
        if len(fields) < 5 or len(fs) < 3 or fs[0] not in ("cgroup", "cgroup2"):
            continue
        root, mountpoint = fields[3], fields[4]
        mine: str | None
        if fs[0] == "cgroup2":
            version, mine, names = 2, v2_path, frozenset[str]()
        else:
            names = frozenset(fs[2].split(",")) & {"memory", "pids"}
            if not names:
                continue
            version, mine = 1, v1_paths.get(next(iter(names)))
        if mine is None:
            continue
        relative = os.path.relpath(mine, root) if mine.startswith(root) else mine.lstrip("/")
        directory = Path(os.path.normpath(Path(mountpoint) / relative))
        if not (directory / "cgroup.procs").exists():
            continue
        if version == 2:
            names = _v2_parent(directory)[1]
        found.append(_Hierarchy(version, names, directory))
    return found


def _v2_parent(own: Path) -> tuple[Path, frozenset[str]]:
    """The nearest v2 cgroup at or above `own` that hands memory and pids to its children and
    that we may write to; else `own` itself (a controller-less child can still be killed)."""
    directory = own
    while True:
        try:
            enabled = frozenset((directory / "cgroup.subtree_control").read_text().split())
        except OSError:
            enabled = frozenset()
        wanted = enabled & {"memory", "pids"}
        if wanted == {"memory", "pids"} and os.access(directory, os.W_OK):
            return directory, wanted
        if (directory / "cgroup.controllers").exists() and directory.parent != directory:
            parent = directory.parent
            if (parent / "cgroup.procs").exists():
                directory = parent
                continue
        return own, frozenset()


def _owner_tag() -> str:
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
        start = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        namespace, start = 0, "0"
    return f"{namespace}-{os.getpid()}-{start}"


def _owner_gone(name: str) -> bool:
    """Whether the process that named cgroup `name` (in our pid namespace) has ended."""
    found = _NAME_RE.fullmatch(name)
    if not found:
        return False
    namespace, pid, start = found.groups()
    with contextlib.suppress(OSError):
        if int(namespace) != os.stat("/proc/self/ns/pid").st_ino:
            return False  # another namespace's: not ours to judge
    try:
        now = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return True
    return now != start


def _remove_orphans(parents: list[Path]) -> list[Path]:
    removed = []
    for parent in parents:
        with contextlib.suppress(OSError):
            for child in parent.iterdir():
                if child.is_dir() and _owner_gone(child.name):
                    with contextlib.suppress(OSError):
                        _adopt(child).remove()
                        if not child.exists():
                            removed.append(child)
    return removed


def remove_orphans() -> list[Path]:
    """Empty and remove the cgroups whose owner process is gone (a SIGKILLed run's)."""
    parents = dict.fromkeys(_places().values())
    return _remove_orphans([p for p in parents if os.access(p, os.W_OK)])


@functools.lru_cache(maxsize=1)
def remove_orphans_once() -> None:
    """`remove_orphans()` the first time a process opens a local sandbox; best effort."""
    with contextlib.suppress(Exception):
        remove_orphans()


def _adopt(directory: Path) -> Cgroup:
    """A `Cgroup` for a directory left behind (a v2 one can be killed with cgroup.kill)."""
    v2 = (directory / "cgroup.controllers").exists()
    return Cgroup(None, None, directory) if v2 else Cgroup(directory, None, None)


def _places() -> dict[str, Path]:
    """role ("memory", "pids", "unified") -> the directory a sandbox's cgroup goes under."""
    hierarchies = _hierarchies()
    v2 = next((h for h in hierarchies if h.version == 2), None)
    places: dict[str, Path] = {}
    if v2 is not None:
        parent = _v2_parent(v2.own)[0]
        if v2.controllers == {"memory", "pids"}:
            places["memory"] = places["pids"] = parent
        places["unified"] = parent
    for controller in ("memory", "pids"):
        v1 = next((h for h in hierarchies if h.version == 1 and controller in h.controllers), None)
        if controller not in places and v1 is not None:
            places[controller] = v1.own
    return places


def create(memory_bytes: int, pids: int) -> Cgroup | None:
    """A new cgroup holding these limits, or None where none can be made (`available()`
    says why): a fallback to rlimits, never an error."""
    return _create(memory_bytes, pids)[0]


def _create(memory_bytes: int, pids: int) -> tuple[Cgroup | None, str]:
    if os.environ.get(DISABLE_ENV):
        return None, f"disabled by {DISABLE_ENV}"
    places = _places()
    name = f"{PREFIX}{_owner_tag()}-{secrets.token_hex(4)}"
    made: dict[Path, Path] = {}
    roles: dict[str, Path] = {}
    try:
        for role, parent in places.items():
            if parent not in made:
                if not os.access(parent, os.W_OK):
                    continue
                (parent / name).mkdir()
                made[parent] = parent / name
            roles[role] = made[parent]
        if "memory" not in roles or "pids" not in roles:
            raise PermissionError("no memory or pids controller we may use")
        _limit(roles["memory"], memory_bytes, roles["pids"], pids)
    except OSError as exc:
        for directory in made.values():
            with contextlib.suppress(OSError):
                directory.rmdir()
        if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EROFS):
            return None, "needs root or a delegated cgroup (memory and pids)"
        return None, f"could not make a cgroup: {exc}"
    unified = roles.get("unified")
    return Cgroup(roles["memory"], roles["pids"], unified), ""


def _limit(memory: Path, memory_bytes: int, pids: Path, count: int) -> None:
    if (memory / "memory.max").exists():  # v2
        (memory / "memory.max").write_text(str(memory_bytes))
        if (memory / "memory.swap.max").exists():
            (memory / "memory.swap.max").write_text("0")
    else:  # v1: memory first (memsw may never be below it), then memory+swap
        (memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            (memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
    (pids / "pids.max").write_text(str(count))


def available() -> tuple[bool, str]:
    """Whether a sandbox gets a cgroup here, found by making and removing a real one:
    (True, what it has) or (False, why not)."""
    if os.environ.get(DISABLE_ENV):
        return False, f"disabled by {DISABLE_ENV}"
    return _probe()


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[bool, str]:
    cgroup, why = _create(64 << 20, 16)
    if cgroup is None:
        return False, why
    try:
        return True, cgroup.describe()
    finally:
        cgroup.remove()
