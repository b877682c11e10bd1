"""Sandboxes: isolated places where commands run on a copy of a repository.

    from sandboxes import EnvSpec, Limits, open_sandbox
    with open_sandbox("auto", EnvSpec(pip_packages=["pytest==8.3.3"]), repo_dir=path) as sb:
        result = sb.exec("python -m pytest -rA", timeout=300)

See sandboxes/README.md.
"""

from sandboxes import lifecycle
from sandboxes.base import (
    KILLED,
    OOM,
    OUTPUT_CAPPED,
    PIDS_LIMIT,
    TIMEOUT,
    BuildError,
    DiskFullError,
    ExecResult,
    Sandbox,
    SandboxError,
    SandboxUnavailable,
)
from sandboxes.engine import docker_available
from sandboxes.factory import open_sandbox, prepare_env, resolve_kind
from sandboxes.files import UnsafePath
from sandboxes.limits import Limits
from sandboxes.scratch import scratch_dir
from sandboxes.spec import EnvSpec

__all__ = [
    "KILLED",
    "OOM",
    "OUTPUT_CAPPED",
    "PIDS_LIMIT",
    "TIMEOUT",
    "BuildError",
    "DiskFullError",
    "EnvSpec",
    "ExecResult",
    "Limits",
    "Sandbox",
    "SandboxError",
    "SandboxUnavailable",
    "UnsafePath",
    "docker_available",
    "lifecycle",
    "open_sandbox",
    "prepare_env",
    "resolve_kind",
    "scratch_dir",
]
