"""Connecting to the Docker engine, and the labels that mark what this project created."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from typing import Any

from foundation.jsonl import pid_alive
from sandboxes.base import SandboxUnavailable

# Every container and image we create carries LABEL; containers also carry the owner's pid
# and where that pid means something (host and pid namespace), so `gc` can tell a live
# sandbox from an orphan without touching other machines' or namespaces' containers.
LABEL = "agents-search"
PID_LABEL = "agents-search.pid"
WHERE_LABEL = "agents-search.where"


def owner_labels() -> dict[str, str]:
    """Labels naming this process as the owner of a container."""
    return {PID_LABEL: str(os.getpid()), WHERE_LABEL: _where()}


def owner_gone(labels: dict[str, str]) -> bool:
    """Did the owner named by `owner_labels()` (here: same host and pid namespace) end?
    Labels from elsewhere, or without a pid, never count as gone."""
    owner = labels.get(PID_LABEL, "")
    return labels.get(WHERE_LABEL) == _where() and owner.isdigit() and not pid_alive(int(owner))


def _where() -> str:
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()}:{namespace}"


_HINT = "start it (`sudo dockerd &`) or use `--sandbox local`"


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[bool, str]:
    try:
        import docker
    except ImportError:
        return False, f"the `docker` Python package is not installed; {_HINT}"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return False, f"Docker is not running (no answer at {where}); {_HINT}"
    return True, "Docker engine is running"


def docker_available(refresh: bool = False) -> tuple[bool, str]:
    """(True, ...) when a Docker engine answers; else (False, a one-line reason with a hint)."""
    if refresh:
        _probe.cache_clear()
    return _probe()


def client() -> Any:
    """A docker SDK client, or SandboxUnavailable with the one-line reason."""
    ok, reason = docker_available()
    if not ok:
        ok, reason = docker_available(refresh=True)
    if not ok:
        raise SandboxUnavailable(reason)
    import docker

    return docker.from_env(timeout=120)


def remove_orphans(everything: bool = False) -> list[str]:
    """Remove labelled containers whose owner (on this host, in this pid namespace) is gone.

    `everything` removes every labelled container, live or not, from anywhere.
    """
    removed = []
    for container in client().containers.list(all=True, filters={"label": LABEL}):
        if not everything and not owner_gone(container.labels):
            continue
        container.remove(force=True)
        removed.append(container.name)
    return removed


@functools.lru_cache(maxsize=1)
def remove_orphans_once() -> None:
    """`remove_orphans()` the first time a process opens a Docker sandbox; best effort."""
    with contextlib.suppress(Exception):
        remove_orphans()
