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


def _resolve_for_image(kind: str, image: str) -> Literal["docker"]:
    """A ready-made image runs only in Docker: "local", or "auto" without Docker, fail clearly."""
    if kind == "local":
        raise SandboxUnavailable(f"the sandbox image {image} needs Docker; use --sandbox docker")
    if kind not in ("docker", "auto"):
        raise SandboxUnavailable(f"unknown sandbox kind {kind!r}; use docker, local or auto")
    ok, reason = docker_available()
    if not ok:
        ok, reason = docker_available(refresh=True)
    if not ok:
        why = reason.split(";")[0]  # without the hint to use the local sandbox
        raise SandboxUnavailable(
            f"the sandbox image {image} needs Docker: {why}; start it (`sudo dockerd &`)"
        )
    return "docker"


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
    *,
    image: str | None = None,
    prelude: str = "",
) -> Sandbox:
    """A started sandbox with `env` on PATH and a private copy of `repo_dir` at `workdir`.

    Builds the environment on first use (cached by the spec's hash). Close it (or use it as a
    context manager); containers left by a crashed process are removed by `agents sandbox gc`.

    `image`: a Docker container of that image as is instead (`env` is not used, nothing is
    built; pulled once if not present); `repo_dir` may be None when the repository is already
    in the image at `workdir`. Needs Docker. `prelude`: shell text run before every `exec`
    command in its bash (e.g. activating the image's conda env); Docker only.
    """
    lifecycle.install()
    lifecycle.check_running()
    env = env or EnvSpec()
    limits = limits or Limits()
    repo = Path(repo_dir) if repo_dir is not None else None
    chosen = _resolve_for_image(kind, image) if image is not None else resolve_kind(kind)
    if chosen == "docker":
        from sandboxes.docker_sandbox import DockerSandbox

        return DockerSandbox.start(
            env,
            repo,
            workdir=workdir,
            network=network,
            limits=limits,
            image=image,
            prelude=prelude,
        )
    if prelude:
        raise SandboxUnavailable("a sandbox prelude needs the docker sandbox; use --sandbox docker")
    from sandboxes.local_sandbox import LocalSandbox

    return LocalSandbox.start(env, repo, workdir=workdir, network=network, limits=limits)
