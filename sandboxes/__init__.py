"""Sandboxes: isolated places where commands run on a copy of a repository.

    from sandboxes import EnvSpec, Limits, open_sandbox
    with open_sandbox("auto", EnvSpec(pip_packages=["pytest==8.3.3"]), repo_dir=path) as sb:
        result = sb.exec("python -m pytest -rA", timeout=300)

A ready-made image (e.g. SWE-bench's) instead of a built env: `open_sandbox("docker",
image=name, prelude=...)`, with `find_image`/`pull_image`/`build_image` (they take
`sandboxes.engine.client()`). See sandboxes/README.md.
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
from sandboxes.images import build_image, find_image, pull_image
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
    "build_image",
    "docker_available",
    "find_image",
    "lifecycle",
    "open_sandbox",
    "prepare_env",
    "pull_image",
    "resolve_kind",
    "scratch_dir",
]
