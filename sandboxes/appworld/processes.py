"""The two kinds of process we run in AppWorld's venv, and how they end.

- The executor (`_server.py`) runs the agent's code, so it is treated as hostile, exactly as a
  local sandbox's commands are: its own session, rlimits (address space, processes, file size,
  no core files), a cgroup for memory and processes where one can be made (and to kill all
  of it), as root an unused uid of its own, bubblewrap where it works (read-only host, hidden
  home directories, no network: we talk HTTP over a Unix socket in its directory). Not root
  and without bubblewrap, it runs as you: fit for trusted code only, as a plain local sandbox.
- The worker (`_worker.py`) builds worlds and grades attempts; no agent code runs in it. It
  runs as the caller and answers JSON lines on stdin/stdout.

Both end with their parent however it ends: the executor watches a pipe whose other end only
the parent holds (end of file = the parent is gone; bubblewrap also has --die-with-parent),
the worker reads requests from stdin until it closes. A normal exit, an exception, SIGINT and
SIGTERM close them through `close()` (`sandboxes.lifecycle`); the cgroup of a SIGKILLed run is
emptied by the next process that makes one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from sandboxes import cgroups, isolation, lifecycle
from sandboxes.appworld.install import HERE, Installation
from sandboxes.base import SandboxError
from sandboxes.limits import Limits

# Where the executor's directory appears inside bubblewrap.
INSIDE = "/appworld"


def log_tail(path: Path, lines: int = 6, limit: int = 600) -> str:
    """The last lines of a log, joined on one line."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])[-limit:]


def _script(inst: Installation, name: str) -> Path:
    """A copy of one of our venv-side scripts inside the installation, named by its content:
    readable by the executor's uid and visible inside bubblewrap, as the source tree may not be."""
    source = (HERE / name).read_bytes()
    target = inst.root / "bin" / f"{Path(name).stem}-{hashlib.sha256(source).hexdigest()[:12]}.py"
    if not target.exists():
        target.parent.mkdir(mode=0o755, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
            handle.write(source)
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, target)
    return target


class Executor:
    """One executor process serving the world directory `root/work` on `root/work/server.sock`."""

    def __init__(self, inst: Installation, root: Path, limits: Limits) -> None:
        self.inst = inst
        self.root = root
        self.work = root / "work"
        self.log = root / "server.log"
        self.limits = limits
        self.run_as = isolation.unused_uid() if os.geteuid() == 0 else None
        self.bwrap = not os.environ.get("AGENTS_SANDBOX_NO_BWRAP") and isolation.bwrap_works(
            isolation.NOBODY if self.run_as is not None else None
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.cgroup: cgroups.Cgroup | None = None
        self._parent_end: int | None = None
        self._prepare()

    @property
    def socket(self) -> Path:
        return self.work / "server.sock"

    @property
    def outputs(self) -> Path:
        """Where AppWorld saves attempts: experiments/outputs/<experiment>/tasks/<id>/dbs."""
        return self.work / "experiments" / "outputs"

    def _prepare(self) -> None:
        for directory in (self.work, self.root / "tmp", self.root / "home"):
            directory.mkdir(exist_ok=True)
        os.chmod(self.root, 0o711)
        # AppWorld reads the worlds from $APPWORLD_ROOT/data: under bubblewrap a read-only
        # mount (the agent cannot swap it), else a link.
        data = self.work / "data"
        if self.bwrap:
            data.mkdir(mode=0o755, exist_ok=True)
        elif not data.is_symlink():
            data.symlink_to(self.inst.data)
        if self.run_as is not None:
            for directory in (self.work, self.root / "tmp", self.root / "home"):
                os.chown(directory, self.run_as, self.run_as)
                os.chmod(directory, 0o700)

    def start(self) -> None:
        """Start the process (not waiting for it to listen: see `AppWorldEnv`)."""
        lifecycle.check_running()
        self.stop()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        read_end, write_end = os.pipe()
        inside = INSIDE if self.bwrap else str(self.work)
        home = "/tmp" if self.bwrap else str(self.root / "home")
        script = _script(self.inst, "_server.py")
        argv = [str(self.inst.python), str(script), "--socket", f"{inside}/server.sock"]
        argv += ["--parent-fd", str(read_end)]
        if self.bwrap:
            keep = [*isolation.python_paths(self.inst.venv), str(script.parent)]
            wrap = isolation.bwrap_argv(self.root / "tmp", self.work, INSIDE, False, keep)
            mounts = ["--ro-bind", str(self.inst.data), f"{INSIDE}/data"]
            for path in keep:  # the sandbox's /tmp is its own: bind back what lives in ours
                if path == "/tmp" or path.startswith("/tmp/"):
                    mounts += ["--ro-bind", path, path]
            argv = [*wrap, *mounts, "--tmpfs", str(self.inst.truth), *argv]
        chosen = isolation.rlimits(self.limits, math.inf, self._nproc())
        argv, preexec = isolation.limited(argv, chosen)
        env = {
            "PATH": f"{self.inst.venv}/bin:/usr/local/bin:/usr/bin:/bin",
            "VIRTUAL_ENV": str(self.inst.venv),
            "HOME": home,
            "TMPDIR": "/tmp" if self.bwrap else str(self.root / "tmp"),
            "APPWORLD_ROOT": inside,
            "APPWORLD_CACHE": f"{home}/.appworld",
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "USER": "sandbox",
            "LOGNAME": "sandbox",
        }
        cgroups.remove_orphans_once()  # the cgroups (and processes) of SIGKILLed runs
        self.cgroup = cgroups.create(self.limits.memory_mb << 20, self.limits.pids)
        try:
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    isolation.gated(argv) if self.cgroup is not None else argv,
                    stdin=subprocess.PIPE if self.cgroup is not None else subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=str(self.work),
                    env=env,
                    start_new_session=True,
                    user=self.run_as,
                    group=self.run_as,
                    extra_groups=[] if self.run_as is not None else None,
                    preexec_fn=preexec,
                    pass_fds=(read_end,),
                )
        except OSError as exc:
            os.close(write_end)
            self._drop_cgroup()
            raise SandboxError(f"could not start the AppWorld executor: {exc}") from exc
        finally:
            os.close(read_end)
        self._parent_end = write_end
        if self.cgroup is not None:
            self._join(self.proc, self.cgroup)

    def _join(self, proc: subprocess.Popen[bytes], cgroup: cgroups.Cgroup) -> None:
        """Move the process, still waiting at its gate, into the cgroup; then let it run."""
        assert proc.stdin is not None
        try:
            cgroup.add(proc.pid)
        except OSError as exc:
            self.stop()
            raise SandboxError(f"could not put the AppWorld executor into a cgroup: {exc}") from exc
        with contextlib.suppress(OSError):
            proc.stdin.write(b"go\n")
            proc.stdin.close()

    def _nproc(self) -> int:
        """Processes allowed to its user: the limit plus what that user already runs."""
        if self.run_as is not None:
            return self.limits.pids
        return len(isolation.processes_of(os.getuid())) + self.limits.pids

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def why_ended(self) -> str:
        """What ended the process, for an observation or an error."""
        if self.proc is None or self.proc.returncode is None:
            return "it stopped answering"
        code = self.proc.returncode
        oom = self.cgroup is not None and self.cgroup.counters()[0] > 0
        if oom:
            return "it ran out of memory"
        if code < 0:
            return f"it was killed by signal {-code}"
        return f"it exited with code {code}"

    def stop(self) -> None:
        """Kill the process and everything it started; wait for it."""
        if self._parent_end is not None:
            with contextlib.suppress(OSError):
                os.close(self._parent_end)
            self._parent_end = None
        proc = self.proc
        if proc is not None:
            isolation.kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        if self.cgroup is not None:
            self.cgroup.kill()
        elif self.run_as is not None:
            isolation.kill_uid(self.run_as)
        self._drop_cgroup()

    def _drop_cgroup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None


class Worker:
    """The trusted worker: one per process, shared by every `AppWorldEnv` (see `shared_worker`)."""

    def __init__(self, inst: Installation) -> None:
        self.inst = inst
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._buffer = b""

    def _start(self) -> subprocess.Popen[bytes]:
        lifecycle.check_running()
        self.close()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (open while the worker runs)
        self._buffer = b""
        try:
            self.proc = subprocess.Popen(
                [str(self.inst.python), str(_script(self.inst, "_worker.py")), "serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                cwd=str(self.inst.root),
                env=self.inst.env(),
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(f"could not start the AppWorld worker: {exc}") from exc
        lifecycle.track(self)
        return self.proc

    _LOG_LIMIT = 1 << 20

    def call(self, request: dict[str, Any], timeout: float = 600.0) -> dict[str, Any]:
        """Send one request and wait for its answer; the worker is (re)started when needed.
        A failed request raises `SandboxError` with the worker's one-line message."""
        with self._lock:
            proc = self.proc if self.proc is not None and self.proc.poll() is None else None
            proc = proc or self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
                line = self._read_line(proc, time.monotonic() + timeout)
            except (OSError, TimeoutError) as exc:
                tail = self._log_tail()
                self.close()
                what = "timed out" if isinstance(exc, TimeoutError) else "ended"
                raise SandboxError(
                    f"the AppWorld worker {what} during {request.get('cmd')}: {tail}"
                ) from exc
            self._trim_log()
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise SandboxError(f"AppWorld {request.get('cmd')} failed: {answer.get('error')}")
        return answer

    def _read_line(self, proc: subprocess.Popen[bytes], deadline: float) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise OSError(errno.EPIPE, "end of output")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _trim_log(self) -> None:
        """Keep the worker's log (its stderr) small: it runs as long as this process does.
        Parent and worker share the file's offset, so rewinding it here rewinds the worker."""
        if self._log is not None and os.fstat(self._log.fileno()).st_size > self._LOG_LIMIT:
            with contextlib.suppress(OSError):
                self._log.seek(0)
                self._log.truncate()

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        with contextlib.suppress(OSError):
            self._log.seek(0)
            lines = self._log.read().decode(errors="replace").strip().splitlines()
            return " | ".join(line.strip() for line in lines[-4:])[-500:]
        return ""

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                isolation.kill_group(proc.pid)
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        lifecycle.untrack(self)


_workers: dict[Path, Worker] = {}
_workers_lock = threading.Lock()


def shared_worker(inst: Installation) -> Worker:
    """This process's worker for `inst` (started on its first request)."""
    with _workers_lock:
        worker = _workers.get(inst.root)
        if worker is None:
            worker = _workers[inst.root] = Worker(inst)
        return worker


def remove_tree(path: Path) -> None:
    """Remove a directory some of which an executor's uid owns (we are root then: fine)."""
    shutil.rmtree(path, ignore_errors=True)
