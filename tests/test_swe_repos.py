"""Where an instance's repository comes from: a --repos-dir clone, the bundled snapshot, or a
cached mirror cloned from a URL. Offline: the "upstream" is a git repo under tmp_path,
cloned through a file:// URL template."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from benchmarks.swe_bench import load_dataset, repos
from benchmarks.swe_bench.repos import RepoError, RepoSourceError
from foundation.errors import UserError

REPO = "owner/proj"


def run_git(cwd: Path, *args: str) -> str:
    return repos.git(cwd, *args)


def commit(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    run_git(repo, "add", name)
    run_git(repo, "commit", "-q", "-m", f"{name}: {text}")
    return run_git(repo, "rev-parse", "HEAD").strip()


def head(repo: Path) -> str:
    return run_git(repo, "rev-parse", "HEAD").strip()


def has(repo: Path, sha: str) -> bool:
    return repos._run_git(repo, ["cat-file", "-e", f"{sha}^{{commit}}"]).returncode == 0


def instance(base: str, repo: str = REPO, version: str = "1.0") -> dict[str, Any]:
    return {
        "instance_id": f"{repo.replace('/', '__')}-1",
        "repo": repo,
        "version": version,
        "base_commit": base,
        "patch": "",
        "test_patch": "",
    }


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("AGENTS_SEARCH_CACHE", str(path))
    return path


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """A repository served at file://TMP/upstream/owner/proj."""
    repo = tmp_path / "upstream" / REPO
    repo.mkdir(parents=True)
    run_git(repo, "init", "-q")
    return repo


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"file://{tmp_path}/upstream/{{repo}}"


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The network operations (clone / fetch) materialize runs, in order."""
    calls: list[str] = []
    real = repos._network

    def counting(*args: Any, **kwargs: Any) -> None:
        calls.append(args[3])
        real(*args, **kwargs)

    monkeypatch.setattr(repos, "_network", counting)
    return calls


def test_repo_url_template():
    assert repos.repo_url_for("a/b") == "https://github.com/a/b.git"
    assert repos.repo_url_for("a/b", "git@host:{owner}/{name}") == "git@host:a/b"
    assert repos.repo_url_for("a/b", "file:///m/{repo}{x}") == "file:///m/a/b{x}"


def test_clone_creates_a_cached_mirror_and_hides_later_commits(
    tmp_path, cache, upstream, url, network
):
    c1 = commit(upstream, "f.py", "one\n")
    c2 = commit(upstream, "f.py", "two\n")
    dest = repos.materialize(instance(c1), tmp_path / "d1", repo_url=url)
    assert head(dest) == c1
    assert (dest / "f.py").read_text() == "one\n"
    assert run_git(dest, "status", "--porcelain") == ""
    mirror = cache / "repos" / "owner__proj.git"
    assert (mirror / "HEAD").is_file() and has(mirror, c2)
    assert repos.mirror_cache_path(REPO) == mirror
    assert network == ["clone"]
    # The checkout holds the base and its ancestors only: no later commit, branch or tag.
    assert not has(dest, c2)
    assert run_git(dest, "for-each-ref") == ""
    assert run_git(dest, "remote") == ""


def test_second_materialize_reuses_the_mirror(tmp_path, cache, upstream, url, network):
    c1 = commit(upstream, "f.py", "one\n")
    repos.materialize(instance(c1), tmp_path / "d1", repo_url=url)
    mirror = cache / "repos" / "owner__proj.git"
    inode = mirror.stat().st_ino
    dest = repos.materialize(instance(c1), tmp_path / "d2", repo_url=url)
    assert head(dest) == c1
    assert network == ["clone"]  # no second clone, no fetch
    assert mirror.stat().st_ino == inode


def test_a_commit_added_upstream_later_is_fetched(tmp_path, cache, upstream, url, network):
    c1 = commit(upstream, "f.py", "one\n")
    repos.materialize(instance(c1), tmp_path / "d1", repo_url=url)
    inode = (cache / "repos" / "owner__proj.git").stat().st_ino
    c2 = commit(upstream, "f.py", "two\n")
    dest = repos.materialize(instance(c2), tmp_path / "d2", repo_url=url)
    assert head(dest) == c2 and (dest / "f.py").read_text() == "two\n"
    assert network == ["clone", "fetch"]
    assert (cache / "repos" / "owner__proj.git").stat().st_ino == inode


def test_a_commit_on_no_branch_is_fetched_by_hash(tmp_path, cache, upstream, url, network):
    commit(upstream, "f.py", "one\n")
    run_git(upstream, "checkout", "-q", "-b", "pr")
    side = commit(upstream, "f.py", "side\n")
    run_git(upstream, "checkout", "-q", "main")
    run_git(upstream, "branch", "-q", "-D", "pr")  # a merged-and-deleted PR branch
    dest = repos.materialize(instance(side), tmp_path / "d", repo_url=url)
    assert head(dest) == side
    assert network == ["clone", "fetch", "fetch"]


def test_a_commit_upstream_does_not_have(tmp_path, cache, upstream, url):
    commit(upstream, "f.py", "one\n")
    with pytest.raises(RepoSourceError) as err:
        repos.materialize(instance("1" * 40), tmp_path / "d", repo_url=url)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"upstream/{REPO} does not have base_commit {'1' * 40}" in msg
    assert "pass --repos-dir DIR with a clone holding it as DIR/owner__proj" in msg


def test_two_workers_clone_once(tmp_path, cache, upstream, url, network):
    c1 = commit(upstream, "f.py", "one\n")
    with ThreadPoolExecutor(2) as pool:
        dests = list(
            pool.map(
                lambda i: repos.materialize(instance(c1), tmp_path / f"d{i}", repo_url=url),
                range(2),
            )
        )
    assert [head(d) for d in dests] == [c1, c1]
    assert network == ["clone"]


def test_unreachable_url_is_one_line_and_quick(tmp_path, cache):
    start = time.monotonic()
    with pytest.raises(RepoSourceError) as err:
        repos.materialize(
            instance("1" * 40), tmp_path / "d", repo_url="http://127.0.0.1:9/{repo}.git"
        )
    assert time.monotonic() - start < 30
    msg = str(err.value)
    assert isinstance(err.value, UserError) and "\n" not in msg
    assert msg.startswith("owner__proj-1: cannot clone http://127.0.0.1:9/owner/proj.git (")
    assert msg.endswith("offline? pass --repos-dir DIR with clones as DIR/owner__proj")
    # Nothing half-cloned is left to be mistaken for a mirror.
    assert not list((cache / "repos").iterdir())


def test_a_hanging_server_times_out(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(repos, "CLONE_TIMEOUT", 1.0)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # connections are accepted by the kernel and never answered
    port = server.getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(RepoSourceError) as err:
            repos.materialize(
                instance("1" * 40), tmp_path / "d", repo_url=f"http://127.0.0.1:{port}/{{repo}}"
            )
        assert time.monotonic() - start < 20
    finally:
        server.close()
    assert str(err.value) == (
        f"owner__proj-1: git clone of http://127.0.0.1:{port}/owner/proj timed out after 1 s; "
        "offline? pass --repos-dir DIR with clones as DIR/owner__proj"
    )


def test_git_never_prompts_for_credentials(tmp_path, cache, monkeypatch):
    """A server that asks for a password: the clone fails at once, nothing waits for input."""
    import http.server

    class Auth(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="x"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Auth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("GIT_ASKPASS", "/bin/false")  # stripped: git sees no user settings
    try:
        with pytest.raises(RepoSourceError, match="cannot clone") as err:
            repos.materialize(
                instance("1" * 40),
                tmp_path / "d",
                repo_url=f"http://127.0.0.1:{server.server_port}/{{repo}}",
            )
    finally:
        server.shutdown()
    assert "terminal prompts disabled" in str(err.value)


# --repos-dir ----------------------------------------------------------------------------


def clone_into(repos_dir: Path, upstream: Path, bare: bool = False) -> Path:
    repos_dir.mkdir(exist_ok=True)
    target = repos_dir / "owner__proj"
    args = ["clone", "-q", *(["--bare"] if bare else []), str(upstream), str(target)]
    run_git(repos_dir, *args)
    return target


@pytest.mark.parametrize("bare", [False, True])
def test_repos_dir_clone_bare_or_not(tmp_path, cache, upstream, network, bare):
    c1 = commit(upstream, "f.py", "one\n")
    commit(upstream, "f.py", "two\n")
    clone_into(tmp_path / "mirrors", upstream, bare=bare)
    dest = repos.materialize(instance(c1), tmp_path / "d", tmp_path / "mirrors")
    assert head(dest) == c1 and (dest / "f.py").read_text() == "one\n"
    assert network == []
    assert not (cache / "repos").exists()


def test_repos_dir_wins_over_the_bundled_snapshot(tmp_path, cache, network):
    """An instance of a bundled repo and version whose base_commit the snapshot cannot give
    (here: another tree, and a test_patch that does not reverse-apply to the snapshot)."""
    mini = load_dataset("swe-mini", ["tkem__cachetools-1"])[0]
    clone = tmp_path / "mirrors" / "tkem__cachetools"
    clone.mkdir(parents=True)
    run_git(clone, "init", "-q")
    base = commit(clone, "cachetools.py", "# upstream\n")
    inst = dict(mini, base_commit=base, test_patch=mini["test_patch"].replace("+", "-+", 1))
    dest = repos.materialize(inst, tmp_path / "d", tmp_path / "mirrors")
    assert head(dest) == base
    assert (dest / "cachetools.py").read_text() == "# upstream\n"
    assert network == []
    # Without the clone: the message says the snapshot lacks the commit, not blame a patch.
    with pytest.raises(RepoSourceError) as err:
        repos.materialize(inst, tmp_path / "d2")
    assert str(err.value) == (
        f"tkem__cachetools-1: the bundled snapshot of tkem/cachetools 5.3.3 does not contain "
        f"base_commit {base}; pass --repos-dir DIR with a clone holding it as "
        "DIR/tkem__cachetools (a clone there is used before the bundled snapshot)"
    )
    other = dict(mini, base_commit=base)  # patches fine, the commit differs
    with pytest.raises(RepoSourceError, match=r"does not contain base_commit .*not base_commit"):
        repos.materialize(other, tmp_path / "d3")
    assert network == []


def test_bundled_snapshot_still_serves_when_repos_dir_lacks_the_repo(tmp_path, cache, network):
    mini = load_dataset("swe-mini", ["tkem__cachetools-1"])[0]
    (tmp_path / "mirrors").mkdir()
    dest = repos.materialize(mini, tmp_path / "d", tmp_path / "mirrors")
    assert head(dest) == mini["base_commit"]
    assert network == []


def test_repos_dir_missing_the_repo(tmp_path, cache, network):
    (tmp_path / "mirrors").mkdir()
    with pytest.raises(RepoSourceError) as err:
        repos.materialize(instance("1" * 40), tmp_path / "d", tmp_path / "mirrors")
    assert str(err.value) == (
        f"owner__proj-1: no clone of owner/proj in --repos-dir: expected "
        f"{tmp_path}/mirrors/owner__proj, a git clone of https://github.com/owner/proj.git"
    )
    assert network == []  # --repos-dir given: never the network


def test_repos_dir_that_does_not_exist(tmp_path, cache):
    with pytest.raises(RepoSourceError) as err:
        repos.materialize(instance("1" * 40), tmp_path / "d", tmp_path / "nope")
    assert str(err.value) == (
        f"owner__proj-1: --repos-dir {tmp_path}/nope is not a directory; it must hold a git "
        f"clone of https://github.com/owner/proj.git as {tmp_path}/nope/owner__proj"
    )


def test_repos_dir_entry_that_is_not_a_git_repository(tmp_path, cache):
    # Inside a work tree: git must not find the enclosing repository instead.
    outer = tmp_path / "outer"
    outer.mkdir()
    run_git(outer, "init", "-q")
    commit(outer, "x", "x\n")
    (outer / "mirrors" / "owner__proj").mkdir(parents=True)
    with pytest.raises(RepoSourceError) as err:
        repos.materialize(instance("1" * 40), tmp_path / "d", outer / "mirrors")
    assert str(err.value) == (
        f"owner__proj-1: {outer}/mirrors/owner__proj is not a git repository; it must be a "
        "git clone (bare or not) of https://github.com/owner/proj.git"
    )


def test_repos_dir_clone_without_the_base_commit(tmp_path, cache, upstream):
    commit(upstream, "f.py", "one\n")
    clone = clone_into(tmp_path / "mirrors", upstream)
    later = commit(upstream, "f.py", "two\n")
    with pytest.raises(RepoSourceError) as err:
        repos.materialize(instance(later), tmp_path / "d", tmp_path / "mirrors")
    assert str(err.value) == (
        f"owner__proj-1: the clone {clone} does not contain base_commit {later}; fetch it: "
        f"git -C {clone} fetch origin {later} (or git -C {clone} fetch --all)"
    )
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", "origin"], check=True)
    dest = repos.materialize(instance(later), tmp_path / "d", tmp_path / "mirrors")
    assert head(dest) == later


@pytest.mark.parametrize("repo", ["../x", "x/..", "a/b/c", "a b/c", "-x"])
def test_hostile_repo_names_never_become_paths(tmp_path, cache, repo):
    inst = instance("1" * 40, repo=repo)
    with pytest.raises(RepoSourceError, match="not of the form owner/name"):
        repos.materialize(inst, tmp_path / "d", tmp_path)
    assert not (tmp_path / "d").exists()


def test_bad_base_commit_and_version(tmp_path, cache):
    with pytest.raises(RepoSourceError, match="40-hex-digit"):
        repos.materialize(instance("HEAD"), tmp_path / "d", tmp_path)
    # A version that is not a file name never selects a snapshot: the tarball is not read.
    inst = instance("1" * 40, repo="tkem/cachetools", version="../../cachetools-5.3.3")
    (tmp_path / "m").mkdir()
    with pytest.raises(RepoSourceError, match="no clone of tkem/cachetools"):
        repos.materialize(inst, tmp_path / "d", tmp_path / "m")


def test_repo_error_is_still_the_base_class():
    assert issubclass(RepoSourceError, RepoError)
    assert issubclass(RepoSourceError, UserError)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the clone to another user")
def test_repos_dir_clone_of_another_user(tmp_path, cache, upstream):
    c1 = commit(upstream, "f.py", "one\n")
    clone = clone_into(tmp_path / "mirrors", upstream)
    subprocess.run(["chown", "-R", "65534:65534", str(clone)], check=True)
    with pytest.raises(RepoSourceError) as err:
        repos.materialize(instance(c1), tmp_path / "d", tmp_path / "mirrors")
    assert str(err.value) == (
        f"owner__proj-1: git refuses {clone}: it belongs to another user; make it this "
        "user's (chown -R) or clone it as this user into another --repos-dir"
    )
