"""Local environments: one venv per `EnvSpec`, built with the host's Python, cached by hash.

Unlike Docker builds, local builds use the host's pip configuration (its index, wheels and
CA bundle are visible here). A venv is usable once its `.complete` marker exists; a build
that died half-way is removed and redone.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sandboxes.base import BuildError, DiskFullError
from sandboxes.cache import build_lock, cache_dir, low_on_space
from sandboxes.spec import EnvSpec

log = logging.getLogger(__name__)
_MARKER = ".complete"


def host_python(spec: EnvSpec) -> str:
    """The interpreter a local venv for `spec` is built from.

    As root, commands run as an unprivileged uid, so prefer the system Python (readable by everyone)
    over one installed under root's home (pyenv, conda).
    """
    version = "" if spec.python in ("", "3") else spec.python
    candidates = [f"/usr/bin/python{version or 3}"] if os.geteuid() == 0 else []
    if not version or version == f"{sys.version_info.major}.{sys.version_info.minor}":
        candidates.append(getattr(sys, "_base_executable", sys.executable))
    candidates.append(shutil.which(f"python{version or 3}") or "")
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BuildError(f"no python{version or 3} on this machine for a local environment")


def venv_path(spec: EnvSpec) -> Path:
    python = host_python(spec)
    return cache_dir() / "envs" / spec.digest(salt=f"local:{os.path.realpath(python)}")


def ensure_venv(spec: EnvSpec) -> Path:
    """The path of `spec`'s venv, building it only when missing."""
    path = venv_path(spec)
    if (path / _MARKER).exists():
        return path
    with build_lock(f"venv-{path.name}"):
        if not (path / _MARKER).exists():
            _build(spec, path)
    return path


def _build(spec: EnvSpec, path: Path) -> None:
    started = time.monotonic()
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PATH=f"{path}/bin:{os.environ.get('PATH', '/usr/bin:/bin')}")
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(path)
    steps = [[host_python(spec), "-m", "venv", str(path)]]
    if spec.pip_packages:
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", "--progress-bar", "off"]
        steps.append([*pip, *spec.pip_packages])
    steps.extend(["bash", "-ec", command] for command in spec.setup_commands)
    for step in steps:
        try:
            proc = subprocess.run(
                step, env=env, cwd=str(path.parent), capture_output=True, text=True
            )
        except OSError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise BuildError(f"could not run `{step[0]}`: {exc}") from exc
        if proc.returncode != 0:
            shutil.rmtree(path, ignore_errors=True)
            text = proc.stdout + proc.stderr
            if "No space left on device" in text or low_on_space(path.parent):
                raise DiskFullError(f"no space left on device while building the venv at {path}")
            tail = " | ".join(text.strip().splitlines()[-6:])
            raise BuildError(
                f"building the local environment failed at `{' '.join(step)}`: {tail[-800:]}"
            )
    try:
        (path / _MARKER).write_text(repr(spec) + "\n")
    except OSError as exc:
        shutil.rmtree(path, ignore_errors=True)
        raise DiskFullError(f"cannot finish the venv at {path}: {exc.strerror}") from exc
    log.info("built venv %s in %.0fs", path, time.monotonic() - started)
