"""AppWorld's own environment: a venv with the `appworld` package, unpacked, and the data every
task world stands on. Built once per machine (cached by version and interpreter) and shared.

`appworld` needs Python >= 3.11 and pins web libraries older than the project's (fastapi
0.110, httpx < 0.28, pydantic 1), so it cannot live in the project's venv: it gets its own,
built from the host's Python, and we talk to processes running in it (`_server.py`,
`_worker.py`). Layout under `$AGENTS_SEARCH_CACHE/appworld/<hash>/`:

    venv/          python -m venv; pip install appworld==VERSION; appworld install (offline)
    data/          base_dbs/ (every app's empty schema, the API docs), api_docs/, tasks/<id>/
    truth/         per task: answer, checks, data for the checks (mode 0700: not the agent's)
    home/          $APPWORLD_CACHE (`appworld install` unpacks its tests there)
    build.log      every build step's output
    .complete      written last: a build that died half-way is removed and redone

The official task data (`appworld download data`) needs the internet and is not used: task
worlds are built from the package's own factories (see `AppWorldTask`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sandboxes.base import BuildError, DiskFullError
from sandboxes.cache import build_lock, cache_dir, low_on_space
from sandboxes.spec import EnvSpec
from sandboxes.venvs import host_python

log = logging.getLogger(__name__)

APPWORLD_VERSION = "0.1.3.post1"
# Bump when the layout or the base data changes, so old builds are not reused.
INSTALL_FORMAT = 1
PYTHONS = ("3.11", "3.12")  # appworld needs >= 3.11; 3.11 is the version it is tested on
PYTHON_ENV = "AGENTS_APPWORLD_PYTHON"  # an interpreter to build from instead
_MARKER = ".complete"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Installation:
    """A complete AppWorld environment (see the module docstring for the layout)."""

    root: Path

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    @property
    def log(self) -> Path:
        return self.root / "build.log"

    def env(self) -> dict[str, str]:
        """The environment of a trusted process in the venv (build steps, the worker)."""
        return {
            "PATH": f"{self.venv}/bin:/usr/local/bin:/usr/bin:/bin",
            "VIRTUAL_ENV": str(self.venv),
            "HOME": os.environ.get("HOME") or str(self.root / "home"),  # pip's user config
            "APPWORLD_ROOT": str(self.root),
            "APPWORLD_CACHE": str(self.root / "home" / ".appworld"),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            **{k: v for k, v in os.environ.items() if k in _PASS_ENV},
        }


# The build reaches PyPI through the host's settings (proxies, CA bundle, pip config).
_PASS_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_CONFIG_FILE",
    "PIP_DISABLE_PIP_VERSION_CHECK",
)


def appworld_python() -> str:
    """The host interpreter (>= 3.11) the venv is built from: $AGENTS_APPWORLD_PYTHON, else
    python3.11, else python3.12 (the system's first when running as root)."""
    chosen = os.environ.get(PYTHON_ENV)
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise BuildError(f"{PYTHON_ENV}={chosen} is not an executable interpreter")
        return chosen
    for version in PYTHONS:
        with contextlib.suppress(BuildError):
            return host_python(EnvSpec(python=version))
    raise BuildError(
        "AppWorld needs Python >= 3.11 and this machine has neither python3.11 nor python3.12 "
        f"(install one, or point {PYTHON_ENV} at one)"
    )


def install_path(python: str | None = None) -> Path:
    python = os.path.realpath(python or appworld_python())
    key = json.dumps([APPWORLD_VERSION, python, INSTALL_FORMAT])
    return cache_dir() / "appworld" / hashlib.sha256(key.encode()).hexdigest()[:16]


def ensure_appworld() -> Installation:
    """The AppWorld installation, built on first use (a few minutes; progress on stderr)."""
    python = appworld_python()
    path = install_path(python)
    if (path / _MARKER).exists():
        return Installation(path)
    with build_lock(f"appworld-{path.name}"):
        if not (path / _MARKER).exists():
            _build(python, Installation(path))
    return Installation(path)


def _progress(message: str) -> None:
    """A progress line: through logging when it is set up to show it, else on stderr."""
    if log.hasHandlers() and log.isEnabledFor(logging.INFO):
        log.info("%s", message)
    else:
        print(f"appworld: {message}", file=sys.stderr, flush=True)


def _build(python: str, inst: Installation) -> None:
    started = time.monotonic()
    shutil.rmtree(inst.root, ignore_errors=True)
    try:
        inst.root.mkdir(parents=True, mode=0o755)
        (inst.root / "home").mkdir()
        inst.data.mkdir(mode=0o755)
        inst.truth.mkdir(mode=0o700)
    except OSError as exc:
        raise _disk_or_build(inst, f"cannot create {inst.root}: {exc.strerror}") from exc
    _progress(f"building AppWorld {APPWORLD_VERSION}'s environment in {inst.root} (once; ~1-3 min)")
    _progress(f"log: {inst.log}")
    pip = [str(inst.python), "-m", "pip", "install", "--progress-bar", "off"]
    steps = [
        ("creating the venv", [python, "-m", "venv", str(inst.venv)]),
        (f"pip install appworld=={APPWORLD_VERSION}", [*pip, f"appworld=={APPWORLD_VERSION}"]),
        ("appworld install (unpacks the apps)", [str(inst.venv / "bin" / "appworld"), "install"]),
        ("checking the apps import", [str(inst.python), "-c", "import appworld.apps.spotify.apis"]),
        (
            "building the base databases and API docs",
            [str(inst.python), str(HERE / "_worker.py"), "build-base"],
        ),
    ]
    for number, (what, argv) in enumerate(steps, 1):
        _progress(f"[{number}/{len(steps)}] {what}")
        _run_step(inst, what, argv)
    try:
        (inst.root / _MARKER).write_text(f"appworld=={APPWORLD_VERSION} python={python}\n")
    except OSError as exc:
        raise _disk_or_build(inst, f"cannot finish {inst.root}: {exc.strerror}") from exc
    _progress(f"ready in {time.monotonic() - started:.0f}s")


def _run_step(inst: Installation, what: str, argv: list[str]) -> None:
    with open(inst.log, "a") as log_file:
        log_file.write(f"\n$ {' '.join(argv)}\n")
        log_file.flush()
        try:
            proc = subprocess.run(
                argv,
                env=inst.env(),
                cwd=str(inst.root),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=1800,
            )
            code: int | str = proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout after 1800 s"
        except OSError as exc:
            code = f"could not run: {exc.strerror}"
    if code != 0:
        raise _disk_or_build(inst, f"building the AppWorld environment failed at `{what}` ({code})")


def _disk_or_build(inst: Installation, message: str) -> BuildError | DiskFullError:
    """The error for a failed step; the half-built tree is removed, its log kept beside it."""
    tail = ""
    with contextlib.suppress(OSError):
        lines = inst.log.read_text(errors="replace").strip().splitlines()
        tail = " | ".join(lines[-3:])[-400:]
    kept = inst.root.with_name(inst.root.name + ".failed.log")
    with contextlib.suppress(OSError):
        shutil.copyfile(inst.log, kept)
    shutil.rmtree(inst.root, ignore_errors=True)
    if "No space left on device" in tail or low_on_space(inst.root.parent):
        return DiskFullError(f"no space left on device while building AppWorld in {inst.root}")
    where = f"; log: {kept}" if kept.exists() else ""
    return BuildError(f"{message}: {tail}{where}" if tail else f"{message}{where}")
