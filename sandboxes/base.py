"""The `Sandbox` seam: where an agent's commands run, isolated from the host.

Backends (Docker, local process) implement this protocol; everything above
(agents, the SWE-bench harness) talks only to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from foundation.errors import UserError

# Values of `ExecResult.reason`: why a command ended abnormally.
TIMEOUT = "timeout"  # ran past its timeout; its whole process group was killed
OOM = "oom"  # hit the memory limit (killed by the OOM killer, or allocation failed)
OUTPUT_CAPPED = "output-capped"  # wrote more than the cap; head and tail kept
PIDS_LIMIT = "pids-limit"  # tried to start more processes than allowed (e.g. a fork bomb)
KILLED = "killed"  # killed by a signal for another reason (e.g. the cpu-time limit)


@dataclass(frozen=True)
class ExecResult:
    """Outcome of one command. Output is capped (head and tail kept)."""

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    # Why the command ended abnormally, if it did (one of the constants above), else None.
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@runtime_checkable
class Sandbox(Protocol):
    """An isolated working environment with a repository (usually at /testbed).

    Paths given to `read_file`/`write_file` are relative to the working directory
    or absolute inside the sandbox. `snapshot()` captures the working directory
    (not the rest of the filesystem); `restore(id)` returns it to that state.
    """

    workdir: str  # where the repository is and commands start

    def exec(self, cmd: str, timeout: float | None = None) -> ExecResult: ...

    def read_file(self, path: str) -> str: ...

    def write_file(self, path: str, content: str) -> None: ...

    def snapshot(self) -> str: ...

    def restore(self, snapshot_id: str) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(self, *exc: object) -> None: ...


class SandboxError(Exception):
    """A sandbox could not be created or used (the command itself ran fine or not at all)."""


class SandboxUnavailable(SandboxError, UserError):
    """The requested backend cannot run on this machine (e.g. Docker is not running)."""


class BuildError(SandboxError, UserError):
    """Building a base image, an environment image or a venv failed; the message has the log tail."""


class DiskFullError(SandboxError, UserError):
    """No space left on the device holding images, venvs or working copies."""
