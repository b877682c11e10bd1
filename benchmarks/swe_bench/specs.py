"""How to build the environment and run the tests for each (repo, version).

The SWE-bench equivalent is `MAP_REPO_VERSION_TO_SPECS`; ours installs from PyPI only
(no conda, no apt), so one environment image or venv serves many repositories.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.swe_bench.mini.projects import PROJECTS
from foundation.errors import UserError

if TYPE_CHECKING:
    from sandboxes import EnvSpec


@dataclass(frozen=True)
class RepoSpec:
    pip_packages: tuple[str, ...]
    test_cmd: str  # run in the repo root; the test files of the test patch are appended
    log_parser: str = "parse_log_pytest"  # a name in swebench's PARSER_REGISTRY
    python: str = "3"
    directives: str = "paths"  # test files as paths (pytest) or dotted modules (unittest)

    def env(self) -> EnvSpec:  # sandboxes is imported lazily: it pulls in docker
        from sandboxes import EnvSpec

        return EnvSpec(python=self.python, pip_packages=self.pip_packages)


PYTEST = ("pytest==8.3.5",)

SPECS: dict[str, dict[str, RepoSpec]] = {}
for _project in PROJECTS.values():
    SPECS.setdefault(_project.repo, {})[_project.version] = RepoSpec(
        pip_packages=PYTEST,
        test_cmd=_project.test_cmd,
        log_parser=_project.log_parser,
        directives=_project.directives,
    )


def spec_for(repo: str, version: str) -> RepoSpec:
    try:
        return SPECS[repo][version]
    except KeyError:
        known = ", ".join(f"{r}@{v}" for r in sorted(SPECS) for v in sorted(SPECS[r]))
        raise UserError(
            f"no environment spec for {repo} version {version}; known: {known}"
        ) from None


_DIFF_FILE = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)


def test_files(test_patch: str) -> list[str]:
    """The files a test patch touches (what SWE-bench calls the test directives)."""
    seen: list[str] = []
    for _, b in _DIFF_FILE.findall(test_patch):
        if b not in seen:
            seen.append(b)
    return seen


def test_directives(spec: RepoSpec, test_patch: str) -> list[str]:
    """What to append to the test command: the test patch's files, as paths or modules."""
    files = [f for f in test_files(test_patch) if f.endswith(".py") or spec.directives == "paths"]
    if spec.directives == "modules":
        return [f[: -len(".py")].replace("/", ".") for f in files]
    return files
