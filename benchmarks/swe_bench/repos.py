"""Repositories at an instance's `base_commit`.

Where the base comes from, first match wins:

1. a clone in `repos_dir` (`<repos_dir>/<owner>__<name>`, bare or not): `--repos-dir`;
2. the bundled snapshot of (repo, version) (swe-mini): its fixed tree with the instance's
   `test_patch` and gold `patch` reverse-applied, committed as a single root commit with
   fixed author, committer and dates, so its hash equals `base_commit` on every machine;
3. a bare mirror cached in `<cache>/repos/<owner>__<name>.git`, cloned from `repo_url`
   (GitHub by default) the first time and fetched when it lacks a `base_commit`.

`dest` receives only `base_commit` and its ancestors (fetched by hash into a new repo),
never the commits after it: no branch or tag of the clone leaks the fix to an agent.
Git runs without user or system config and never prompts for credentials.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tarfile
from pathlib import Path

from benchmarks.swe_bench.dataset import REPO_RE, SHA_RE, Instance
from foundation.errors import UserError

SNAPSHOTS = Path(__file__).parent / "data" / "repos"
DEFAULT_REPO_URL = "https://github.com/{repo}.git"
"""Where a repository is cloned from: `{repo}` (owner/name), `{owner}` and `{name}` are
replaced; any other text is kept as is."""
CLONE_TIMEOUT = 600.0
"""Seconds a clone or fetch from the network may take."""

# Every commit the harness makes is reproducible from its tree alone.
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "swe-mini",
    "GIT_AUTHOR_EMAIL": "swe-mini@localhost",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_NAME": "swe-mini",
    "GIT_COMMITTER_EMAIL": "swe-mini@localhost",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
}
_GIT_CONFIG = [
    "-c", "core.autocrlf=false",
    "-c", "core.fileMode=true",
    "-c", "commit.gpgSign=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "init.defaultBranch=main",
    "-c", "gc.auto=0",
]  # fmt: skip
# Network operations fail instead of asking for a password or a host key.
_VERSION = re.compile(r"[A-Za-z0-9_.+\-]+")  # a version that can name a snapshot file
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}


class RepoError(Exception):
    """The repository for an instance cannot be materialised (the message says why)."""


class RepoSourceError(RepoError, UserError):
    """No source the user gave (or the bundled data) holds the instance's `base_commit`: a
    layout, network or data problem the user can fix; the one-line message says how."""


def git(
    repo: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run git in `repo` with a fixed identity and no user config; return stdout.

    With `timeout`, git and everything it started (remote helpers, ssh) are killed when it
    runs out, and `subprocess.TimeoutExpired` is raised."""
    proc = _run_git(repo, list(args), input=input, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise RepoError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def _run_git(
    cwd: Path,
    args: list[str],
    input: str | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full_env.update(_GIT_IDENTITY)
    full_env["GIT_CONFIG_GLOBAL"] = os.devnull
    full_env["GIT_CONFIG_NOSYSTEM"] = "1"
    full_env.update(env or {})
    cmd = ["git", *_GIT_CONFIG, *args]
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=timeout is not None,  # a process group to kill on timeout
    ) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        except BaseException:
            proc.kill()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def commit_tree(repo: Path, message: str) -> str:
    """Make `repo` (a plain directory) a git repo whose one commit holds its files."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    git(repo, "add", "-A", "-f", ".")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def slug(repo: str) -> str:
    """`owner__name`: the directory name of a repository's clone."""
    return repo.replace("/", "__")


def snapshot_path(repo: str, version: str) -> Path:
    return SNAPSHOTS / f"{slug(repo)}-{version}.tar.gz"


def extract_snapshot(path: Path, dest: Path) -> None:
    """Extract a snapshot tarball (flat, no leading directory) into `dest`."""
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.name.startswith(("/", "..")) or ".." in Path(member.name).parts:
                raise RepoError(f"{path.name}: unsafe path {member.name!r}")
        tar.extractall(dest, filter="data")


def base_commit_message(repo: str, version: str) -> str:
    return f"{repo} {version}"


def repo_url_for(repo: str, template: str | None = None) -> str:
    """The clone URL of `repo` (owner/name) from a `DEFAULT_REPO_URL`-style template."""
    owner, name = repo.split("/", 1)
    url = template or DEFAULT_REPO_URL
    return url.replace("{repo}", repo).replace("{owner}", owner).replace("{name}", name)


def mirror_cache_path(repo: str) -> Path:
    """Where the cached bare mirror of `repo` lives (the directory need not exist)."""
    from sandboxes.cache import cache_dir

    return cache_dir() / "repos" / f"{slug(repo)}.git"


def materialize(
    instance: Instance,
    dest: Path,
    repos_dir: Path | None = None,
    repo_url: str | None = None,
) -> Path:
    """Create `dest` as a git repo checked out at `instance["base_commit"]`.

    The sources, in order: `repos_dir/<owner>__<name>`, the bundled snapshot of (repo,
    version), a cached mirror cloned from `repo_url` (a template; see `DEFAULT_REPO_URL`).
    The network is tried only when `repos_dir` is None and nothing is bundled. Problems the
    user can fix (a wrong layout, a missing commit, no network) are `RepoSourceError`s."""
    repo, version, base = instance["repo"], instance["version"], instance["base_commit"]
    iid = instance["instance_id"]
    if not isinstance(repo, str) or not REPO_RE.fullmatch(repo):
        raise RepoSourceError(f"{iid}: repo {repo!r} is not of the form owner/name")
    if not isinstance(base, str) or not SHA_RE.fullmatch(base):
        raise RepoSourceError(f"{iid}: base_commit must be a 40-hex-digit commit hash")
    if repos_dir is not None:
        mirror = repos_dir / slug(repo)
        if mirror.exists() or mirror.is_symlink():
            return _from_clone(instance, mirror, dest, repo_url)
    bundled = isinstance(version, str) and _VERSION.fullmatch(version)
    if bundled and snapshot_path(repo, version).exists():
        return _from_snapshot(instance, snapshot_path(repo, version), dest)
    if repos_dir is not None:
        where = f"{repos_dir}/{slug(repo)}"
        if not repos_dir.is_dir():
            raise RepoSourceError(
                f"{iid}: --repos-dir {repos_dir} is not a directory; it must hold a git clone "
                f"of {repo_url_for(repo, repo_url)} as {where}"
            )
        raise RepoSourceError(
            f"{iid}: no clone of {repo} in --repos-dir: expected {where}, "
            f"a git clone of {repo_url_for(repo, repo_url)}"
        )
    return _from_clone(instance, _cached_mirror(instance, repo_url), dest, repo_url)


def _from_snapshot(instance: Instance, snapshot: Path, dest: Path) -> Path:
    repo, version, base = instance["repo"], instance["version"], instance["base_commit"]
    iid = instance["instance_id"]
    hint = (
        f"pass --repos-dir DIR with a clone holding it as DIR/{slug(repo)} "
        "(a clone there is used before the bundled snapshot)"
    )
    dest.mkdir(parents=True, exist_ok=True)
    extract_snapshot(snapshot, dest)
    for name in ("test_patch", "patch"):
        patch = instance.get(name)
        if patch and not _reverse_applies(dest, patch):
            raise RepoSourceError(
                f"{iid}: the bundled snapshot of {repo} {version} does not contain "
                f"base_commit {base}; {hint}"
            )
    got = commit_tree(dest, base_commit_message(repo, version))
    if got != base:
        raise RepoSourceError(
            f"{iid}: the bundled snapshot of {repo} {version} does not contain base_commit "
            f"{base} (it gives commit {got[:12]}, not base_commit); {hint}"
        )
    return dest


def _reverse_applies(repo: Path, patch: str) -> bool:
    proc = _run_git(repo, ["apply", "-R", "--whitespace=nowarn", "-"], input=patch)
    return proc.returncode == 0


def _has_commit(git_dir: Path, sha: str) -> bool:
    proc = _run_git(git_dir, ["cat-file", "-e", f"{sha}^{{commit}}"])
    return proc.returncode == 0


def _from_clone(instance: Instance, mirror: Path, dest: Path, repo_url: str | None) -> Path:
    """Check `base_commit` of the git repository `mirror` out into a new repo at `dest`."""
    repo, base, iid = instance["repo"], instance["base_commit"], instance["instance_id"]
    # No discovery above `mirror`: a plain directory inside some work tree is not a clone.
    ceiling = {"GIT_CEILING_DIRECTORIES": str(mirror.resolve().parent)}
    probe = _run_git(mirror, ["rev-parse", "--git-dir"], env=ceiling) if mirror.is_dir() else None
    if probe is not None and "dubious ownership" in probe.stderr:
        raise RepoSourceError(
            f"{iid}: git refuses {mirror}: it belongs to another user; make it this user's "
            f"(chown -R) or clone it as this user into another --repos-dir"
        )
    if probe is None or probe.returncode != 0:
        raise RepoSourceError(
            f"{iid}: {mirror} is not a git repository; it must be a git clone (bare or not) "
            f"of {repo_url_for(repo, repo_url)}"
        )
    if not _has_commit(mirror, base):
        raise RepoSourceError(
            f"{iid}: the clone {mirror} does not contain base_commit {base}; "
            f"fetch it: git -C {mirror} fetch origin {base} (or git -C {mirror} fetch --all)"
        )
    if dest.exists() and any(dest.iterdir()):
        raise RepoError(f"{iid}: {dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    git(dest, "init", "-q")
    # By hash into a new repo: base and its ancestors only, no refs of the clone.
    git(dest, "fetch", "-q", "--no-tags", "--", str(mirror.resolve()), base)
    git(dest, "checkout", "-q", "--detach", base)
    head = git(dest, "rev-parse", "HEAD").strip()
    if head != base:  # pragma: no cover - git checked out something else
        raise RepoError(f"{iid}: checked out {head[:12]}, not base_commit {base[:12]}")
    return dest


def _cached_mirror(instance: Instance, repo_url: str | None) -> Path:
    """The cached bare mirror of the instance's repo holding its `base_commit`: cloned on
    first use, fetched when it lacks the commit; one worker at a time per repository."""
    from sandboxes.cache import build_lock

    repo, base, iid = instance["repo"], instance["base_commit"], instance["instance_id"]
    url = repo_url_for(repo, repo_url)
    mirror = mirror_cache_path(repo)
    with build_lock(f"repo-{slug(repo)}"):
        if not (mirror / "HEAD").is_file():
            partial = mirror.with_name(f".{mirror.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)  # left by a killed clone
            shutil.rmtree(mirror, ignore_errors=True)
            mirror.parent.mkdir(parents=True, exist_ok=True)
            _network(
                iid,
                repo,
                url,
                "clone",
                mirror.parent,
                ["clone", "-q", "--bare", "--", url, str(partial)],
            )
            partial.rename(mirror)
        if not _has_commit(mirror, base):
            _network(
                iid,
                repo,
                url,
                "fetch",
                mirror,
                [
                    "fetch",
                    "-q",
                    "--",
                    url,
                    "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*",
                ],
            )
        if not _has_commit(mirror, base):
            # Not on a branch or tag (e.g. a deleted PR branch): ask for it by hash, and
            # keep a ref to it so that gc never drops it.
            _network(
                iid,
                repo,
                url,
                "fetch",
                mirror,
                ["fetch", "-q", "--", url, f"+{base}:refs/swe-bench/{base}"],
                missing=base,
            )
    return mirror


def _network(
    iid: str,
    repo: str,
    url: str,
    what: str,
    cwd: Path,
    args: list[str],
    missing: str | None = None,
) -> None:
    """Run a git clone/fetch from `url`; a failure is one `RepoSourceError` line."""
    offline = f"offline? pass --repos-dir DIR with clones as DIR/{slug(repo)}"
    try:
        proc = _run_git(cwd, args, timeout=CLONE_TIMEOUT, env=_NO_PROMPT)
    except subprocess.TimeoutExpired:
        raise RepoSourceError(
            f"{iid}: git {what} of {url} timed out after {CLONE_TIMEOUT:g} s; {offline}"
        ) from None
    if proc.returncode == 0:
        return
    if missing:
        raise RepoSourceError(
            f"{iid}: {url} does not have base_commit {missing} "
            f"({_reason(proc.stderr)}); pass --repos-dir DIR with a clone holding it "
            f"as DIR/{slug(repo)}"
        )
    raise RepoSourceError(f"{iid}: cannot {what} {url} ({_reason(proc.stderr)}); {offline}")


def _reason(stderr: str) -> str:
    """Git's first `fatal:` line (its last line otherwise), printable and short."""
    lines = [" ".join(line.split()) for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    text = (fatal or lines or ["no message"])[0 if fatal else -1]
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text[:200]
