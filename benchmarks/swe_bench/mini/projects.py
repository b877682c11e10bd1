"""The projects swe-mini is built from: real pure-Python sdists on PyPI, pruned to
source + tests, then fixed (for bugs that are real upstream) and given the new tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Project:
    repo: str  # GitHub owner/name, as SWE-bench spells it
    dist: str  # PyPI name
    version: str
    keep: tuple[str, ...]  # path prefixes (inside the sdist) kept in the snapshot
    test_cmd: str  # run from the repo root; the test directives are appended
    created_at: str  # release date of the sdist
    log_parser: str = "parse_log_pytest"  # a name in swebench's PARSER_REGISTRY
    directives: str = "paths"  # "paths" (pytest) or "modules" (python -m unittest)


PROJECTS = {
    p.repo: p
    for p in (
        Project(
            repo="tkem/cachetools",
            dist="cachetools",
            version="5.3.3",
            keep=("src/cachetools/", "tests/", "setup.cfg", "setup.py", "pyproject.toml",
                  "tox.ini", "README.rst", "LICENSE"),
            test_cmd="PYTHONPATH=src python -m pytest -rA -p no:cacheprovider",
            created_at="2024-02-26T20:03:27Z",
        ),
        Project(
            repo="r1chardj0n3s/parse",
            dist="parse",
            version="1.20.2",
            keep=("parse.py", "tests/", "pyproject.toml", "README.rst", "LICENSE"),
            test_cmd="python -m pytest -rA -p no:cacheprovider",
            created_at="2024-06-11T04:41:57Z",
        ),
        Project(
            repo="jpvanhal/inflection",
            dist="inflection",
            version="0.5.1",
            keep=("inflection/__init__.py", "inflection/py.typed", "test_inflection.py",
                  "setup.py", "setup.cfg", "README.rst", "LICENSE"),
            test_cmd="python -m pytest -rA -p no:cacheprovider",
            created_at="2020-08-22T08:16:59Z",
        ),
        Project(
            repo="pytoolz/toolz",
            dist="toolz",
            version="0.12.1",
            keep=("toolz/", "tlz/", "setup.cfg", "README.rst", "LICENSE.txt"),
            test_cmd="python -m pytest -rA -p no:cacheprovider",
            created_at="2024-01-24T03:26:14Z",
        ),
        Project(
            repo="tartley/colorama",
            dist="colorama",
            version="0.4.6",
            keep=("colorama/", "pyproject.toml", "README.rst", "LICENSE.txt"),
            test_cmd="python -m unittest -v",
            created_at="2022-10-25T02:30:02Z",
            log_parser="parse_log_django",  # unittest's verbose "name (id) ... ok" lines
            directives="modules",
        ),
    )
}  # fmt: skip
