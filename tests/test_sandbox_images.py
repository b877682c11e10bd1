"""Environments without a registry: built once, cached by hash, never rebuilt; and the
one-line errors a user sees when Docker is missing, a build fails or the disk is full."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sandbox_helpers import DOCKER, ENV, labelled_containers, make_repo

from foundation.errors import UserError
from sandboxes import (
    BuildError,
    DiskFullError,
    EnvSpec,
    SandboxUnavailable,
    docker_available,
    images,
    open_sandbox,
    prepare_env,
    resolve_kind,
    venvs,
)


def test_spec_hash_is_stable_and_tracks_what_is_installed() -> None:
    same = EnvSpec(pip_packages=["iniconfig==2.0.0"])  # a list is accepted, stored as a tuple
    assert same == ENV and same.digest() == ENV.digest() and len(ENV.digest()) == 16
    assert EnvSpec(pip_packages=("iniconfig==1.1.1",)).digest() != ENV.digest()
    assert EnvSpec(setup_commands=("true",)).digest() != EnvSpec().digest()
    assert ENV.digest(salt="base-a") != ENV.digest(salt="base-b")


def test_builds_use_the_real_pypi_with_the_host_ca_and_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")
    env = images.build_env_vars()
    assert env["PIP_CONFIG_FILE"] == "/dev/null"  # the host's private index is not visible
    assert env["PIP_INDEX_URL"] == "https://pypi.org/simple"
    assert env["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert "PIP_FIND_LINKS" not in env
    if images.HOST_CA.exists():
        assert env["PIP_CERT"] == env["REQUESTS_CA_BUNDLE"] == images.CONTAINER_CA
    script = images.env_script(EnvSpec(pip_packages=("attrs>=23,<24",)))
    assert "pip install --progress-bar off 'attrs>=23,<24'" in script


@pytest.mark.parametrize("kind", [DOCKER])
def test_second_docker_run_builds_nothing(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sandboxes import engine

    tag = prepare_env(kind, ENV)  # builds the base and the env image on a fresh machine
    image_id = engine.client().images.get(tag).id

    def no_build(*args: object) -> None:
        raise AssertionError("a cached image was rebuilt")

    monkeypatch.setattr(images, "_build_env_image", no_build)
    monkeypatch.setattr(images, "_build_base_image", no_build)
    assert prepare_env(kind, ENV) == tag
    with open_sandbox(kind, ENV) as sb:
        result = sb.exec("git --version && patch --version | head -1 && pip --version")
    assert result.ok, result.stderr
    assert engine.client().images.get(tag).id == image_id
    assert tag == f"agents-search/env:{ENV.digest(salt=images.BASE_TAG)}"


def test_second_local_run_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(prepare_env("local", ENV))
    assert (path / "bin" / "python").exists()

    def no_build(*args: object) -> None:
        raise AssertionError("a cached venv was rebuilt")

    monkeypatch.setattr(venvs, "_build", no_build)
    assert Path(prepare_env("local", ENV)) == path


def test_concurrent_workers_build_one_venv_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTS_SEARCH_CACHE", str(tmp_path / "cache"))
    log = tmp_path / "builds.log"
    spec = EnvSpec(setup_commands=(f"echo built >> {log}",))
    paths: list[str] = []
    workers = [
        threading.Thread(target=lambda: paths.append(prepare_env("local", spec))) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(set(paths)) == 1 and log.read_text() == "built\n"


@pytest.mark.parametrize("kind", [DOCKER, "local"])
def test_a_failing_build_says_why_and_leaves_nothing(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTS_SEARCH_CACHE", str(tmp_path / "cache"))
    spec = EnvSpec(setup_commands=("echo 'no such tool here' >&2; exit 7",))
    with pytest.raises(BuildError, match="no such tool here") as info:
        prepare_env(kind, spec)
    assert isinstance(info.value, UserError)
    if kind == "docker":
        assert labelled_containers() == []
    else:
        assert not venvs.venv_path(spec).exists()


def test_docker_not_running_is_one_clear_line_with_the_local_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    try:
        ok, reason = docker_available(refresh=True)
        assert not ok and "--sandbox local" in reason and "\n" not in reason
        assert resolve_kind("auto") == "local"
        with pytest.raises(SandboxUnavailable, match="--sandbox local") as info:
            open_sandbox("docker", ENV)
        assert isinstance(info.value, UserError)
        cli = subprocess.run(
            [sys.executable, "-m", "agents.cli", "sandbox", "gc"],
            capture_output=True,
            text=True,
            env=dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock"),
        )
        # gc still removes local leftovers, and says why it checked no container.
        assert cli.returncode == 0 and "Traceback" not in cli.stderr, cli.stderr
        assert cli.stdout.startswith("containers: not checked (Docker is not running")
    finally:
        monkeypatch.delenv("DOCKER_HOST")
        docker_available(refresh=True)


def test_unknown_backend_is_a_user_error() -> None:
    with pytest.raises(SandboxUnavailable, match="docker, local or auto"):
        resolve_kind("vm")


def test_disk_full_messages_are_typed_and_one_line() -> None:
    with pytest.raises(DiskFullError) as info:
        images._raise_build_failure("x", "step 3\nOSError: [Errno 28] No space left on device\n")
    assert isinstance(info.value, UserError) and "\n" not in str(info.value)
    with pytest.raises(DiskFullError):
        images._reraise_disk_full(RuntimeError("write /var/lib/docker/x: no space left on device"))


@pytest.fixture
def full_disk(tmp_path: Path):
    """A 2 MiB tmpfs (needs root and mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root")
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def test_no_disk_space_for_a_venv(full_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_SEARCH_CACHE", str(full_disk))
    with pytest.raises(DiskFullError, match="no space left"):
        prepare_env("local", EnvSpec(setup_commands=("head -c 4000000 /dev/zero > big",)))


def test_no_disk_space_for_a_working_copy(
    full_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    repo = make_repo(tmp_path)
    (repo / "big.bin").write_bytes(b"\0" * 3_000_000)
    prepare_env("local", ENV)
    monkeypatch.setattr(tempfile, "tempdir", str(full_disk))
    with pytest.raises(DiskFullError, match="no space left"):
        open_sandbox("local", ENV, repo_dir=repo)
    assert list(full_disk.iterdir()) == []
