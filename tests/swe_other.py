"""A SWE-bench-format dataset of a user's own, from real PyPI sdists that swe-mini does not
bundle (six 1.16.0, toml 0.10.2; pruned copies in tests/data/swe_other/): git mirrors in
the `--repos-dir` layout, instances (JSONL), a `--specs` file (YAML, SWE-bench's
MAP_REPO_VERSION_TO_SPECS shape), and gold / empty / wrong predictions.

    python tests/swe_other.py DIR     # then, e.g.
    agents eval swe-bench -d DIR/data.jsonl --specs DIR/specs.yaml --repos-dir DIR/mirrors -p gold

Each instance is a bug put back into the released code (the sdist is the fixed tree) with
new tests; FAIL_TO_PASS / PASS_TO_PASS are set by construction and checked by
`agents eval swe-bench --validate`.
"""

from __future__ import annotations

import json
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SDISTS = HERE / "data" / "swe_other"
if str(HERE.parent) not in sys.path:  # run as a script: the project's packages
    sys.path.insert(0, str(HERE.parent))

from benchmarks.swe_bench.repos import commit_tree, git  # noqa: E402

PYTEST_CMD = "python -m pytest -rA -p no:cacheprovider"
SPECS_YAML = f"""\
# Environments for the example's repositories, keyed by repo then version.
benjaminp/six:
  "1.16.0":
    python: "3"
    pip_packages: ["pytest==8.3.5"]
    test_cmd: "{PYTEST_CMD}"
uiri/toml:
  "0.10.2":
    python: "3"
    pip_packages:
      - pytest==8.3.5
    test_cmd: "{PYTEST_CMD}"
    log_parser: parse_log_pytest
"""


@dataclass(frozen=True)
class Case:
    instance_id: str
    repo: str
    sdist: str  # file in tests/data/swe_other (its top directory is the tree)
    version: str
    file: str  # the source file the bug is in
    fixed: str  # text of the released (fixed) code, exactly once in `file`
    buggy: str  # what the bug puts there
    wrong: str  # a plausible wrong fix (replaces `buggy`)
    test_file: str
    tests: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    problem: str


_TOML_CTX = "        if len(n) > 1 and n[0] == '0' and n[1] != '.':\n            return False\n"

CASES = (
    Case(
        "benjaminp__six-1", "benjaminp/six", "six-1.16.0", "1.16.0", "six.py",
        fixed="    if isinstance(s, text_type):\n        return s.encode(encoding, errors)\n",
        buggy="    if isinstance(s, text_type):\n        return s.encode(encoding)\n",
        wrong="    if isinstance(s, text_type):\n        return s.encode(encoding, 'replace')\n",
        test_file="test_ensure_binary.py",
        tests='import six\n\n\ndef test_errors_argument():\n'
        '    assert six.ensure_binary(u"\\udcff", errors="surrogateescape") == b"\\xff"\n\n\n'
        'def test_text():\n    assert six.ensure_binary(u"abc") == b"abc"\n\n\n'
        'def test_bytes():\n    assert six.ensure_binary(b"abc") == b"abc"\n',
        fail_to_pass=("test_ensure_binary.py::test_errors_argument",),
        pass_to_pass=("test_ensure_binary.py::test_text", "test_ensure_binary.py::test_bytes"),
        problem="six.ensure_binary ignores its `errors` argument: "
        "ensure_binary('\\udcff', errors='surrogateescape') raises UnicodeEncodeError "
        "instead of returning b'\\xff'.",
    ),
    Case(
        "benjaminp__six-2", "benjaminp/six", "six-1.16.0", "1.16.0", "six.py",
        fixed="    if isinstance(s, binary_type):\n        return s.decode(encoding, errors)\n"
        "    elif isinstance(s, text_type):\n        return s\n",
        buggy="    if isinstance(s, binary_type):\n        return s.decode(encoding)\n"
        "    elif isinstance(s, text_type):\n        return s\n",
        wrong="    if isinstance(s, binary_type):\n        return s.decode('latin-1', errors)\n"
        "    elif isinstance(s, text_type):\n        return s\n",
        test_file="test_ensure_text.py",
        tests='import six\n\n\ndef test_errors_argument():\n'
        '    assert six.ensure_text(b"a\\xff", errors="ignore") == u"a"\n\n\n'
        'def test_utf8():\n    assert six.ensure_text(b"caf\\xc3\\xa9") == u"caf\\xe9"\n',
        fail_to_pass=("test_ensure_text.py::test_errors_argument",),
        pass_to_pass=("test_ensure_text.py::test_utf8",),
        problem="six.ensure_text(b'a\\xff', errors='ignore') raises UnicodeDecodeError: the "
        "`errors` argument is not passed on when decoding bytes.",
    ),
    Case(
        "uiri__toml-1", "uiri/toml", "toml-0.10.2", "0.10.2", "toml/encoder.py",
        fixed="            bool: lambda v: unicode(v).lower(),\n",
        buggy="            bool: lambda v: unicode(v),\n",
        wrong="            bool: lambda v: unicode(v).upper(),\n",
        test_file="tests/test_dump_bool.py",
        tests='import toml\n\n\ndef test_true():\n    assert toml.dumps({"a": True}) == "a = true\\n"\n'
        '\n\ndef test_false():\n    assert toml.dumps({"a": False}) == "a = false\\n"\n\n\n'
        'def test_int():\n    assert toml.dumps({"a": 1}) == "a = 1\\n"\n',
        fail_to_pass=("tests/test_dump_bool.py::test_true", "tests/test_dump_bool.py::test_false"),
        pass_to_pass=("tests/test_dump_bool.py::test_int",),
        problem="toml.dumps writes booleans as `True`/`False`, which is not TOML "
        "(`true`/`false`); toml.loads cannot read its own output back.",
    ),
    Case(
        "uiri__toml-2", "uiri/toml", "toml-0.10.2", "0.10.2", "toml/decoder.py",
        fixed=f"{_TOML_CTX}    if '__' in n:\n        return False\n    return True\n",
        buggy=f"{_TOML_CTX}    return True\n",
        wrong=f"{_TOML_CTX}    if '_' in n:\n        return False\n    return True\n",
        test_file="tests/test_underscores.py",
        tests="import pytest\nimport toml\n\n\ndef test_double_underscore_rejected():\n"
        "    with pytest.raises(toml.TomlDecodeError):\n        toml.loads('a = 1__000')\n\n\n"
        "def test_single_underscores():\n    assert toml.loads('a = 1_000')['a'] == 1000\n",
        fail_to_pass=("tests/test_underscores.py::test_double_underscore_rejected",),
        pass_to_pass=("tests/test_underscores.py::test_single_underscores",),
        problem="toml.loads('a = 1__000') returns 1000; TOML allows one underscore between "
        "digits only, so it must raise TomlDecodeError.",
    ),
)  # fmt: skip


def _tree(case: Case, work: Path) -> Path:
    dest = work / case.sdist
    if not dest.exists():
        with tarfile.open(SDISTS / f"{case.sdist}.tar.gz") as tar:
            tar.extractall(work, filter="data")
    return dest


def _replace(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{path}: expected text found {text.count(old)} times")
    file.write_text(text.replace(old, new))


def build(out: Path) -> dict[str, Path]:
    """Write OUT/mirrors/<owner>__<name> (one branch per instance), OUT/data.jsonl,
    OUT/specs.yaml and OUT/{gold,empty,wrong}.jsonl; returns those paths by name."""
    out.mkdir(parents=True, exist_ok=True)
    mirrors = out / "mirrors"
    rows, wrong = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            fixed = _tree(case, Path(tmp) / "sdists")
            work = Path(tmp) / case.instance_id
            shutil.copytree(fixed, work)
            _replace(work, case.file, case.fixed, case.buggy)
            base = commit_tree(work, f"{case.repo} {case.version} ({case.instance_id})")
            _replace(work, case.file, case.buggy, case.fixed)
            patch = git(work, "diff")
            git(work, "checkout", "-q", "--", ".")
            (work / case.test_file).write_text(case.tests)
            git(work, "add", "-N", case.test_file)
            test_patch = git(work, "diff")
            git(work, "reset", "-q")
            (work / case.test_file).unlink()
            _replace(work, case.file, case.buggy, case.wrong)
            wrong_patch = git(work, "diff")
            git(work, "checkout", "-q", "--", ".")
            mirror = mirrors / case.repo.replace("/", "__")
            if not mirror.exists():
                mirror.mkdir(parents=True)
                git(mirror, "init", "-q")
            git(mirror, "fetch", "-q", str(work), f"HEAD:refs/heads/{case.instance_id}")
            rows.append(
                {
                    "repo": case.repo,
                    "instance_id": case.instance_id,
                    "base_commit": base,
                    "patch": patch,
                    "test_patch": test_patch,
                    "problem_statement": case.problem,
                    "hints_text": "",
                    "created_at": "2024-01-01T00:00:00Z",
                    "version": case.version,
                    "FAIL_TO_PASS": json.dumps(list(case.fail_to_pass)),
                    "PASS_TO_PASS": json.dumps(list(case.pass_to_pass)),
                    "environment_setup_commit": base,
                }
            )
            wrong.append(wrong_patch)
    paths = {
        "data": out / "data.jsonl",
        "specs": out / "specs.yaml",
        "mirrors": mirrors,
        "gold": out / "gold.jsonl",
        "empty": out / "empty.jsonl",
        "wrong": out / "wrong.jsonl",
    }
    paths["data"].write_text("".join(json.dumps(r) + "\n" for r in rows))
    paths["specs"].write_text(SPECS_YAML)
    for name, patches in (
        ("gold", [r["patch"] for r in rows]),
        ("empty", [""] * len(rows)),
        ("wrong", wrong),
    ):
        paths[name].write_text(
            "".join(
                json.dumps(
                    {"instance_id": r["instance_id"], "model_name_or_path": name, "model_patch": p}
                )
                + "\n"
                for r, p in zip(rows, patches, strict=True)
            )
        )
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: python {Path(__file__).name} OUTPUT_DIR")
    for name, path in build(Path(sys.argv[1])).items():
        print(f"{name}: {path}")
