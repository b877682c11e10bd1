"""Environments without a registry: built once, cached by hash, never rebuilt; and the
one-line errors a user sees when Docker is missing, a build fails or the disk is full.
Ready-made images (SWE-bench's official ones): found locally, used as is, pulled once,
built from Dockerfile text."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from sandbox_helpers import DOCKER, ENV, labelled_containers, make_repo

from foundation.errors import UserError
from sandboxes import (
    TIMEOUT,
    BuildError,
    DiskFullError,
    EnvSpec,
    Limits,
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


# -- ready-made images (SWE-bench's official ones): found, pulled once, built, used as is ---

_docker_ok, _docker_why = docker_available()
needs_docker = pytest.mark.skipif(not _docker_ok, reason=f"Docker engine: {_docker_why}")


def _client() -> Any:
    from sandboxes import engine

    return engine.client()


def _env_images() -> set[str]:
    return {img.id for img in _client().images.list(name=images.ENV_REPO)}


def _remove_image(name: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        _client().images.remove(name, force=True)


@pytest.fixture
def instance_image() -> Iterator[str]:
    """An image under an official SWE-bench instance-image name, made here without a registry:
    our cached base image with a file at /testbed and an env var of its own."""
    from sandboxes import engine

    client = _client()
    name = f"swebench/sweb.eval.x86_64.acme_1776_widget-{secrets.token_hex(4)}:latest"
    container = client.containers.create(
        images.ensure_base_image(client),
        command=["bash", "-c", "mkdir -p /testbed && echo hello from the image > /testbed/hi.txt"],
        labels={engine.LABEL: "build", **engine.owner_labels()},
        network_mode="none",
    )
    try:
        container.start()
        assert container.wait(timeout=60)["StatusCode"] == 0
        container.commit(repository=name.split(":")[0], tag="latest", changes=["ENV MARK=image"])
    finally:
        container.remove(force=True)
    try:
        yield name
    finally:
        _remove_image(name)


@pytest.mark.docker
@needs_docker
def test_an_official_image_is_found_and_used_as_is(
    instance_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client()
    assert images.find_image(client, ["swebench/nope:latest", instance_image]) == instance_image
    assert images.find_image(client, ["swebench/nope:latest"]) is None
    before = _env_images()

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("an image was built or pulled for a ready-made image")

    for builder in ("ensure_env_image", "ensure_base_image", "build_image", "_pull"):
        monkeypatch.setattr(images, builder, no_build)
    prelude = "export FOO=bar"
    with open_sandbox("docker", image=instance_image, prelude=prelude, limits=Limits()) as sb:
        assert sb.exec("pwd").stdout.strip() == "/testbed" == sb.workdir
        assert sb.exec("cat hi.txt").stdout == "hello from the image\n"
        assert sb.read_file("hi.txt") == "hello from the image\n"
        # The prelude runs in the command's bash; the image's own environment applies.
        assert sb.exec("echo $FOO $MARK").stdout == "bar image\n"
        # Exit codes and timeouts are the command's, prelude or not.
        failed = sb.exec("echo out; exit 3")
        assert (failed.exit_code, failed.stdout, failed.timed_out) == (3, "out\n", False)
        started = time.monotonic()
        slow = sb.exec("sleep 30", timeout=1)
        assert slow.timed_out and slow.reason == TIMEOUT and time.monotonic() - started < 10
        assert sb.exec("true").ok  # usable after a timeout
        # The same container settings as any sandbox: labels for gc, no network, init.
        assert labelled_containers() == [sb.container.name]  # type: ignore[attr-defined]
        sb.container.reload()  # type: ignore[attr-defined]
        host = sb.container.attrs["HostConfig"]  # type: ignore[attr-defined]
        assert host["NetworkMode"] == "none" and host["Init"] is True
        assert "no-new-privileges" in host["SecurityOpt"]
    assert labelled_containers() == []
    assert _env_images() == before


@pytest.mark.docker
@needs_docker
def test_a_repo_is_copied_into_a_ready_made_image(instance_image: str, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    with open_sandbox("docker", repo_dir=repo, image=instance_image) as sb:
        result = sb.exec("cat hi.txt pkg/__init__.py && echo [$FOO]")
    assert result.ok, result.stderr
    assert result.stdout.startswith("hello from the image\ndef add(a, b):")
    assert result.stdout.endswith("[]\n")  # no prelude: nothing extra set


def test_a_ready_made_image_needs_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "swebench/sweb.eval.x86_64.acme_1776_widget-1:latest"
    with pytest.raises(SandboxUnavailable, match="needs Docker") as info:
        open_sandbox("local", image=name)
    assert isinstance(info.value, UserError) and name in str(info.value)
    with pytest.raises(SandboxUnavailable, match="prelude needs the docker sandbox"):
        open_sandbox("local", prelude="export FOO=bar")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    try:
        docker_available(refresh=True)
        with pytest.raises(SandboxUnavailable, match="needs Docker: Docker is not running") as info:
            open_sandbox("auto", image=name)
        message = str(info.value)
        assert "\n" not in message and "--sandbox local" not in message
    finally:
        monkeypatch.delenv("DOCKER_HOST")
        docker_available(refresh=True)


@pytest.mark.docker
@needs_docker
def test_a_failed_pull_is_one_quick_line_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "_failed_pulls", {})
    name = f"127.0.0.1:9/nope/img-{secrets.token_hex(4)}:latest"  # a closed port
    started = time.monotonic()
    with pytest.raises(BuildError) as info:
        images.pull_image(_client(), name, timeout=60)
    assert time.monotonic() - started < 15
    message = str(info.value)
    assert isinstance(info.value, UserError) and name in message and "\n" not in message
    assert "connection refused" in message
    untouched = mock.MagicMock()
    with pytest.raises(BuildError, match="not retried") as again:
        images.pull_image(untouched, name)
    assert name in str(again.value) and untouched.mock_calls == []


def test_a_hanging_pull_is_bounded_by_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker.errors

    monkeypatch.setattr(images, "_failed_pulls", {})
    release = threading.Event()

    def missing(name: str) -> None:
        raise docker.errors.ImageNotFound(name)

    def never_answers(name: str, **kwargs: object) -> Iterator[dict[str, str]]:
        release.wait(30)
        yield {"status": "too late"}

    # A Docker client whose registry never answers.
    hanging = SimpleNamespace(
        images=SimpleNamespace(get=missing), api=SimpleNamespace(pull=never_answers)
    )
    started = time.monotonic()
    try:
        with pytest.raises(BuildError, match=r"pulling image registry\.invalid/x:1 timed out"):
            images.pull_image(hanging, "registry.invalid/x:1", timeout=0.5)
    finally:
        release.set()
    assert time.monotonic() - started < 5


@pytest.fixture
def built_names() -> Iterator[list[str]]:
    """Names of images a test builds; removed afterwards."""
    names: list[str] = []
    try:
        yield names
    finally:
        for name in names:
            _remove_image(name)


@pytest.mark.docker
@needs_docker
def test_build_image_from_dockerfile_text(
    built_names: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client()
    base = images.ensure_base_image(client)
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "data.txt").write_text("from the context\n")
    name = f"agents-search-test/built-{secrets.token_hex(4)}:v1"
    built_names.append(name)
    dockerfile = f"FROM {base}\nRUN echo hi > /built.txt\nCOPY data.txt /data.txt\n"
    images.build_image(client, name, dockerfile, tmp_path / "ctx")
    output = client.containers.run(
        name, ["cat", "/built.txt", "/data.txt"], remove=True, network_mode="none"
    )
    assert output == b"hi\nfrom the context\n"
    assert client.images.get(name).labels.get("agents-search") == "image"

    def no_build(*args: object) -> None:
        raise AssertionError("an existing image was rebuilt")

    monkeypatch.setattr(images, "_classic_build", no_build)
    images.build_image(client, name, dockerfile, tmp_path / "ctx")  # present: nothing to do


@pytest.mark.docker
@needs_docker
def test_a_failing_image_build_says_why(built_names: list[str]) -> None:
    client = _client()
    name = f"agents-search-test/broken-{secrets.token_hex(4)}:v1"
    built_names.append(name)
    dockerfile = (
        f"FROM {images.ensure_base_image(client)}\nRUN echo cannot-build-this >&2; exit 3\n"
    )
    with pytest.raises(BuildError, match="cannot-build-this") as info:
        images.build_image(client, name, dockerfile, None)
    message = str(info.value)
    assert name in message and "non-zero code: 3" in message and "\n" not in message
    assert not images.image_exists(client, name)


@pytest.mark.docker
@needs_docker
def test_swebench_builder_is_used_with_buildx_and_its_image_renamed(
    built_names: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where `docker buildx` works, SWE-bench's builder builds under its own name (its
    `ImageSpec`, loaded from the installed swebench), then the image gets ours. The builder
    itself is stood in for (no buildx plugin here, and importing it needs `datasets`)."""
    import importlib.util
    import types

    import swebench

    path = Path(swebench.__file__).parent / "image_builder" / "image_spec.py"
    loader = importlib.util.spec_from_file_location("swebench_image_spec_for_test", path)
    assert loader is not None and loader.loader is not None
    image_spec = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(image_spec)
    client = _client()
    specs: list[Any] = []

    def build_image(spec: Any, nocache: bool = False, dry_run: bool = False) -> None:
        specs.append(spec)
        built_names.append(spec.name)
        images._classic_build(client, spec.name, spec.dockerfile, None)

    package = types.ModuleType("swebench.image_builder")
    builder = types.ModuleType("swebench.image_builder.docker_build")
    builder.build_image = build_image  # type: ignore[attr-defined]
    builder.BuildImageError = RuntimeError  # type: ignore[attr-defined]
    package.docker_build = builder  # type: ignore[attr-defined]
    package.image_spec = image_spec  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swebench.image_builder", package)
    monkeypatch.setitem(sys.modules, "swebench.image_builder.docker_build", builder)
    monkeypatch.setitem(sys.modules, "swebench.image_builder.image_spec", image_spec)
    monkeypatch.setattr(images, "_buildx_available", lambda: True)

    name = f"agents-search-test/swebench-built-{secrets.token_hex(4)}:v1"
    built_names.append(name)
    base = images.ensure_base_image(client)
    images.build_image(client, name, f"FROM {base}\nRUN echo hi > /built.txt\n", None)
    assert len(specs) == 1 and specs[0].name.startswith("sweb.eval.")
    assert images.image_exists(client, name) and not images.image_exists(client, specs[0].name)
