"""`LocalSandbox`: for machines without Docker. A private copy of the repo, one subprocess per
command in its own process group, rlimits, and bubblewrap isolation when `bwrap` works.

Run as root, commands run as an unused uid of their own: rlimits on processes do not bind
root and are counted per user, and the repository copy is the only place that uid can write.
Without bubblewrap there is no network isolation and the working directory is a temp dir.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import subprocess
import tarfile
from pathlib import Path

from sandboxes import cgroups, files, isolation, lifecycle, scratch, venvs
from sandboxes.base import (
    KILLED,
    OOM,
    OUTPUT_CAPPED,
    PIDS_LIMIT,
    TIMEOUT,
    DiskFullError,
    ExecResult,
    SandboxError,
)
from sandboxes.cache import low_on_space
from sandboxes.limits import Limits
from sandboxes.output import CappedBuffer
from sandboxes.spec import EnvSpec

_GRACE = 5.0
_OOM_RE = re.compile(r"MemoryError|Cannot allocate memory|out of memory|std::bad_alloc")
_FORK_RE = re.compile(
    r"fork: (retry: )?Resource temporarily unavailable|BlockingIOError|can't fork"
)
_PASS_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
_CA_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO")


# Local sandboxes are owned scratch directories: a SIGKILLed run's are removed by the next.
PREFIX = f"{scratch.PREFIX}local-"
OWNER_FILE = scratch.OWNER_FILE
remove_orphans = scratch.remove_orphans
remove_orphans_once = scratch.remove_orphans_once


class LocalSandbox:
    """A temp dir with a copy of the repository; commands run as subprocesses under limits."""

    def __init__(self, root: Path, venv: Path, workdir: str, network: bool, limits: Limits) -> None:
        self.root = root
        self.copy = root / "work"
        self.venv = venv
        self.network = network
        self.limits = limits
        self.run_as = isolation.unused_uid() if os.geteuid() == 0 else None
        self.bwrap = not os.environ.get("AGENTS_SANDBOX_NO_BWRAP") and isolation.bwrap_works(
            isolation.NOBODY if self.run_as is not None else None
        )
        first = Path(workdir).parts[1] if len(Path(workdir).parts) > 1 else ""
        remap = self.bwrap and workdir.startswith("/") and not Path("/", first).exists()
        self.workdir = workdir if remap else str(self.copy)
        self._snapshots = 0
        self._closed = False
        self._running: subprocess.Popen[bytes] | None = None
        # One memory and process limit for the whole sandbox, and every process of it
        # tracked; None where no cgroup can be made (then rlimits, and as root the private
        # uid, are what is left: `agents sandbox status` says which).
        self.cgroup: cgroups.Cgroup | None = None

    @classmethod
    def start(
        cls, env: EnvSpec, repo: Path | None, *, workdir: str, network: bool, limits: Limits
    ) -> LocalSandbox:
        lifecycle.check_running()
        venv = venvs.ensure_venv(env)
        root = scratch.make_owned_dir("local")
        os.chmod(root, 0o755)
        sandbox = cls(root, venv, workdir, network, limits)
        lifecycle.track(sandbox)
        try:
            cgroups.remove_orphans_once()  # cgroups (and processes) of SIGKILLed runs
            sandbox.cgroup = cgroups.create(limits.memory_mb << 20, limits.pids)
            if repo is not None:
                if not repo.is_dir():
                    raise SandboxError(f"repository directory {repo} does not exist")
                shutil.copytree(repo, sandbox.copy, symlinks=True)
            else:
                sandbox.copy.mkdir()
            for private in ("home", "tmp"):
                (root / private).mkdir()
            (root / "snapshots").mkdir(mode=0o700)
            for path in (sandbox.copy, root / "home", root / "tmp"):
                sandbox._give(path)
        except OSError as exc:
            sandbox.close()
            if exc.errno == errno.ENOSPC or low_on_space(root.parent):
                raise DiskFullError(f"no space left on device for a sandbox in {root}") from exc
            raise SandboxError(f"could not prepare the sandbox in {root}: {exc}") from exc
        except BaseException:
            sandbox.close()
            raise
        return sandbox

    # -- commands -----------------------------------------------------------------------

    def exec(self, cmd: str, timeout: float | None = None) -> ExecResult:
        if self._closed:
            raise SandboxError(f"{self.root} is closed")
        limit = self.limits.timeout if timeout is None else timeout
        chosen = isolation.rlimits(self.limits, limit, self._nproc())
        argv, preexec = isolation.limited([*self._isolation(), "bash", "-c", cmd], chosen)
        cgroup = self.cgroup
        before = cgroup.counters() if cgroup is not None else (0, 0)
        try:
            proc = subprocess.Popen(
                isolation.gated(argv) if cgroup is not None else argv,
                stdin=subprocess.PIPE if cgroup is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=str(self.copy),
                env=self._env(),
                start_new_session=True,
                user=self.run_as,
                group=self.run_as,
                extra_groups=[] if self.run_as is not None else None,
                preexec_fn=preexec,
            )
        except OSError as exc:
            raise SandboxError(f"could not run a command in {self.root}: {exc}") from exc
        self._running = proc
        if cgroup is not None:
            self._join(proc, cgroup, cmd)
        out = CappedBuffer(self.limits.output_bytes)
        err = CappedBuffer(self.limits.output_bytes)
        assert proc.stdout is not None and proc.stderr is not None
        readers = [isolation.pump(proc.stdout, out), isolation.pump(proc.stderr, err)]
        timed_out = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self._reap(proc.pid)  # the command's leftovers die with it, setsid'd ones too
        for reader in readers:
            reader.join(_GRACE)  # a process that escaped the group may hold the pipe
        self._running = None
        if self._closed:
            raise SandboxError(f"{self.root} was closed while `{cmd[:80]}` ran")
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        stderr = err.text()
        oom, forks = cgroup.counters() if cgroup is not None else before
        reason = None
        if timed_out:
            reason = TIMEOUT
        elif oom > before[0] or (code != 0 and _OOM_RE.search(stderr[-4000:])):
            reason = OOM
        elif forks > before[1] or _FORK_RE.search(stderr):
            reason = PIDS_LIMIT
        elif proc.returncode < 0:
            reason = KILLED
        elif out.truncated or err.truncated:
            reason = OUTPUT_CAPPED
        return ExecResult(code, out.text(), stderr, timed_out=timed_out, reason=reason)

    def _join(self, proc: subprocess.Popen[bytes], cgroup: cgroups.Cgroup, cmd: str) -> None:
        """Move the command, still waiting at its gate, into the cgroup; then let it run."""
        assert proc.stdin is not None
        try:
            cgroup.add(proc.pid)
        except OSError as exc:
            isolation.kill_group(proc.pid)
            proc.wait()
            self._running = None
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            if self._closed:
                raise SandboxError(f"{self.root} was closed while `{cmd[:80]}` ran") from exc
            raise SandboxError(f"could not put a command into {self.root}'s cgroup: {exc}") from exc
        with contextlib.suppress(OSError):  # a gate that was killed has closed its end
            proc.stdin.write(b"go\n")
            proc.stdin.close()

    def _reap(self, pgid: int | None) -> None:
        """Kill every process the sandbox has left: its process group, then all of its
        cgroup, else (as root) every process of its private uid."""
        if pgid is not None:
            isolation.kill_group(pgid)
        if self.cgroup is not None:
            self.cgroup.kill()
        elif self.run_as is not None:
            isolation.kill_uid(self.run_as)

    def _isolation(self) -> list[str]:
        if not self.bwrap:
            return []
        keep = isolation.python_paths(self.venv)
        return isolation.bwrap_argv(self.root / "tmp", self.copy, self.workdir, self.network, keep)

    def _env(self) -> dict[str, str]:
        home = "/tmp" if self.bwrap else str(self.root / "home")
        env = {
            "PATH": f"{self.venv}/bin:/usr/local/bin:/usr/bin:/bin",
            "VIRTUAL_ENV": str(self.venv),
            "HOME": home,
            "TMPDIR": "/tmp" if self.bwrap else str(self.root / "tmp"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "USER": "sandbox",
            "LOGNAME": "sandbox",
        }
        if self.network:
            env.update({k: v for k, v in os.environ.items() if k in _PASS_ENV + _CA_ENV})
        return env

    def _nproc(self) -> int:
        """Processes allowed to the sandbox's user: the limit plus what that user already runs."""
        uid = os.getuid() if self.run_as is None else self.run_as
        running = 0
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                line = next(x for x in status.read_text().splitlines() if x.startswith("Uid:"))
                running += int(line.split()[1]) == uid
        return running + self.limits.pids

    # -- files --------------------------------------------------------------------------

    def read_file(self, path: str) -> str:
        return files.read_text(str(self.copy), self.workdir, path)

    def write_file(self, path: str, content: str) -> None:
        files.write_text(str(self.copy), self.workdir, path, content, owner=self.run_as)

    def _give(self, path: Path) -> None:
        """Hand the tree at `path` (a directory this class made) to the sandbox's uid: as
        root, commands run as an unprivileged uid. Walked by directory fds (`os.fwalk`),
        never following a symlink, so a swapped-in link cannot redirect a chown."""
        uid = self.run_as
        if uid is None:
            return
        os.chown(path, uid, uid, follow_symlinks=False)
        for _, dirs, names, dir_fd in os.fwalk(path):
            for name in dirs + names:
                os.chown(name, uid, uid, dir_fd=dir_fd, follow_symlinks=False)

    # -- snapshots ----------------------------------------------------------------------

    # Snapshots are taken and restored as root by path on the host, but only between commands:
    # `exec` leaves no sandbox process alive, so nothing can swap a directory for a symlink
    # while they walk, and extraction's "tar" filter refuses members that would land outside
    # the copy through a link.

    def snapshot(self) -> str:
        self._snapshots += 1
        snapshot_id = f"snap-{self._snapshots}"
        with tarfile.open(self.root / "snapshots" / f"{snapshot_id}.tar", "w") as tar:
            tar.add(str(self.copy), arcname=".")
        return snapshot_id

    def restore(self, snapshot_id: str) -> None:
        archive = self.root / "snapshots" / f"{snapshot_id}.tar"
        if not re.fullmatch(r"snap-\d+", snapshot_id) or not archive.exists():
            raise SandboxError(f"unknown snapshot {snapshot_id!r}")
        for child in self.copy.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        with tarfile.open(archive) as tar:
            tar.extractall(self.copy, filter="tar" if hasattr(tarfile, "tar_filter") else None)
        self._give(self.copy)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        lifecycle.untrack(self)
        running = self._running
        # Closed from another thread (SIGTERM) while a command runs, or not: nothing stays.
        self._reap(running.pid if running is not None else None)
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "bwrap" if self.bwrap else "plain"
        return f"LocalSandbox({self.root}, workdir={self.workdir}, {mode})"
