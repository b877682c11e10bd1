"""`open_sandbox`: the one place that picks a backend and builds its environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sandboxes import lifecycle
from sandboxes.base import Sandbox, SandboxUnavailable
from sandboxes.engine import docker_available
from sandboxes.limits import Limits
from sandboxes.spec import EnvSpec

Kind = Literal["docker", "local", "auto"]


def resolve_kind(kind: str) -> Literal["docker", "local"]:
    """ "auto" means Docker when its engine answers, else local; "docker" fails clearly without it."""
    if kind == "local":
        return "local"
    if kind not in ("docker", "auto"):
        raise SandboxUnavailable(f"unknown sandbox kind {kind!r}; use docker, local or auto")
    ok, reason = docker_available()
    if ok:
        return "docker"
    if kind == "auto":
        return "local"
    raise SandboxUnavailable(reason)


def prepare_env(kind: str, env: EnvSpec) -> str:
    """Build `env` ahead of time (image tag or venv path); cached, so cheap when already built."""
    lifecycle.install()
    if resolve_kind(kind) == "docker":
        from sandboxes import engine, images

        return images.ensure_env_image(engine.client(), env)
    from sandboxes import venvs

    return str(venvs.ensure_venv(env))


def open_sandbox(
    kind: str = "auto",
    env: EnvSpec | None = None,
    repo_dir: Path | str | None = None,
    workdir: str = "/testbed",
    network: bool = False,
    limits: Limits | None = None,
) -> Sandbox:
    """A started sandbox with `env` on PATH and a private copy of `repo_dir` at `workdir`.

    Builds the environment on first use (cached by the spec's hash). Close it (or use it as a
    context manager); containers left by a crashed process are removed by `agents sandbox gc`.
    """
    lifecycle.install()
    lifecycle.check_running()
    env = env or EnvSpec()
    limits = limits or Limits()
    repo = Path(repo_dir) if repo_dir is not None else None
    if resolve_kind(kind) == "docker":
        from sandboxes.docker_sandbox import DockerSandbox

        return DockerSandbox.start(env, repo, workdir=workdir, network=network, limits=limits)
    from sandboxes.local_sandbox import LocalSandbox

    return LocalSandbox.start(env, repo, workdir=workdir, network=network, limits=limits)
