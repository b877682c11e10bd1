"""The contract every sandbox backend keeps: one suite, run against Docker and local."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_helpers import BACKENDS, labelled_containers, make_repo, open_backend

from sandboxes import Sandbox, SandboxError


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


@pytest.fixture
def sb(kind: str, repo: Path):
    with open_backend(kind, repo) as sandbox:
        yield sandbox


def test_is_a_sandbox(sb: Sandbox) -> None:
    assert isinstance(sb, Sandbox)


def test_exec_separates_streams_and_exit_code(sb: Sandbox) -> None:
    result = sb.exec("echo out; echo err >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok and not result.timed_out and result.reason is None


def test_runs_in_workdir_on_a_copy_of_the_repo_with_git_history(sb: Sandbox, repo: Path) -> None:
    result = sb.exec("pwd; git log --format=%s; git status --porcelain; cat pkg/__init__.py")
    lines = result.stdout.splitlines()
    assert result.ok, result.stderr
    assert lines[0] == sb.workdir
    assert lines[1] == "initial"
    assert lines[2] == "def add(a, b):"  # clean tree: no porcelain lines before the file


def test_env_python_is_first_on_path(sb: Sandbox) -> None:
    result = sb.exec("python -c 'import iniconfig, sys; print(sys.prefix)'")
    assert result.ok, result.stderr
    assert result.stdout.strip() != "/usr"


def test_files_round_trip_and_host_repo_is_untouched(sb: Sandbox, repo: Path) -> None:
    sb.write_file("pkg/deep/new.py", "x = 'ünïcode'\n")
    sb.write_file("pkg/__init__.py", "def add(a, b):\n    return a - b\n")
    assert sb.read_file("pkg/deep/new.py") == "x = 'ünïcode'\n"
    assert sb.exec("python -c 'import pkg; print(pkg.add(5, 3))'").stdout == "2\n"
    assert "a + b" in (repo / "pkg" / "__init__.py").read_text()
    assert not (repo / "pkg" / "deep").exists()
    with pytest.raises(FileNotFoundError):
        sb.read_file("missing.txt")


def test_snapshot_and_restore_bring_back_files_and_git_state(sb: Sandbox) -> None:
    first = sb.snapshot()
    sb.write_file("pkg/__init__.py", "broken(\n")
    assert sb.exec("rm README.md && echo junk > junk.txt && git add -A").ok
    second = sb.snapshot()
    sb.restore(first)
    result = sb.exec("git status --porcelain; ls; cat pkg/__init__.py")
    assert result.stdout == "README.md\npkg\ndef add(a, b):\n    return a + b\n"
    sb.restore(second)
    assert sorted(sb.exec("git status --porcelain").stdout.splitlines()) == [
        "A  junk.txt",
        "D  README.md",
        "M  pkg/__init__.py",
    ]
    with pytest.raises(SandboxError):
        sb.restore("snap-999")


def test_timeout_comes_from_limits_when_not_given(kind: str, repo: Path) -> None:
    with open_backend(kind, repo, timeout=1.0) as sandbox:
        result = sandbox.exec("sleep 30")
    assert result.timed_out and result.reason == "timeout" and not result.ok


def test_network_is_off_by_default(sb: Sandbox) -> None:
    if getattr(sb, "bwrap", True) is False:
        pytest.skip("local sandbox without bubblewrap cannot disable the network")
    probe = "import socket; socket.create_connection(('pypi.org', 443), timeout=5)"
    result = sb.exec(f'python -c "{probe}"', timeout=30)
    assert result.exit_code != 0


def test_network_opt_in_reaches_pypi_with_the_host_ca_bundle(kind: str, repo: Path) -> None:
    probe = (
        "import urllib.request as u; "
        "print(u.urlopen('https://pypi.org/simple/iniconfig/', timeout=30).status)"
    )
    with open_backend(kind, repo, network=True) as sandbox:
        result = sandbox.exec(f'python -c "{probe}"', timeout=90)
    assert result.stdout.strip() == "200", result.stderr[-500:]


def test_without_a_repo_the_workdir_exists_and_is_empty(kind: str) -> None:
    with open_backend(kind, None) as sandbox:
        result = sandbox.exec("ls -A | wc -l")
    assert result.stdout.strip() == "0"


def test_close_is_idempotent_and_exceptions_close(kind: str, repo: Path) -> None:
    with pytest.raises(RuntimeError), open_backend(kind, repo) as sandbox:
        raise RuntimeError("boom")
    sandbox.close()
    if kind == "docker":
        assert labelled_containers() == []
    else:
        assert not sandbox.root.exists()
