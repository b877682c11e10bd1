"""Resource limits shared by every backend: what one sandbox may consume."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-sandbox limits. Docker enforces them with cgroups; the local backend with rlimits.

    `timeout` is the default per-command timeout in seconds (`exec(timeout=...)` overrides it).
    `output_bytes` is how much of each stream is kept: half from the head, half from the tail.
    """

    memory_mb: int = 2048
    cpus: float = 1.0
    pids: int = 256
    timeout: float = 600.0
    output_bytes: int = 1 << 20
    file_size_mb: int = 1024
