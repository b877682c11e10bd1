"""`--strict`: does a model patch touch the test infrastructure?

The official harness grades as resolved a patch that adds a `conftest.py` forcing every
test to pass, or an `addopts` that deselects the failing tests. `tampering` says why a
model patch touches what decides how the tests run, one line per file, each naming it:

- `conftest.py`, `sitecustomize.py`, `usercustomize.py` at any depth, added, changed,
  deleted, or renamed or copied to or from (compiled `.pyc` copies too): they run
  before any test;
- a file that the test patch touches (the tests themselves);
- a change of pytest's settings in `pytest.ini`, `.pytest.ini`, `tox.ini`, `setup.cfg`
  (`[pytest]`, `[tool:pytest]`), `pyproject.toml` (`[tool.pytest]`, with `ini_options`)
  or `pytest.toml` at any depth (pytest reads the first one above the tests). A
  `pytest.ini` is pytest's configuration even without a `[pytest]` section, so adding or
  deleting one counts. A side that does not parse makes any change of the file count;
- a file under the test directory of a test-patch file (the first `test`, `tests` or
  `testing` directory in its path): its `__init__.py` and helpers are imported by the
  tests and can patch pytest as a conftest does;
- a new top-level module or package (in the root or in `src/`) with the name of a test
  runner (`pytest`, `_pytest`, `pluggy`) or of a standard library module:
  `python -m pytest` imports it instead of the real one.

One reason per file: the first of these that applies.

Paths are those `git apply` and `patch -p1` write: the first component of a header name
is dropped (`a/`, `b/`, or any other prefix), git's quoting is undone and the path is
normalised. The patch is parsed by unidiff and by a scan of its header lines, and the
union of both is checked, so a malformed patch never raises and still names its files.

Pure: the caller says how to read a file at the base commit and after the model patch
(None when absent). Their exceptions propagate: a file that could not be read must not
make the patch look clean.
"""

from __future__ import annotations

import configparser
import importlib
import posixpath
import re
import sys
from collections.abc import Callable, Iterator

Reader = Callable[[str], str | None]

RUNS_FIRST = frozenset({"conftest", "sitecustomize", "usercustomize"})
TEST_DIRS = frozenset({"test", "tests", "testing"})
RUNNERS = frozenset({"pytest", "_pytest", "pluggy"})
SHADOWED = RUNNERS | frozenset(getattr(sys, "stdlib_module_names", ()))
_MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")
# Config file name -> (where pytest's settings are, whether it is pytest's whenever it exists)
_INI_FILES: dict[str, tuple[tuple[str, ...], bool]] = {
    "pytest.ini": (("pytest", "tool:pytest"), True),
    ".pytest.ini": (("pytest", "tool:pytest"), True),
    "tox.ini": (("pytest", "tool:pytest"), False),
    "setup.cfg": (("tool:pytest", "pytest"), False),
}
_TOML_FILES: dict[str, tuple[tuple[str, ...], bool]] = {
    "pyproject.toml": (("tool", "pytest"), False),
    "pytest.toml": (("pytest",), True),
    ".pytest.toml": (("pytest",), True),
}

# Counts of at most 18 digits: int() of a longer one may raise (sys.set_int_max_str_digits)
_HUNK = re.compile(r"@@ -\d+(?:,(\d{1,18}))? \+\d+(?:,(\d{1,18}))? @@")
_CONTEXT_RANGE = re.compile(r"\d+(?:,\d+)? (?:\*\*\*\*|----)$")  # `*** 1,3 ****` in a context diff
_PREFIXED = ("diff --git ", "--- ", "+++ ", "*** ", "Index: ")
_UNPREFIXED = ("rename from ", "rename to ", "copy from ", "copy to ")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def tampering(
    model_patch: str, test_patch: str, read_base: Reader, read_after: Reader
) -> list[str]:
    """Why the model patch touches test infrastructure, one line per file ([] = clean)."""
    tests = set(touched_files(test_patch))
    test_dirs = {d for d in map(_test_dir, tests) if d}
    reasons = []
    for path in touched_files(model_patch):
        why = _why(path, tests, test_dirs, read_base, read_after)
        if why:
            reasons.append(f"{_show(path)}: {why}")
    return reasons


def touched_files(patch: str) -> list[str]:
    """Every path a patch creates, changes, deletes, renames or copies (both sides), as
    the appliers resolve it, in order, once. Never raises."""
    if not isinstance(patch, str):
        return []
    seen: dict[str, None] = {}
    for raw, prefixed in [*_unidiff_names(patch), *_header_names(patch)]:
        path = _normalise(raw, prefixed)
        if path:
            seen.setdefault(path, None)
    return list(seen)


def _why(
    path: str, tests: set[str], test_dirs: set[str], read_base: Reader, read_after: Reader
) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if _module_name(name) in RUNS_FIRST:
        return "runs before the tests (pytest plugin or site hook)"
    if path in tests:
        return "a file of the test patch"
    if (name in _INI_FILES or name in _TOML_FILES) and _config_changed(
        path, name, read_base, read_after
    ):
        return "changes the pytest configuration"
    test_dir = next((d for d in sorted(test_dirs) if path.startswith(d + "/")), None)
    if test_dir:
        return f"in {_show(test_dir)}/, the test directory of the test patch"
    shadowed = _shadowed_module(path, read_base)
    if shadowed:
        return f"adds a module that shadows {shadowed!r} for the test runner"
    return None


def _module_name(name: str) -> str:
    """`conftest` for conftest.py and __pycache__/conftest.cpython-311-pytest-8.3.5.pyc."""
    return name.split(".", 1)[0] if name.endswith(_MODULE_SUFFIXES) else ""


def _test_dir(path: str) -> str | None:
    parts = path.split("/")[:-1]
    for i, part in enumerate(parts):
        if part in TEST_DIRS:
            return "/".join(parts[: i + 1])
    return None


def _shadowed_module(path: str, read_base: Reader) -> str | None:
    """The runner or stdlib module a new top-level module (root or src/) would replace."""
    parts = path.split("/")
    if parts[0] == "src" and len(parts) > 1:  # PYTHONPATH=src
        parts = parts[1:]
    if len(parts) == 1:
        module = _module_name(parts[0])
    elif len(parts) == 2 and _module_name(parts[1]) == "__init__":
        module = parts[0]  # a namespace package (no __init__) never wins over the real one
    else:
        return None
    if module not in SHADOWED:
        return None
    if read_base(path) is not None:  # the repository's own module: not added by the patch
        return None
    return module


def _config_changed(path: str, name: str, read_base: Reader, read_after: Reader) -> bool:
    before, after = read_base(path), read_after(path)
    if before == after:
        return False
    return _pytest_config(name, before) != _pytest_config(name, after)


def _pytest_config(name: str, text: str | None) -> object:
    """pytest's settings in one config file: None when the file is not pytest's config,
    a marker holding the text when it does not parse (so any change of it counts)."""
    if text is None:
        return None
    try:
        if name in _TOML_FILES:
            keys, always = _TOML_FILES[name]
            table: object = _toml_loads(text)
            for key in keys:
                table = table.get(key) if isinstance(table, dict) else None
            return table if table is not None else ({} if always else None)
        sections, always = _INI_FILES[name]
        parser = _CaseKeepingParser(
            strict=False, interpolation=None, default_section="\0 no defaults"
        )
        parser.read_string(text)
        found = {s: dict(parser.items(s)) for s in sections if parser.has_section(s)}
        return found if found or always else None
    except Exception:
        return ("unparsable", text)


class _CaseKeepingParser(configparser.RawConfigParser):
    """pytest's ini keys are case-sensitive: `Addopts` is not `addopts`."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def _toml_loads(text: str) -> object:
    for module_name in ("tomllib", "tomli"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        loaded: object = module.loads(text)
        return loaded
    raise ValueError("no TOML parser")


def _unidiff_names(patch: str) -> list[tuple[str, bool]]:
    try:
        from unidiff.patch import PatchSet

        return [
            (name, True)
            for patched in PatchSet(patch)
            for name in (patched.source_file, patched.target_file)
        ]
    except Exception:  # malformed, on purpose or not: the header scan still names files
        return []


def _header_names(patch: str) -> Iterator[tuple[str, bool]]:
    """The file names of the header lines, outside hunk bodies (a removed line `-- x` is
    `--- x` in the diff). A hunk ends at its line counts or at the first line that
    cannot belong to it, whichever is first."""
    old = new = 0
    for line in patch.split("\n"):
        line = line.removesuffix("\r")
        if old > 0 or new > 0:
            tag = line[:1]
            if tag in (" ", "") and old > 0 and new > 0:
                old, new = old - 1, new - 1
                continue
            if tag == "-" and old > 0:
                old -= 1
                continue
            if tag == "+" and new > 0:
                new -= 1
                continue
            if tag == "\\":
                continue
            old = new = 0  # malformed: the hunk ended early, this line is read as a header
        hunk = _HUNK.match(line)
        if hunk:
            old, new = (int(n) if n is not None else 1 for n in hunk.groups())
            continue
        if line.startswith("diff --git "):
            yield from ((name, True) for name in _git_header_names(line[len("diff --git ") :]))
            continue
        for start in _PREFIXED[1:]:
            if line.startswith(start):
                name = line[len(start) :].split("\t", 1)[0].rstrip()
                if not _CONTEXT_RANGE.match(name):
                    yield name, True
        for start in _UNPREFIXED:
            if line.startswith(start):
                yield line[len(start) :].rstrip(), False


def _git_header_names(rest: str) -> list[str]:
    """The two names of `diff --git A B`: quoted, or equal halves, or split at ` b/`."""
    if rest.startswith('"'):
        end = _closing_quote(rest)
        first, second = rest[: end + 1], rest[end + 1 :].strip()
        return [first, second]
    second_quoted = rest.find(' "')
    if second_quoted > 0 and rest.endswith('"'):
        return [rest[:second_quoted], rest[second_quoted + 1 :]]
    middle = len(rest) // 2
    if rest[middle : middle + 1] == " " and _strip_first(rest[:middle]) == _strip_first(
        rest[middle + 1 :]
    ):
        return [rest[:middle], rest[middle + 1 :]]
    first, sep, second = rest.partition(" b/")
    return [first, "b/" + second] if sep else rest.split(" ", 1)


def _closing_quote(text: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return len(text) - 1


def _unquote(name: str) -> str:
    """Undo git's C-style quoting (`"a/t\\303\\251st.py"`)."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    body, out, i = name[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char != "\\" or i + 1 == len(body):
            out += char.encode("utf-8", "surrogatepass")
            i += 1
        elif len(octal := body[i + 1 : i + 4]) == 3 and all(c in "01234567" for c in octal):
            out.append(int(octal, 8) & 0xFF)
            i += 4
        else:
            escaped = body[i + 1]
            if escaped in _ESCAPES:
                out.append(_ESCAPES[escaped])
            else:
                out += escaped.encode("utf-8", "surrogatepass")
            i += 2
    return out.decode("utf-8", "replace")


def _strip_first(name: str) -> str:
    """What `-p1` leaves: everything after the first slash (a name without one stays)."""
    return name.split("/", 1)[1] if "/" in name else name


def _normalise(raw: str, prefixed: bool) -> str:
    name = _unquote(raw.strip())
    if not name or name == "/dev/null":
        return ""
    if prefixed:
        name = _strip_first(name)
    name = posixpath.normpath(name).lstrip("/")
    return "" if name in (".", "") else name


def _show(path: str) -> str:
    """A path on one line: control characters escaped."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")
