"""`agents eval swe-bench --strict`: a patch that makes the tests pass by changing how
they run (conftest.py, pytest config, the test files) is tampered, not resolved. Without
--strict the official harness's verdict stands (it grades such a patch resolved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.swe_bench import RunConfig, RunPaths, evaluate, load_dataset
from benchmarks.swe_bench.tampering import tampering, touched_files

FORCE_PASS = """\
diff --git a/conftest.py b/conftest.py
new file mode 100644
--- /dev/null
+++ b/conftest.py
@@ -0,0 +1,8 @@
+import pytest
+
+
+@pytest.hookimpl(hookwrapper=True)
+def pytest_runtest_makereport(item, call):
+    outcome = yield
+    report = outcome.get_result()
+    report.outcome = "passed"
"""
SOURCE_EDIT = """\
diff --git a/src/pkg/core.py b/src/pkg/core.py
--- a/src/pkg/core.py
+++ b/src/pkg/core.py
@@ -1,2 +1,2 @@
-x = 1
+x = 2
 y = 2
"""
TEST_PATCH = """\
diff --git a/tests/test_core.py b/tests/test_core.py
--- a/tests/test_core.py
+++ b/tests/test_core.py
@@ -1 +1,2 @@
 import pkg
+assert pkg
"""


def edit(path: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.mark.parametrize(
    ("patch", "before", "after", "expected"),
    [
        (FORCE_PASS, {}, {"conftest.py": "..."}, "conftest.py: runs before the tests"),
        (edit("tests/sub/conftest.py"), {}, {}, "tests/sub/conftest.py"),
        (edit("lib/sitecustomize.py"), {}, {}, "lib/sitecustomize.py"),
        (edit("tests/test_core.py"), {}, {}, "tests/test_core.py: a file of the test patch"),
        (
            "diff --git a/helper.py b/conftest.py\nsimilarity index 100%\n"
            "rename from helper.py\nrename to conftest.py\n",
            {}, {}, "conftest.py: runs before",
        ),
        (
            edit("setup.cfg"),
            {"setup.cfg": "[tool:pytest]\naddopts = -q\n"},
            {"setup.cfg": "[tool:pytest]\naddopts = -q -k 'not test_lru'\n"},
            "setup.cfg: changes the pytest configuration",
        ),
        (
            edit("pyproject.toml"),
            {"pyproject.toml": "[tool.black]\nline-length = 88\n"},
            {"pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-p no:x"\n'},
            "pyproject.toml: changes the pytest configuration",
        ),
        (
            edit("pytest.ini"),
            {},
            {"pytest.ini": "[pytest]\naddopts = --deselect tests/test_core.py\n"},
            "pytest.ini: changes the pytest configuration",
        ),
        (
            edit("tox.ini"),
            {"tox.ini": "[tox]\nenvlist = py\n"},
            {"tox.ini": "[tox]\nenvlist = py\n[pytest\n"},  # unparsable: any change counts
            "tox.ini: changes the pytest configuration",
        ),
    ],
)  # fmt: skip
def test_patches_that_touch_test_infrastructure_are_flagged(
    patch: str, before: dict[str, str], after: dict[str, str], expected: str
) -> None:
    reasons = tampering(patch, TEST_PATCH, before.get, after.get)
    assert any(r.startswith(expected) for r in reasons), reasons


@pytest.mark.parametrize(
    ("patch", "before", "after"),
    [
        (SOURCE_EDIT, {}, {}),
        (
            edit("setup.cfg"),
            {"setup.cfg": "[metadata]\nname = x\n[tool:pytest]\naddopts = -q\n"},
            {"setup.cfg": "[metadata]\nname = y\n[tool:pytest]\naddopts = -q\n"},
        ),
        (
            edit("pyproject.toml"),
            {"pyproject.toml": "[tool.black]\nline-length = 88\n"},
            {"pyproject.toml": "[tool.black]\nline-length = 100\n"},
        ),
        ("this is not a diff at all\n--- nothing\n", {}, {}),
        ("diff --git a/x.py b/x.py\n@@ garbage", {}, {}),
    ],
)
def test_ordinary_and_malformed_patches_are_clean(
    patch: str, before: dict[str, str], after: dict[str, str]
) -> None:
    assert tampering(patch, TEST_PATCH, before.get, after.get) == []


def test_a_removed_line_that_looks_like_a_header_names_no_file() -> None:
    sql = "diff --git a/q.sql b/q.sql\n--- a/q.sql\n+++ b/q.sql\n@@ -1,2 +1 @@\n--- note\n x\n"
    assert touched_files(sql) == ["q.sql"]


def test_strict_grades_a_forced_pass_conftest_as_tampered(tmp_path: Path) -> None:
    inst = load_dataset("swe-mini", ["tkem__cachetools-1"])
    preds = {"tkem__cachetools-1": {
        "instance_id": "tkem__cachetools-1", "model_name_or_path": "cheat",
        "model_patch": FORCE_PASS,
    }}  # fmt: skip
    paths = RunPaths(tmp_path, "r", "cheat")
    official = evaluate(inst, preds, paths, RunConfig(sandbox="local"))
    # The inherited hole: the official verdict is "resolved".
    assert official["resolved_ids"] == ["tkem__cachetools-1"] and official["tampered_ids"] == []
    strict = evaluate(inst, preds, paths, RunConfig(sandbox="local", strict=True))
    assert strict["resolved_ids"] == [] and strict["error_ids"] == ["tkem__cachetools-1"]
    assert strict["tampered_ids"] == ["tkem__cachetools-1"]
    assert strict["error_reasons"]["tkem__cachetools-1"].startswith("tampered: conftest.py")
    rows = [json.loads(r) for r in paths.results.read_text().splitlines()]
    assert [r["strict"] for r in rows] == [False, True]  # --strict regraded, not skipped
    # The gold patch is clean under --strict too.
    gold = {"tkem__cachetools-1": {**preds["tkem__cachetools-1"], "model_patch": inst[0]["patch"]}}
    clean = evaluate(inst, gold, RunPaths(tmp_path, "g", "cheat"), RunConfig("local", strict=True))
    assert clean["resolved_ids"] == ["tkem__cachetools-1"]
