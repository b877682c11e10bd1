"""Repositories at an instance's `base_commit`, without GitHub.

Bundled datasets (swe-mini) ship one source snapshot per (repo, version): the fixed tree.
An instance's base is that tree with its `test_patch` and gold `patch` reverse-applied,
committed as a single root commit with fixed author, committer and dates, so its hash
equals the instance's `base_commit` on every machine. Other datasets can use local git
mirrors (`<repos_dir>/<owner>__<name>`), checked out at `base_commit`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from benchmarks.swe_bench.dataset import Instance
from foundation.errors import UserError

SNAPSHOTS = Path(__file__).parent / "data" / "repos"

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
]  # fmt: skip


class RepoError(Exception):
    """The repository for an instance cannot be materialised (the message says why)."""


def git(repo: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    """Run git in `repo` with a fixed identity and no user config; return stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(_GIT_IDENTITY)
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    proc = subprocess.run(
        ["git", *_GIT_CONFIG, *args],
        cwd=repo,
        input=input,
        capture_output=True,
        text=True,
        env=env,
    )
    if check and proc.returncode != 0:
        raise RepoError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def commit_tree(repo: Path, message: str) -> str:
    """Make `repo` (a plain directory) a git repo whose one commit holds its files."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    git(repo, "add", "-A", "-f", ".")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def snapshot_path(repo: str, version: str) -> Path:
    return SNAPSHOTS / f"{repo.replace('/', '__')}-{version}.tar.gz"


def extract_snapshot(path: Path, dest: Path) -> None:
    """Extract a snapshot tarball (flat, no leading directory) into `dest`."""
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.name.startswith(("/", "..")) or ".." in Path(member.name).parts:
                raise RepoError(f"{path.name}: unsafe path {member.name!r}")
        tar.extractall(dest, filter="data")


def base_commit_message(repo: str, version: str) -> str:
    return f"{repo} {version}"


def materialize(instance: Instance, dest: Path, repos_dir: Path | None = None) -> Path:
    """Create `dest` as a git repo checked out at `instance["base_commit"]`."""
    repo, version, base = instance["repo"], instance["version"], instance["base_commit"]
    dest.mkdir(parents=True, exist_ok=True)
    snapshot = snapshot_path(repo, version)
    if snapshot.exists():
        extract_snapshot(snapshot, dest)
        for name in ("test_patch", "patch"):
            if instance.get(name):
                _reverse_apply(dest, instance[name], name, instance["instance_id"])
        got = commit_tree(dest, base_commit_message(repo, version))
        if got != base:
            raise RepoError(
                f"{instance['instance_id']}: snapshot {snapshot.name} gives commit {got[:12]}, "
                f"not base_commit {base[:12]}; the bundled data is inconsistent"
            )
        return dest
    mirror = (repos_dir / repo.replace("/", "__")) if repos_dir else None
    if mirror is None or not mirror.exists():
        hint = f" (looked in {mirror})" if mirror else ""
        raise UserError(
            f"no source for {repo}{hint}: pass --repos-dir DIR holding a git clone of it "
            f"as DIR/{repo.replace('/', '__')}"
        )
    shutil.rmtree(dest)
    git(mirror.parent, "clone", "-q", "--no-checkout", str(mirror), str(dest))
    git(dest, "checkout", "-q", base)
    return dest


def _reverse_apply(repo: Path, patch: str, name: str, instance_id: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".diff", delete=False) as f:
        f.write(patch)
    try:
        proc = subprocess.run(
            ["git", "apply", "-R", "--whitespace=nowarn", f.name],
            cwd=repo,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        raise RepoError(
            f"{instance_id}: cannot derive the base tree ({name}): {proc.stderr[-300:]}"
        )
