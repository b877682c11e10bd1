"""The house's layers (pyproject's import-linter contracts) hold, and they can fail: a copy
of the tree with one planted wrong-way import is reported broken, naming the import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("foundation", "search", "agents", "sandboxes", "games", "benchmarks")
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )


def _copy(tmp: Path) -> Path:
    dst = tmp / "tree"
    for pkg in PACKAGES:
        shutil.copytree(
            ROOT / pkg, dst / pkg, ignore=shutil.ignore_patterns("__pycache__", "data", "*.gz")
        )
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    return dst


@pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (dev extra)")
@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("search/tree.py", "import agents.llm", "Layers"),
        ("search/tree.py", "import numpy", "Pure search core"),
        ("sandboxes/base.py", "import agents.llm", "Layers"),
        ("foundation/jsonl.py", "import search", "Layers"),
        ("agents/llm/types.py", "import sandboxes", "Layers"),  # independent siblings
        ("games/bots.py", "import agents.graphs", "Layers"),  # independent siblings
        ("agents/swe/env.py", "import benchmarks.tasks", "Layers"),
    ],
)
def test_a_wrong_way_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = _copy(tmp_path)
    path = tree / module
    text = path.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "\n" + rest)
    out = _lint(tree)
    assert out.returncode != 0, out.stdout
    dotted = module.removesuffix(".py").replace("/", ".")
    target = line.split()[1]
    assert f"{dotted} -> {target}" in out.stdout, out.stdout[-3000:]
    assert f"{contract} BROKEN" in " ".join(out.stdout.split()), out.stdout[-3000:]


@pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (dev extra)")
def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    out = _lint(_copy(tmp_path))
    assert out.returncode == 0, out.stdout[-3000:]
    assert "0 broken" in out.stdout
