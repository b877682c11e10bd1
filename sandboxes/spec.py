"""`EnvSpec`: what an environment installs; its hash names the cached image or venv."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

# Bump when the way environments are built changes, so old caches are not reused.
BUILD_FORMAT = 1


@dataclass(frozen=True)
class EnvSpec:
    """A Python environment: packages pip installs, then shell commands run once at build.

    Builds have network access (PyPI); sandboxes do not, unless opened with network=True.
    `setup_commands` run with the environment's venv first on PATH, in /tmp, as root (Docker)
    or as the current user (local). The repository is not present at build time.
    """

    python: str = "3"
    pip_packages: tuple[str, ...] = ()
    setup_commands: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists for convenience; store tuples so the spec stays hashable.
        object.__setattr__(self, "pip_packages", tuple(self.pip_packages))
        object.__setattr__(self, "setup_commands", tuple(self.setup_commands))

    def digest(self, salt: str = "") -> str:
        """A stable 16-hex-digit hash of the spec (and `salt`: the base it is built on)."""
        payload = json.dumps(
            {"spec": asdict(self), "salt": salt, "format": BUILD_FORMAT}, sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
