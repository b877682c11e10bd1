"""`--strict` tampering detection: a model patch that changes how the tests run (a
conftest.py, pytest's configuration, the tests or their directory, a module shadowing the
runner) is named with the file; a patch that only fixes the source is clean."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.swe_bench.tamper import tampering, touched_files

Files = dict[str, str]

TEST_PATCH = """\
diff --git a/tests/test_core.py b/tests/test_core.py
index 3b18e51..a9c1f2d 100644
--- a/tests/test_core.py
+++ b/tests/test_core.py
@@ -1,5 +1,9 @@
 from pkg.core import add
\x20
\x20
 def test_add():
     assert add(1, 2) == 3
+
+
+def test_add_negative():
+    assert add(-1, -2) == -3
"""
SOURCE_EDIT = """\
diff --git a/src/pkg/core.py b/src/pkg/core.py
index 8d1c2a0..f3e4b51 100644
--- a/src/pkg/core.py
+++ b/src/pkg/core.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return abs(a) + abs(b)
+    return a + b
"""
MAKEREPORT = """\
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
"""
DESELECT = """\
def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker("skip")
"""


def _numbered(text: str, mark: str) -> list[str]:
    return [mark + line for line in text.splitlines()]


def new_file(path: str, text: str, mode: str = "100644") -> str:
    lines = _numbered(text, "+")
    return "\n".join(
        [
            f"diff --git a/{path} b/{path}",
            f"new file mode {mode}",
            "index 0000000..1e2f3a4",
            "--- /dev/null",
            f"+++ b/{path}",
            f"@@ -0,0 +1,{len(lines)} @@",
            *lines,
            "",
        ]
    )


def deleted_file(path: str, text: str) -> str:
    lines = _numbered(text, "-")
    return "\n".join(
        [
            f"diff --git a/{path} b/{path}",
            "deleted file mode 100644",
            "index 1e2f3a4..0000000",
            f"--- a/{path}",
            "+++ /dev/null",
            f"@@ -1,{len(lines)} +0,0 @@",
            *lines,
            "",
        ]
    )


def edit(path: str, old: str, new: str, prefix: tuple[str, str] = ("a/", "b/")) -> str:
    """A one-hunk git diff replacing the whole text `old` by `new`."""
    removed, added = _numbered(old, "-"), _numbered(new, "+")
    return "\n".join(
        [
            f"diff --git {prefix[0]}{path} {prefix[1]}{path}",
            "index 5d3e2b1..9a8c7f6 100644",
            f"--- {prefix[0]}{path}",
            f"+++ {prefix[1]}{path}",
            f"@@ -1,{len(removed)} +1,{len(added)} @@",
            *removed,
            *added,
            "",
        ]
    )


def rename(old: str, new: str, verb: str = "rename") -> str:
    return (
        f"diff --git a/{old} b/{new}\nsimilarity index 100%\n{verb} from {old}\n{verb} to {new}\n"
    )


def check(patch: str, before: Files | None = None, after: Files | None = None) -> list[str]:
    return tampering(patch, TEST_PATCH, (before or {}).get, (after or {}).get)


def flagged(reasons: list[str], path: str, why: str = "") -> bool:
    return any(r.startswith(f"{path}: {why}") for r in reasons)


# --- conftest.py, site hooks --------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        (new_file("conftest.py", MAKEREPORT), "conftest.py"),
        (new_file("tests/sub/conftest.py", DESELECT), "tests/sub/conftest.py"),
        (edit("src/pkg/conftest.py", "import os", "import os\n" + DESELECT), "src/pkg/conftest.py"),
        (deleted_file("tests/conftest.py", "import pytest"), "tests/conftest.py"),
        (rename("tools/force.py", "conftest.py"), "conftest.py"),
        (rename("conftest.py", "docs/old_conftest.py"), "conftest.py"),
        (rename("tools/force.py", "tests/conftest.py", verb="copy"), "tests/conftest.py"),
        (new_file("src/sitecustomize.py", "import os"), "src/sitecustomize.py"),
        (new_file("usercustomize.py", "import os"), "usercustomize.py"),
        (
            "diff --git a/tests/__pycache__/conftest.cpython-311-pytest-8.3.5.pyc "
            "b/tests/__pycache__/conftest.cpython-311-pytest-8.3.5.pyc\n"
            "new file mode 100644\nindex 0000000..5b1a2c3\nGIT binary patch\nliteral 12\n"
            "zcmZ?wbhEHbRA5kGU|?YQ2lDu~0m7@F$N&HU\n\nliteral 0\nHcmV?d00001\n\n",
            "tests/__pycache__/conftest.cpython-311-pytest-8.3.5.pyc",
        ),
    ],
)
def test_files_that_run_before_the_tests_are_flagged(patch: str, path: str) -> None:
    reasons = check(SOURCE_EDIT + patch)
    assert flagged(reasons, path, "runs before the tests"), reasons
    assert len(reasons) == 1, reasons  # the source edit beside it is clean


# --- pytest configuration -----------------------------------------------------------------

SETUP_CFG = "[metadata]\nname = pkg\n\n[tool:pytest]\naddopts = -rA\ntestpaths = tests\n"
PYPROJECT = '[tool.black]\nline-length = 88\n\n[tool.pytest.ini_options]\naddopts = "-rA"\n'


def config_edit(path: str, old: str | None, new: str | None) -> tuple[str, Files, Files]:
    if old is None:
        patch = new_file(path, new or "")
    elif new is None:
        patch = deleted_file(path, old)
    else:
        patch = edit(path, old, new)
    return patch, {path: old} if old is not None else {}, {path: new} if new is not None else {}


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("setup.cfg", SETUP_CFG, SETUP_CFG.replace("-rA", "-rA -k 'not test_add_negative'")),
        ("setup.cfg", SETUP_CFG, SETUP_CFG.replace("[tool:pytest]", "[tool:pytest_off]")),
        ("setup.cfg", SETUP_CFG, SETUP_CFG.replace("addopts", "Addopts")),  # case matters
        ("setup.cfg", SETUP_CFG, None),  # deleted with its pytest section
        ("pyproject.toml", PYPROJECT, PYPROJECT.replace('"-rA"', '"-rA -p no:randomly -x"')),
        ("pyproject.toml", "[tool.black]\n", '[tool.black]\n[tool.pytest.ini_options]\nxfail_strict = false\n'),
        ("pyproject.toml", PYPROJECT, PYPROJECT + '[tool.pytest]\nminversion = "9.0"\n'),
        ("pytest.ini", None, "[pytest]\naddopts = --deselect tests/test_core.py::test_add_negative\n"),
        ("pytest.ini", None, "# an empty pytest.ini shadows setup.cfg's [tool:pytest]\n"),
        ("tests/tox.ini", None, "[pytest]\naddopts = -p tests.force\n"),  # nearer the tests
        ("tox.ini", "[tox]\nenvlist = py3\n", "[tox]\nenvlist = py3\n[pytest\n"),  # unparsable
        ("pyproject.toml", PYPROJECT, PYPROJECT + "[tool.broken\n"),  # unparsable
    ],
)  # fmt: skip
def test_changes_of_pytest_settings_are_flagged(
    path: str, old: str | None, new: str | None
) -> None:
    patch, before, after = config_edit(path, old, new)
    reasons = check(patch, before, after)
    assert reasons == [f"{path}: changes the pytest configuration"], reasons


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("setup.cfg", SETUP_CFG, SETUP_CFG.replace("name = pkg", "name = pkg2")),
        ("setup.cfg", SETUP_CFG, SETUP_CFG + "\n[flake8]\nmax-line-length = 100\n"),
        ("pyproject.toml", PYPROJECT, PYPROJECT.replace("88", "100")),
        ("pyproject.toml", PYPROJECT, PYPROJECT.replace('addopts = "-rA"', "addopts   =   '-rA'")),
        ("tox.ini", "[tox]\nenvlist = py3\n", "[tox]\nenvlist = py3,py312\n[testenv]\ndeps = pytest\n"),
        ("pytest.ini", "[pytest]\naddopts = -rA\n", "# run with -rA\n[pytest]\naddopts = -rA\n"),
        ("docs/setup.cfg", None, "[metadata]\nname = docs\n"),
    ],
)  # fmt: skip
def test_config_edits_outside_pytest_settings_are_clean(
    path: str, old: str | None, new: str | None
) -> None:
    patch, before, after = config_edit(path, old, new)
    assert check(patch, before, after) == []


def test_a_path_is_what_git_apply_writes_whatever_its_prefix() -> None:
    # `git apply` (and `patch -p1`) drop the first component: x/setup.cfg is setup.cfg.
    old, new = SETUP_CFG, SETUP_CFG.replace("-rA", "-rA --lf")
    patch = edit("setup.cfg", old, new, prefix=("x/", "y/"))
    reasons = check(patch, {"setup.cfg": old}, {"setup.cfg": new})
    assert reasons == ["setup.cfg: changes the pytest configuration"]


# --- the tests, their directory, the runner -----------------------------------------------


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (edit("tests/test_core.py", "    assert add(1, 2) == 3", "    pass"),
         "tests/test_core.py: a file of the test patch"),
        (deleted_file("tests/test_core.py", "def test_add():\n    pass"),
         "tests/test_core.py: a file of the test patch"),
        (new_file("tests/__init__.py", "from _pytest.reports import TestReport"),
         "tests/__init__.py: in tests/, the test directory of the test patch"),
        (edit("tests/helpers/util.py", "x = 1", "x = 2"),
         "tests/helpers/util.py: in tests/, the test directory"),
        (new_file("pytest.py", 'print("tests/test_core.py::test_add PASSED")'),
         "pytest.py: adds a module that shadows 'pytest'"),
        (new_file("src/_pytest/__init__.py", ""), "src/_pytest/__init__.py: adds a module that shadows '_pytest'"),
        (new_file("inspect.py", "from importlib import import_module"),
         "inspect.py: adds a module that shadows 'inspect'"),
    ],
)  # fmt: skip
def test_the_tests_their_directory_and_runner_shadows_are_flagged(
    patch: str, expected: str
) -> None:
    reasons = check(SOURCE_EDIT + patch)
    assert len(reasons) == 1 and reasons[0].startswith(expected), reasons


def test_a_quoted_path_is_unquoted_before_matching_the_test_patch() -> None:
    test_patch = edit("tests/tést_core.py", "a = 1", "a = 2")
    model = (
        'diff --git "a/tests/t\\303\\251st_core.py" "b/tests/t\\303\\251st_core.py"\n'
        'index 5d3e2b1..9a8c7f6 100644\n--- "a/tests/t\\303\\251st_core.py"\n'
        '+++ "b/tests/t\\303\\251st_core.py"\n@@ -1 +1 @@\n-a = 2\n+a = 3\n'
    )
    assert tampering(model, test_patch, {}.get, {}.get) == [
        "tests/tést_core.py: a file of the test patch"
    ]


def test_the_repositorys_own_runner_package_may_be_fixed() -> None:
    # pytest-dev/pytest: its gold patches edit src/_pytest, which exists at the base.
    patch = edit("src/_pytest/__init__.py", "x = 1", "x = 2") + edit(
        "src/_pytest/python.py", "a = 1", "a = 2"
    )
    base = {"src/_pytest/__init__.py": "x = 1\n", "src/_pytest/python.py": "a = 1\n"}
    assert check(patch, base, base) == []


def test_a_plain_source_edit_is_clean() -> None:
    reads: list[str] = []

    def read(path: str) -> str | None:
        reads.append(path)
        return None

    assert tampering(SOURCE_EDIT, TEST_PATCH, read, read) == []
    assert reads == []  # nothing to read for a source file


def test_gold_patches_are_clean_and_test_patches_are_not() -> None:
    from benchmarks.swe_bench import load_dataset

    for inst in load_dataset("swe-mini"):
        assert tampering(inst["patch"], inst["test_patch"], {}.get, {}.get) == [], inst
        as_model = tampering(inst["test_patch"], inst["test_patch"], {}.get, {}.get)
        assert as_model and all("a file of the test patch" in r for r in as_model), inst


# --- what the patch names -------------------------------------------------------------------

MALFORMED = [
    "",
    "this is not a diff at all\n--- nothing\n",
    "diff --git a/x.py b/x.py\n@@ garbage",
    "diff --git a/x.py\n",
    'diff --git "a/unterminated\\',
    "--- a/x.py\n+++ b/x.py\n@@ -1,99999999999999999999999 +1 @@\n-a\n",
    "@@ -1,3 +1,3 @@\n" + "-" * 10_000 + "\n",
    "--- \n+++ \n@@ -1 +1 @@\n",
    "diff --git a/x b/x\nGIT binary patch\nliteral 3\nKcmZ?wbhG\x00\x01\xff\n",
    "\r\n".join(
        ["diff --git a/x.py b/x.py", "--- a/x.py", "+++ b/x.py", "@@ -1 +1 @@", "-a", "+b"]
    ),
    "diff --git a/\udcff b/\udcff\n",
    "rename from\nrename to \ncopy from ..\nIndex: /\n",
]


@pytest.mark.parametrize("patch", MALFORMED)
def test_a_malformed_patch_does_not_raise(patch: str) -> None:
    reasons = tampering(patch, patch, {}.get, {}.get)
    assert isinstance(reasons, list) and all("\n" not in r for r in reasons)


def test_a_malformed_patch_still_names_its_conftest() -> None:
    # The hunk claims five lines and has two: unidiff gives up, the header lines remain
    # (and `patch --fuzz` is lenient).
    patch = (
        SOURCE_EDIT
        + "diff --git a/tests/conftest.py b/tests/conftest.py\n--- a/tests/conftest.py\n"
        + "+++ b/tests/conftest.py\n@@ -1,5 +1,5 @@\n-import os\n+import sys\n"
    )
    assert touched_files(patch) == ["src/pkg/core.py", "tests/conftest.py"]
    assert flagged(check(patch), "tests/conftest.py", "runs before the tests")
    # No git header, and malformed too: only the ---/+++ lines name the file.
    plain = "--- a/conftest.py\n+++ b/conftest.py\n@@ -1,3 +1,4 @@\n x = 1\n+y = 2\n"
    assert flagged(check(plain), "conftest.py", "runs before the tests")


def test_a_removed_line_that_looks_like_a_header_names_no_file() -> None:
    sql = (
        "diff --git a/q.sql b/q.sql\nindex 1..2 100644\n--- a/q.sql\n+++ b/q.sql\n"
        "@@ -1,2 +1,2 @@\n--- a/conftest.py\n+++ b/conftest.py\n select 1;\n"
    )
    assert touched_files(sql) == ["q.sql"]
    assert check(sql) == []


def test_a_path_with_a_newline_makes_a_one_line_reason() -> None:
    patch = 'diff --git "a/x\\n/conftest.py" "b/x\\n/conftest.py"\nnew file mode 100644\n'
    assert check(patch) == ["x\\n/conftest.py: runs before the tests (pytest plugin or site hook)"]
    # A file named "x<newline>conftest.py" is not a conftest.py.
    assert check(patch.replace("\\n/", "\\n")) == []


# --- real git diffs, read as the harness reads them -------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    files = {
        "setup.cfg": SETUP_CFG,
        "pyproject.toml": PYPROJECT,
        "src/pkg/__init__.py": "",
        "src/pkg/core.py": "def add(a, b):\n    return abs(a) + abs(b)\n",
        "tests/test_core.py": "from pkg.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        "tools/force.py": MAKEREPORT,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    return tmp_path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def grade(repo: Path) -> list[str]:
    """The working tree is the repo after the model patch: diff it against HEAD."""
    git(repo, "add", "-A")
    patch = git(repo, "diff", "--cached", "-M", "HEAD")

    def read_base(path: str) -> str | None:
        r = subprocess.run(
            ["git", "show", f"HEAD:{path}"], cwd=repo, capture_output=True, text=True
        )
        return r.stdout if r.returncode == 0 else None

    def read_after(path: str) -> str | None:
        file = repo / path
        return file.read_text() if file.is_file() else None

    return tampering(patch, TEST_PATCH, read_base, read_after)


Change = Callable[[Path], object]
SCENARIOS: dict[str, tuple[Change, list[str]]] = {
    "source fix": (
        lambda r: (r / "src/pkg/core.py").write_text("def add(a, b):\n    return a + b\n"),
        [],
    ),
    "metadata only": (
        lambda r: (r / "setup.cfg").write_text(SETUP_CFG.replace("name = pkg", "name = pkg2")),
        [],
    ),
    "forced-pass conftest": (
        lambda r: (r / "conftest.py").write_text(MAKEREPORT),
        ["conftest.py: runs before the tests (pytest plugin or site hook)"],
    ),
    "renamed into a conftest": (
        lambda r: (r / "tools/force.py").rename(r / "tests/conftest.py"),
        [
            "tests/conftest.py: runs before the tests (pytest plugin or site hook)",
            # the rename's other side: a helper outside the tests, nothing to say
        ],
    ),
    "addopts deselects": (
        lambda r: (r / "setup.cfg").write_text(SETUP_CFG.replace("-rA", "-rA -k 'not neg'")),
        ["setup.cfg: changes the pytest configuration"],
    ),
    "ini_options removed": (
        lambda r: (r / "pyproject.toml").write_text("[tool.black]\nline-length = 88\n"),
        ["pyproject.toml: changes the pytest configuration"],
    ),
    "test edited": (
        lambda r: (r / "tests/test_core.py").write_text("def test_add():\n    pass\n"),
        ["tests/test_core.py: a file of the test patch"],
    ),
    "new pytest.ini": (
        lambda r: (r / "pytest.ini").write_text("[pytest]\naddopts = -p no:python\n"),
        ["pytest.ini: changes the pytest configuration"],
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_real_git_diffs(repo: Path, name: str) -> None:
    change, expected = SCENARIOS[name]
    change(repo)
    assert grade(repo) == expected


def test_reasons_are_json_safe_lines() -> None:
    reasons = check(new_file("conftest.py", MAKEREPORT) + new_file("pytest.ini", "[pytest]"),
                    after={"pytest.ini": "[pytest]\n"})  # fmt: skip
    assert json.loads(json.dumps(reasons)) == reasons and len(reasons) == 2
