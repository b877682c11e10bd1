"""The parts of the official `swebench` package we reuse: log parsers, grading, constants.

`swebench/harness/__init__.py` imports its Docker runner, its Modal runner and
Hugging Face `datasets` eagerly; we install swebench without those dependencies
(they weigh hundreds of MB) and load only the pure modules below: grading,
constants, log parsers, types. They need nothing beyond `unidiff`.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any


def _harness_module(name: str) -> Any:
    if "swebench.harness" not in sys.modules:
        try:
            import swebench
        except ImportError as exc:  # pragma: no cover - a broken install
            from foundation.errors import UserError

            raise UserError(
                "the swebench package is missing: pip install --no-deps 'swebench==5.0.2' unidiff"
            ) from exc
        # A bare package object: submodules import from its directory, its __init__ is skipped.
        pkg = types.ModuleType("swebench.harness")
        pkg.__path__ = [str(Path(swebench.__file__).parent / "harness")]
        sys.modules["swebench.harness"] = pkg
    return importlib.import_module(f"swebench.harness.{name}")


constants = _harness_module("constants")
grading = _harness_module("grading")
infra_failure = _harness_module("infra_failure")
log_parsers = _harness_module("log_parsers")
TestSpec = importlib.import_module("swebench.types").TestSpec
SWEBENCH_VERSION = importlib.import_module("swebench").__version__
