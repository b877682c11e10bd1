"""Shared test setup: each test gets its own response cache; converted model
weights are shared across tests (converting SmolLM2 takes ~20 s)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_MODELS = Path(
    os.environ.get("AGENTS_MODELS_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agents-search" / "models"
)


@pytest.fixture(autouse=True)
def _isolated_llm_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_CACHE_DIR", str(tmp_path / "agents-cache"))
    monkeypatch.setenv("AGENTS_MODELS_DIR", str(SHARED_MODELS))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "AGENTS_PRICES"):
        monkeypatch.delenv(var, raising=False)
    from agents.llm.usage import GLOBAL_METER

    GLOBAL_METER.reset()


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for the test (`pytestmark = pytest.mark.usefixtures(...)`): a
    tiny model gains nothing from threads, and loses much when the CPU is shared."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
