"""`DockerSandbox`: one container per sandbox, cgroup limits, no network unless asked.

Each command runs as `timeout -s KILL T bash -c CMD`; `timeout` leads its own process group
and kills the whole group when T passes. A host-side watchdog backs it up: if output is
still open a few seconds later, the group is killed again, then the container is restarted
(which ends every process but keeps the filesystem).

With `image`, the container is that image as is (e.g. a SWE-bench instance image with the
repository at /testbed): nothing is built, and the image's own PATH and environment apply.
A `prelude` (shell text, e.g. activating a conda env) runs before every command, in the
same bash, inside the timeout.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import shlex
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sandboxes import engine, images, lifecycle
from sandboxes.base import (
    KILLED,
    OOM,
    OUTPUT_CAPPED,
    PIDS_LIMIT,
    TIMEOUT,
    ExecResult,
    SandboxError,
)
from sandboxes.files import UnsafePath
from sandboxes.limits import Limits
from sandboxes.output import CappedBuffer
from sandboxes.spec import EnvSpec

_WRAPPER = 'echo $$ > "$0"; exec timeout -s KILL "$1" bash -c "$2"'
# After each command: kill every process but the container's init, its `sleep infinity`
# (KEEP) and this shell, until none is left; a `setsid`'d leftover is no longer in the
# command's process group, but it is in the container.
_KILL_REST = (
    "for _ in 1 2 3 4 5 6 7 8 9 10; do left=; for d in /proc/[0-9]*; do p=${d#/proc/}; "
    'case " 1 $$ KEEP " in *" $p "*) continue;; esac; kill -9 "$p" 2>/dev/null && left=1; '
    'done; [ -z "$left" ] && break; done'
)
_GRACE = 5.0
_SNAPSHOTS = "/var/tmp/.sandbox-snapshots"


class DockerSandbox:
    """A running container with the environment's image (or a given one) and the repository."""

    def __init__(
        self, client: Any, container: Any, workdir: str, limits: Limits, prelude: str = ""
    ) -> None:
        self.client = client
        self.container = container
        self.workdir = workdir
        self.limits = limits
        self.prelude = prelude
        self._closed = False
        self._oom = 0
        self._pids = 0
        self._snapshots = 0
        self._kill_rest = "true"  # set by `start` once it knows which process to keep

    @classmethod
    def start(
        cls,
        env: EnvSpec,
        repo: Path | None,
        *,
        workdir: str,
        network: bool,
        limits: Limits,
        image: str | None = None,
        prelude: str = "",
    ) -> DockerSandbox:
        """A running container of `env`'s image, or of `image` as is (pulled if missing)."""
        import docker.types

        lifecycle.check_running()
        client = engine.client()
        engine.remove_orphans_once()  # containers of runs that were SIGKILLed
        if image is None:
            tag = images.ensure_env_image(client, env)
        else:
            tag = image
            images.pull_image(client, image)  # a no-op when present; bounded, one try per run
        environment = {"HOME": "/root", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
        if network:
            environment.update(images.build_env_vars())
        fsize = limits.file_size_mb << 20
        try:
            container = client.containers.run(
                tag,
                command=["sleep", "infinity"],
                name=f"agents-search-{uuid.uuid4().hex[:12]}",
                detach=True,
                init=True,
                labels={engine.LABEL: "sandbox", **engine.owner_labels()},
                network_mode="bridge" if network else "none",
                mem_limit=f"{limits.memory_mb}m",
                memswap_limit=f"{limits.memory_mb}m",
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids,
                ulimits=[docker.types.Ulimit(name="fsize", soft=fsize, hard=fsize)],
                security_opt=["no-new-privileges"],
                environment=environment,
                working_dir="/",
            )
        except Exception as exc:
            images._reraise_disk_full(exc)
            raise SandboxError(f"could not start a container from {tag}: {exc}") from exc
        sandbox = cls(client, container, workdir, limits, prelude)
        lifecycle.track(sandbox)
        try:
            sandbox._checked(f"mkdir -p {shlex.quote(workdir)} {_SNAPSHOTS}")
            if image is not None and network and images.HOST_CA.exists():
                # Env images carry the host's CA bundle (build_env_vars points at it); a
                # ready-made image gets it now, before any command runs.
                ca_dir = posixpath.dirname(images.CONTAINER_CA)
                sandbox._checked(f"mkdir -p {ca_dir}")
                images._put_file(container, images.CONTAINER_CA, images.HOST_CA.read_bytes())
            keep = sandbox._checked("cat /proc/1/task/1/children").split()  # sleep infinity
            sandbox._kill_rest = _KILL_REST.replace(
                "KEEP", " ".join(k for k in keep if k.isdigit())
            )
            if repo is not None:
                sandbox._copy_in(repo)
            sandbox._oom, sandbox._pids = sandbox._counters()
        except Exception as exc:
            sandbox.close()
            images._reraise_disk_full(exc)
            raise
        except BaseException:
            sandbox.close()
            raise
        return sandbox

    # -- commands -----------------------------------------------------------------------

    def exec(self, cmd: str, timeout: float | None = None) -> ExecResult:
        if self._closed:
            raise SandboxError(f"{self.container.name} is closed")
        limit = self.limits.timeout if timeout is None else timeout
        pidfile = f"/tmp/.sandbox-{uuid.uuid4().hex[:12]}.pid"
        # The prelude runs in the command's own bash (so what it sets is seen by the command),
        # under the same timeout and process group; the exit code is still the command's.
        script = f"{self.prelude}\n{cmd}" if self.prelude else cmd
        api = self.client.api
        try:
            exec_id = api.exec_create(
                self.container.id,
                ["bash", "-c", _WRAPPER, pidfile, f"{limit:.3f}", script],
                workdir=self.workdir,
            )["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=True)
        except Exception as exc:
            raise SandboxError(f"exec failed in {self.container.name}: {exc}") from exc
        out = CappedBuffer(self.limits.output_bytes)
        err = CappedBuffer(self.limits.output_bytes)

        def pump() -> None:
            with contextlib.suppress(Exception):
                for chunk_out, chunk_err in stream:
                    if chunk_out:
                        out.write(chunk_out)
                    if chunk_err:
                        err.write(chunk_err)

        started = time.monotonic()
        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        reader.join(limit + _GRACE)
        watchdog = reader.is_alive()
        try:
            if watchdog:
                self._run(f'kill -9 -- -"$(cat {pidfile})"')
                reader.join(_GRACE)
            if reader.is_alive():
                self.container.restart(timeout=0)
                reader.join(_GRACE)
            elapsed = time.monotonic() - started
            # Whatever the command left running dies with it, in its process group or not.
            oom, pids = self._counters(
                f'kill -9 -- -"$(cat {pidfile})" 2>/dev/null; rm -f {pidfile}; {self._kill_rest}'
            )
            code = api.exec_inspect(exec_id).get("ExitCode")
        except Exception as exc:
            if self._closed:
                raise SandboxError(
                    f"{self.container.name} was closed while `{cmd[:80]}` ran"
                ) from exc
            raise SandboxError(f"lost the command in {self.container.name}: {exc}") from exc
        if self._closed:
            raise SandboxError(f"{self.container.name} was closed while `{cmd[:80]}` ran")
        code = 137 if code is None else code
        timed_out = watchdog or (code == 137 and elapsed >= limit - 0.1 and oom == self._oom)
        reason = self._reason(code, timed_out, oom, pids, out.truncated or err.truncated)
        self._oom, self._pids = oom, pids
        return ExecResult(code, out.text(), err.text(), timed_out=timed_out, reason=reason)

    def _reason(self, code: int, timed_out: bool, oom: int, pids: int, capped: bool) -> str | None:
        """Why a command ended abnormally: the cgroup counters moved, the clock ran out, ..."""
        if timed_out:
            return TIMEOUT
        if oom > self._oom:
            return OOM
        if pids > self._pids:
            return PIDS_LIMIT
        if code == 137:
            return KILLED
        return OUTPUT_CAPPED if capped else None

    def _run(self, cmd: str) -> tuple[int, str]:
        """An internal command: no timeout wrapper, output returned whole."""
        code, output = self.container.exec_run(["bash", "-c", cmd], workdir="/")
        return code, output.decode(errors="replace")

    def _checked(self, cmd: str) -> str:
        code, output = self._run(cmd)
        if code != 0:
            raise SandboxError(f"`{cmd}` failed in {self.container.name}: {output.strip()[-500:]}")
        return output

    def _counters(self, before: str = "true") -> tuple[int, int]:
        """Run `before`, then read the cgroup's OOM-kill count and failed-fork count."""
        _, text = self._run(
            f"{before}; cd /sys/fs/cgroup && cat memory.events memory/memory.oom_control "
            "pids.events pids/pids.events 2>/dev/null"
        )
        oom = re.search(r"^oom_kill (\d+)", text, re.MULTILINE)
        pids = re.search(r"^max (\d+)", text, re.MULTILINE)
        return int(oom.group(1)) if oom else 0, int(pids.group(1)) if pids else 0

    # -- files --------------------------------------------------------------------------

    def _path(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.workdir, path))

    def read_file(self, path: str) -> str:
        import docker.errors

        full = self._path(path)
        try:
            chunks, _ = self.container.get_archive(full)
        except docker.errors.NotFound as exc:
            raise FileNotFoundError(full) from exc
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            member = tar.next()
            if member is None or member.isdir():
                raise IsADirectoryError(full)
            if member.issym() or member.islnk():
                raise UnsafePath(f"{path} is a symbolic link; not following it")
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is None:
                raise UnsafePath(f"{path} is not a regular file")
            return handle.read().decode(errors="replace")

    def write_file(self, path: str, content: str) -> None:
        full = self._path(path)
        parent, name = posixpath.split(full)
        self._checked(f"mkdir -p {shlex.quote(parent)}")
        data = content.encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
        if not self.container.put_archive(parent, buffer.getvalue()):
            raise SandboxError(f"could not write {full}")

    def _copy_in(self, repo: Path) -> None:
        if not repo.is_dir():
            raise SandboxError(f"repository directory {repo} does not exist")

        def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        with tempfile.TemporaryFile() as spool:
            with tarfile.open(fileobj=spool, mode="w") as tar:
                tar.add(str(repo), arcname=".", filter=as_root)
            spool.seek(0)
            if not self.container.put_archive(self.workdir, spool):
                raise SandboxError(f"could not copy {repo} into the container")

    # -- snapshots ----------------------------------------------------------------------

    def snapshot(self) -> str:
        self._snapshots += 1
        snapshot_id = f"snap-{self._snapshots}"
        w = shlex.quote(self.workdir)
        self._checked(f"tar -C {w} -cpf {_SNAPSHOTS}/{snapshot_id}.tar .")
        return snapshot_id

    def restore(self, snapshot_id: str) -> None:
        if not re.fullmatch(r"snap-\d+", snapshot_id):
            raise SandboxError(f"unknown snapshot {snapshot_id!r}")
        w, tar = shlex.quote(self.workdir), f"{_SNAPSHOTS}/{snapshot_id}.tar"
        self._checked(
            f"test -f {tar} || {{ echo unknown snapshot {snapshot_id}; exit 1; }}; "
            f"cd / && rm -rf {w} && mkdir -p {w} && tar -C {w} -xpf {tar}"
        )

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        lifecycle.untrack(self)
        with contextlib.suppress(Exception):
            self.container.remove(force=True)

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DockerSandbox({self.container.name}, workdir={self.workdir})"
