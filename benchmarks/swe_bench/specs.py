"""How to build the environment and run the tests for each (repo, version).

The SWE-bench equivalent is the pre-5 `MAP_REPO_VERSION_TO_SPECS` table; `--specs FILE`
(JSON or YAML, keyed by repo then version, in that table's shape) is merged over the
bundled specs of swe-mini. Environments install from PyPI only (no conda): `python`
picks the interpreter, `pip_packages` and `packages` are pip-installed, `pre_install`
runs at build time (network, no repository), `install` runs in each sandbox once the
repository is in place (no network; Docker sandboxes only: local ones share a read-only
environment), `eval_commands` run before the tests, `test_cmd` gets the test patch's
files appended, `log_parser` names one of swebench's parsers.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.swe_bench.mini.projects import PROJECTS
from foundation.errors import UserError

if TYPE_CHECKING:
    from sandboxes import EnvSpec

SPECS_FORMAT = (
    "a JSON or YAML file keyed by repo, then version: {python, pip_packages, packages, "
    "pre_install, install, test_cmd, eval_commands, env_vars_test, log_parser, directives} "
    "(the shape of SWE-bench's MAP_REPO_VERSION_TO_SPECS)"
)
IGNORED_KEYS = frozenset(
    {"apt-pkgs", "no_use_env", "execute_test_as_nonroot", "docker_specs", "nano_cpus",
     "env_setup", "arch_specific_packages", "pre_test", "image_name", "test_directives"}
)  # fmt: skip
"""Keys of forks' tables that name conda/apt/Docker details our environments do not use."""


@dataclass(frozen=True)
class RepoSpec:
    test_cmd: str  # run in the repo root; the test files of the test patch are appended
    pip_packages: tuple[str, ...] = ()
    log_parser: str = "parse_log_pytest"  # a name in swebench's PARSER_REGISTRY
    python: str = "3"
    directives: str = "paths"  # test files as paths (pytest) or dotted modules (unittest)
    pre_install: tuple[str, ...] = ()  # build time, network, no repository
    install: tuple[str, ...] = ()  # in the sandbox, repository present, no network
    eval_commands: tuple[str, ...] = ()  # in the eval script, before the tests
    env_vars_test: Mapping[str, str] = field(default_factory=dict)
    source: str = "bundled"  # where the spec came from, for messages

    def env(self) -> EnvSpec:  # sandboxes is imported lazily: it pulls in docker
        from sandboxes import EnvSpec

        packages = self.pip_packages
        if self.install:  # `pip install -e .` offline needs the build backend in place
            packages = (*packages, *(p for p in ("setuptools", "wheel") if p not in packages))
        return EnvSpec(python=self.python, pip_packages=packages, setup_commands=self.pre_install)


PYTEST = ("pytest==8.3.5",)

BUNDLED: dict[str, dict[str, RepoSpec]] = {}
for _project in PROJECTS.values():
    BUNDLED.setdefault(_project.repo, {})[_project.version] = RepoSpec(
        pip_packages=PYTEST,
        test_cmd=_project.test_cmd,
        log_parser=_project.log_parser,
        directives=_project.directives,
    )


@dataclass(frozen=True)
class SpecTable:
    """Specs by repo, then version: the bundled ones with a user's `--specs` file over them."""

    table: Mapping[str, Mapping[str, RepoSpec]] = field(default_factory=lambda: BUNDLED)
    files: tuple[str, ...] = ()

    def get(self, repo: str, version: str) -> RepoSpec | None:
        return self.table.get(repo, {}).get(version)

    def known(self, repo: str) -> str:
        versions = sorted(self.table.get(repo, {}))
        if versions:
            return f"known versions of {repo}: {', '.join(versions)}"
        return f"no spec for {repo} at any version ({len(self.table)} other repos have specs)"

    def missing_message(self, repo: str, version: str) -> str:
        where = f" (read {', '.join(self.files)})" if self.files else ""
        return (
            f"no environment spec for {repo} version {version}{where}: pass --specs FILE "
            "(JSON/YAML keyed by repo, then version, as SWE-bench's MAP_REPO_VERSION_TO_SPECS; "
            f"README: Your own dataset); {self.known(repo)}"
        )

    def spec_for(self, repo: str, version: str) -> RepoSpec:
        spec = self.get(repo, version)
        if spec is None:
            raise UserError(self.missing_message(repo, version))
        return spec


def load_specs(paths: list[Path] | tuple[Path, ...] = ()) -> SpecTable:
    """The bundled specs with each file's merged over them (later files win per version)."""
    if not paths:
        return SpecTable()
    table = {repo: dict(versions) for repo, versions in BUNDLED.items()}
    for path in paths:
        for repo, versions in _read_table(Path(path)).items():
            table.setdefault(repo, {}).update(versions)
    return SpecTable(table, tuple(str(p) for p in paths))


def _read_table(path: Path) -> dict[str, dict[str, RepoSpec]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read --specs {path}: {exc.__class__.__name__}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--specs {path}: not valid {path.suffix[1:] or 'JSON'}: {first}") from None
    if not isinstance(data, dict):
        raise UserError(f"--specs {path}: expected {SPECS_FORMAT}")
    out: dict[str, dict[str, RepoSpec]] = {}
    for repo, versions in data.items():
        if not isinstance(repo, str) or not re.fullmatch(
            r"[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+", repo
        ):
            raise UserError(f"--specs {path}: {repo!r} is not a repo (owner/name)")
        if not isinstance(versions, dict):
            raise UserError(f"--specs {path}: {repo}: expected a mapping of version -> spec")
        for version, raw in versions.items():
            where = f"--specs {path}: {repo} {version}"
            out.setdefault(repo, {})[str(version)] = parse_spec(raw, where, f"--specs {path}")
    return out


def _commands(value: Any, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v.strip())
    raise UserError(f"{where}: {key} must be a command or a list of commands")


def parse_spec(raw: Any, where: str, source: str = "--specs") -> RepoSpec:
    """One spec of a `--specs` table; every key checked, errors name the place."""
    from benchmarks.swe_bench.official import log_parsers

    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping (python, pip_packages, test_cmd, ...)")
    known = {
        "python", "pip_packages", "packages", "pre_install", "install", "test_cmd",
        "eval_commands", "env_vars_test", "log_parser", "directives",
    }  # fmt: skip
    unknown = sorted(set(raw) - known - IGNORED_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; {SPECS_FORMAT}")
    tests = _commands(raw.get("test_cmd"), "test_cmd", where)
    if not tests:
        raise UserError(f"{where}: test_cmd is missing")
    # A list of test commands (as some tables have): all but the last run before it, the
    # last one gets the test files.
    test_cmd = " && ".join(tests)
    pip = list(_commands(raw.get("pip_packages"), "pip_packages", where))
    packages = raw.get("packages") or ""
    if not isinstance(packages, str):
        raise UserError(f"{where}: packages must be a space-separated string")
    if packages.strip() in ("requirements.txt", "environment.yml"):
        raise UserError(
            f"{where}: packages: {packages.strip()} is not supported (environments are built "
            "without the repository); list the packages in pip_packages"
        )
    pip += packages.split()
    python = str(raw.get("python", "3"))
    if not re.fullmatch(r"3(\.\d{1,2})?", python):
        raise UserError(f"{where}: python must be 3 or 3.N, not {python!r}")
    parser = raw.get("log_parser", "parse_log_pytest")
    if parser not in log_parsers.PARSER_REGISTRY:
        raise UserError(
            f"{where}: log_parser {parser!r} is not one of swebench's parsers "
            "(e.g. parse_log_pytest, parse_log_django, parse_log_sympy)"
        )
    directives = raw.get("directives", "paths")
    if directives not in ("paths", "modules"):
        raise UserError(f"{where}: directives must be paths or modules")
    env_vars = raw.get("env_vars_test") or {}
    if not isinstance(env_vars, dict) or not all(
        isinstance(k, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) for k in env_vars
    ):
        raise UserError(f"{where}: env_vars_test must map variable names to values")
    return RepoSpec(
        test_cmd=test_cmd,
        pip_packages=tuple(pip),
        log_parser=parser,
        python=python,
        directives=directives,
        pre_install=_commands(raw.get("pre_install"), "pre_install", where),
        install=_commands(raw.get("install"), "install", where),
        eval_commands=_commands(raw.get("eval_commands"), "eval_commands", where),
        env_vars_test={k: str(v) for k, v in env_vars.items()},
        source=source,
    )


def spec_for(repo: str, version: str, table: SpecTable | None = None) -> RepoSpec:
    return (table or SpecTable()).spec_for(repo, version)


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


HEREDOC = "EOF_114329324912"  # the delimiter SWE-bench's eval scripts use


def eval_script_list(spec: RepoSpec, base_commit: str, test_patch: str) -> list[str]:
    """The eval script's commands for an instance without one of its own, in the shape of
    SWE-bench's `make_eval_script_list`: reset the test files to base_commit, apply the
    test patch, run the test command between the output markers, reset the test files."""
    from benchmarks.swe_bench.official import constants as c

    if HEREDOC in test_patch:
        raise UserError(f"the test patch contains the eval script's delimiter {HEREDOC}")
    files = " ".join(shlex.quote(f) for f in test_files(test_patch))
    reset = f"git checkout {shlex.quote(base_commit)} -- {files}"
    directives = " ".join(shlex.quote(d) for d in test_directives(spec, test_patch))
    return [
        *(f"export {k}={shlex.quote(v)}" for k, v in spec.env_vars_test.items()),
        *spec.eval_commands,
        reset,
        f"git apply -v - <<'{HEREDOC}'\n{test_patch.rstrip(chr(10))}\n{HEREDOC}",
        f": '{c.START_TEST_OUTPUT}'",
        f"{spec.test_cmd} {directives}".rstrip(),
        f": '{c.END_TEST_OUTPUT}'",
        reset,
    ]
