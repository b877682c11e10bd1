"""Shared pieces of the sandbox tests: the backends, a tiny environment, a tiny git repo."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from sandboxes import EnvSpec, Limits, Sandbox, docker_available, open_sandbox

# One small pure-Python package from PyPI: proves the env's venv is the one on PATH.
ENV = EnvSpec(pip_packages=("iniconfig==2.0.0",))

_ok, _why = docker_available()
DOCKER = pytest.param(
    "docker",
    marks=[pytest.mark.docker, pytest.mark.skipif(not _ok, reason=f"Docker engine: {_why}")],
)
# "local-plain" is the local backend without bubblewrap (as on machines that lack it).
BACKENDS = [DOCKER, "local", "local-plain"]


def make_repo(root: Path) -> Path:
    """A git repository with one commit: a package and a test."""
    repo = root / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "README.md").write_text("tiny ✓\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "initial"], check=True)
    return repo


def open_backend(kind: str, repo: Path | None, network: bool = False, **limits: float) -> Sandbox:
    plain = kind == "local-plain"
    if plain:
        os.environ["AGENTS_SANDBOX_NO_BWRAP"] = "1"
    try:
        return open_sandbox(
            "local" if plain else kind,
            ENV,
            repo_dir=repo,
            network=network,
            limits=Limits(**limits),
        )
    finally:
        if plain:
            del os.environ["AGENTS_SANDBOX_NO_BWRAP"]


def host_processes_matching(needle: bytes) -> list[int]:
    """Pids on the host (containers included) whose command line contains `needle`."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    if needle in handle.read():
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def labelled_containers(pid: int | None = None) -> list[str]:
    """Sandbox containers owned by `pid` (default: this test process)."""
    from sandboxes import engine

    label = f"{engine.PID_LABEL}={pid or os.getpid()}"
    return [c.name for c in engine.client().containers.list(all=True, filters={"label": label})]


# A process in a session of its own, left running when the command returns (once it is up;
# its command line names the marker from the start): what a sandbox must still kill.
DETACH = (
    "setsid python -c 'import sys, time; open(sys.argv[1], \"w\").close(); time.sleep(300)' "
    "detached-{marker} >/dev/null 2>&1 </dev/null & "
    "for i in $(seq 100); do [ -e detached-{marker} ] && break; sleep 0.1; done"
)


def marker() -> str:
    """A number no other process on the host has on its command line."""
    return str(900_000 + secrets.randbelow(99_999))


def kill_matching(needle: bytes) -> None:
    """Clean up after a probe: kill host processes whose command line contains `needle`."""
    for pid in host_processes_matching(needle):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
