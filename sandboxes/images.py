"""Docker images without a registry: a debootstrapped Debian base, and per-environment layers.

The base is built once per machine (`debootstrap --variant=minbase`, then `docker import`)
and cached by tag. Each `EnvSpec` becomes one image committed on top of the base, tagged by
the spec's hash, so a second run builds nothing. Builds get the host's CA bundle and proxy
settings, and pip talks to the real PyPI (not the host's private index or find-links).

Ready-made images (e.g. SWE-bench's official instance images) are found locally
(`find_image`), pulled once (`pull_image`, failures cached per process) or built from
Dockerfile text (`build_image`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sandboxes.base import BuildError, DiskFullError
from sandboxes.cache import build_lock, low_on_space
from sandboxes.engine import LABEL, PID_LABEL, WHERE_LABEL, owner_labels
from sandboxes.spec import EnvSpec

log = logging.getLogger(__name__)

SUITE = "bookworm"
BASE_TAG = f"agents-search/base:{SUITE}-v1"
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "git", "patch", "ca-certificates")
ENV_REPO = "agents-search/env"
VENV = "/opt/env"
PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# The host's CA bundle is copied into every environment image (a bind mount would be
# recorded as a VOLUME by `docker commit`), so pip and git trust the same roots as the host.
CONTAINER_CA = "/etc/ssl/certs/host-ca-bundle.crt"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
BUILD_TIMEOUT = 1800.0
PULL_TIMEOUT = 600.0


def base_image() -> str:
    """The base tag: `$AGENTS_SANDBOX_BASE_IMAGE` (any image with python3, venv, git) or ours."""
    return os.environ.get("AGENTS_SANDBOX_BASE_IMAGE") or BASE_TAG


def env_tag(spec: EnvSpec) -> str:
    return f"{ENV_REPO}:{spec.digest(salt=base_image())}"


def image_exists(client: Any, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def ensure_env_image(client: Any, spec: EnvSpec) -> str:
    """The tag of `spec`'s image, building it (and the base) only when missing."""
    tag = env_tag(spec)
    if image_exists(client, tag):
        return tag
    ensure_base_image(client)
    with build_lock(tag.replace("/", "_").replace(":", "_")):
        if not image_exists(client, tag):
            _build_env_image(client, spec, tag)
    return tag


def ensure_base_image(client: Any) -> str:
    tag = base_image()
    if image_exists(client, tag):
        return tag
    if tag != BASE_TAG:
        raise BuildError(f"AGENTS_SANDBOX_BASE_IMAGE={tag} is not present; load or build it first")
    with build_lock("base"):
        if not image_exists(client, tag):
            _build_base_image(client)
    return tag


def build_env_vars() -> dict[str, str]:
    """Environment for builds and networked sandboxes: CA bundle, proxies, the real PyPI."""
    env = {k: v for k, v in os.environ.items() if k in PROXY_VARS}
    env.update(
        PIP_CONFIG_FILE="/dev/null",  # ignore any pip.conf: the host's index is not reachable
        PIP_INDEX_URL=os.environ.get("AGENTS_SANDBOX_PIP_INDEX_URL", "https://pypi.org/simple"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_DEFAULT_TIMEOUT="120",
    )
    if HOST_CA.exists():
        for key in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "GIT_SSL_CAINFO"):
            env[key] = CONTAINER_CA
    return env


def env_script(spec: EnvSpec) -> str:
    """The shell script that turns the base into `spec`'s environment (also used locally)."""
    python = "python3" if spec.python in ("3", "") else f"python{spec.python}"
    exports = [f"export {k}={shlex.quote(v)}" for k, v in sorted(build_env_vars().items())]
    lines = ["set -eux", *exports, "cd /tmp", f"{python} -m venv {VENV}"]
    lines.append(f'export PATH="{VENV}/bin:$PATH"')
    if spec.pip_packages:
        lines.append(
            "pip install --progress-bar off " + " ".join(map(shlex.quote, spec.pip_packages))
        )
    lines.extend(spec.setup_commands)
    lines.append("rm -rf /root/.cache/pip")
    return "\n".join(lines) + "\n"


def _build_env_image(client: Any, spec: EnvSpec, tag: str) -> None:
    started = time.monotonic()
    log.info("building %s (%s)", tag, spec)
    container = client.containers.create(
        base_image(),
        command=["bash", "-c", env_script(spec)],
        labels={LABEL: "build", **owner_labels()},
        network_mode="bridge",
    )
    try:
        if HOST_CA.exists():
            _put_file(container, CONTAINER_CA, HOST_CA.read_bytes())
        container.start()
        status = container.wait(timeout=BUILD_TIMEOUT)
        logs = container.logs(stdout=True, stderr=True).decode(errors="replace")
        if status.get("StatusCode") != 0:
            if low_on_space(client.info().get("DockerRootDir", "/var/lib/docker")):
                logs += "\nNo space left on device"
            _raise_build_failure(f"environment image {tag}", logs)
        container.commit(
            repository=tag.split(":")[0],
            tag=tag.split(":")[1],
            changes=[
                f"ENV PATH={PATH}",
                f"ENV VIRTUAL_ENV={VENV}",
                f"LABEL {LABEL}=env {PID_LABEL}= {WHERE_LABEL}=",
                'CMD ["/bin/bash"]',
            ],
        )
    except Exception as exc:
        _reraise_disk_full(exc)
        raise
    finally:
        container.remove(force=True)
    log.info("built %s in %.0fs", tag, time.monotonic() - started)


def _build_base_image(client: Any) -> None:
    if os.geteuid() != 0:
        raise BuildError(
            f"building the base image {BASE_TAG} needs root (debootstrap); run once as root, "
            "or set AGENTS_SANDBOX_BASE_IMAGE to an image with python3, venv, pip and git"
        )
    if shutil.which("debootstrap") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], capture_output=True)
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is missing; install it with `apt-get install debootstrap`")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="agents-search-base-", dir="/var/tmp"))
    root = work / "root"
    try:
        cmd = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            SUITE,
            str(root),
            debian_mirror(),
        ]
        log.info("debootstrap: %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            _raise_build_failure("base image (debootstrap)", proc.stdout + proc.stderr)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (root / junk).glob("*"):
                if item.is_file():
                    item.unlink()
        tarball = work / "root.tar"
        tar = subprocess.run(
            ["tar", "-C", str(root), "--numeric-owner", "-cf", str(tarball), "."],
            capture_output=True,
            text=True,
        )
        if tar.returncode != 0:
            _raise_build_failure("base image (tar)", tar.stderr)
        repo, tag = BASE_TAG.split(":")
        client.api.import_image_from_file(
            str(tarball),
            repository=repo,
            tag=tag,
            changes=[f"ENV PATH={PATH}", f"LABEL {LABEL}=base", 'CMD ["/bin/bash"]'],
        )
    except Exception as exc:
        _reraise_disk_full(exc)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("built %s in %.0fs", BASE_TAG, time.monotonic() - started)


def debian_mirror() -> str:
    """`$AGENTS_SANDBOX_DEBIAN_MIRROR`, else the host's apt mirror for Debian, else deb.debian.org."""
    override = os.environ.get("AGENTS_SANDBOX_DEBIAN_MIRROR")
    if override:
        return override
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        for url in re.findall(r"https?://\S+", text):
            if re.search(r"/debian/?$", url) and "security" not in url:
                return str(url).rstrip("/")
    return "http://deb.debian.org/debian"


# -- ready-made images: find, pull, build ---------------------------------------------------

# Pulls that failed in this process, by image name: a run over many instances tries each once.
_failed_pulls: dict[str, str] = {}
_failed_lock = threading.Lock()


def find_image(client: Any, names: Sequence[str]) -> str | None:
    """The first of `names` present locally, else None (never pulls)."""
    for name in names:
        if image_exists(client, name):
            return name
    return None


def pull_image(client: Any, name: str, timeout: float = PULL_TIMEOUT) -> None:
    """Pull `name` once (a no-op when present); BuildError with a one-line reason if it fails.

    Bounded by `timeout` seconds (an unreachable registry must not hang a run). A failure is
    remembered for the rest of the process: a second call raises again without asking Docker.
    """
    with _failed_lock:
        cached = _failed_pulls.get(name)
    if cached is not None:
        raise BuildError(f"{cached} (failed earlier in this run; not retried)")
    try:
        with build_lock("pull_" + _lock_name(name)):
            if not image_exists(client, name):
                _pull(client, name, timeout)
    except DiskFullError:
        raise
    except BuildError as exc:
        _remember_failed_pull(name, str(exc))
        raise
    except Exception as exc:  # e.g. an invalid reference, refused by `images.get`
        message = f"pulling image {name} failed: {_one_line(_explain(exc))}"
        _remember_failed_pull(name, message)
        raise BuildError(message) from exc


def _remember_failed_pull(name: str, message: str) -> None:
    with _failed_lock:
        _failed_pulls[name] = message


def _pull(client: Any, name: str, timeout: float) -> None:
    outcome: list[str] = []  # an error message; empty when the pull finished cleanly

    def run() -> None:
        try:
            last = ""
            for item in client.api.pull(name, stream=True, decode=True):
                if isinstance(item, dict) and item.get("error"):
                    last = _one_line(item["error"])
                    break
            outcome.append(last)
        except Exception as exc:
            outcome.append(_one_line(_explain(exc)))

    started = time.monotonic()
    worker = threading.Thread(target=run, name=f"pull {name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        # The daemon keeps pulling in the background; this run stops waiting for it.
        raise BuildError(f"pulling image {name} timed out after {timeout:g}s")
    error = outcome[0] if outcome else "the pull ended without a result"
    if not error and not image_exists(client, name):
        error = "the pull finished but the image is not present"
    if error:
        if "no space left on device" in error.lower():
            raise DiskFullError(f"no space left on device while pulling {name}; free disk space")
        raise BuildError(f"pulling image {name} failed: {error}")
    log.info("pulled %s in %.0fs", name, time.monotonic() - started)


def build_image(client: Any, name: str, dockerfile: str, context_dir: Path | None) -> None:
    """Build `dockerfile` (its text) into an image tagged `name`; a no-op when it exists.

    `context_dir` is the build context (for COPY/ADD); None means an empty one. A per-name
    lock stops two workers building one image twice. Uses SWE-bench's builder
    (`docker buildx build`) when buildx and that builder are usable, else Docker's classic
    builder through the API. Failures raise BuildError with the tail of the build log.
    """
    if image_exists(client, name):
        return
    with build_lock("image_" + _lock_name(name)):
        if image_exists(client, name):
            return
        started = time.monotonic()
        log.info("building %s", name)
        try:
            builder = _swebench_builder()
            if builder is not None:
                builder(client, name, dockerfile, context_dir)
            else:
                _classic_build(client, name, dockerfile, context_dir)
        except Exception as exc:
            _reraise_disk_full(exc)
            raise
        log.info("built %s in %.0fs", name, time.monotonic() - started)


def _classic_build(client: Any, name: str, dockerfile: str, context_dir: Path | None) -> None:
    """Docker's classic builder (no buildx plugin needed), streaming the log."""
    if context_dir is not None and not Path(context_dir).is_dir():
        raise BuildError(f"build context {context_dir} for image {name} is not a directory")
    with tempfile.TemporaryDirectory(prefix="agents-search-build-") as scratch:
        # The Dockerfile lives outside the context; docker-py adds it to the context's tar.
        path = Path(scratch) / "Dockerfile"
        path.write_text(dockerfile)
        context = Path(scratch) / "context"
        context.mkdir()
        lines: list[str] = []
        error = ""
        try:
            stream = client.api.build(
                path=str(context_dir if context_dir is not None else context),
                dockerfile=str(path),
                tag=name,
                pull=False,
                rm=True,
                forcerm=True,
                decode=True,
                labels={LABEL: "image"},
                timeout=BUILD_TIMEOUT,
            )
            for item in stream:
                if not isinstance(item, dict):
                    continue
                text = item.get("stream")
                if isinstance(text, str):
                    lines.extend(line for line in text.splitlines() if line.strip())
                if item.get("error"):
                    error = str(item["error"])
        except Exception as exc:
            _reraise_disk_full(exc)
            error = _one_line(_explain(exc))
    if error or not image_exists(client, name):
        lines.append(error or "no image was produced")
        _raise_build_failure(f"image {name}", "\n".join(lines))


# (client, name, dockerfile text, context dir) -> None
Builder = Callable[[Any, str, str, Path | None], None]


def _swebench_builder() -> Builder | None:
    """SWE-bench's own builder when it can run here, else None (use the classic builder).

    It shells out to `docker buildx build`, so it needs the buildx plugin. Importing it also
    imports `swebench.harness.utils`, which needs the `datasets` and `dotenv` packages; where
    those are not installed the import fails and the classic builder is used instead.
    """
    if not _buildx_available():
        return None
    try:
        from swebench.image_builder import docker_build
        from swebench.image_builder.image_spec import ImageSpec
    except Exception as exc:  # ImportError of datasets/dotenv, or no swebench at all
        log.info("SWE-bench's image builder is not importable (%s); using the classic one", exc)
        return None

    def build(client: Any, name: str, dockerfile: str, context_dir: Path | None) -> None:
        # Its ImageSpec names images itself (sweb.eval.<arch>.<id>:<tag>): build under such a
        # private name, then tag the result `name` and drop the private tag. Like SWE-bench's
        # own runs, it keeps the Dockerfile and build log under ./logs/image_builder.
        arch = "arm64" if os.uname().machine in ("aarch64", "arm64") else "amd64"
        private = "agents-search-" + hashlib.sha256(name.encode()).hexdigest()[:16]
        spec = ImageSpec(
            instance_id=private,
            dockerfile=dockerfile,
            namespace=None,
            tag="build",
            arch=arch,
            context_dir=str(context_dir) if context_dir is not None else None,
        )
        try:
            docker_build.build_image(spec)
        except docker_build.BuildImageError as exc:
            try:
                log_text = Path(exc.log_path).read_text(errors="replace")
            except OSError:
                log_text = exc.super_str
            _raise_build_failure(f"image {name}", log_text)
        built = client.images.get(spec.name)
        repository, tag = _split_name(name)
        built.tag(repository, tag)
        if spec.name != name:
            client.images.remove(spec.name)

    return build


def _buildx_available() -> bool:
    """Whether `docker buildx version` works (the CLI and its buildx plugin are installed)."""
    try:
        done = subprocess.run(
            ["docker", "buildx", "version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _split_name(name: str) -> tuple[str, str]:
    """("registry:port/repo", "tag") of an image name; the tag defaults to latest."""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, "latest"


def _lock_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _explain(exc: BaseException) -> object:
    """Docker's own message for an API error (without the request URL), else the exception."""
    return getattr(exc, "explanation", None) or exc


def _one_line(text: object) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return " | ".join(lines)[-400:] if lines else "unknown error"


def _raise_build_failure(what: str, log_text: str) -> None:
    if "No space left on device" in log_text:
        raise DiskFullError(f"no space left on device while building {what}; free disk space")
    tail = " | ".join(line for line in log_text.strip().splitlines()[-6:])
    raise BuildError(f"building {what} failed: {tail[-800:]}")


def _reraise_disk_full(exc: BaseException) -> None:
    if isinstance(exc, DiskFullError):
        return
    if "no space left on device" in str(exc).lower():
        raise DiskFullError("no space left on device for Docker images; free disk space") from exc


def _put_file(container: Any, path: str, data: bytes) -> None:
    parent, name = os.path.split(path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(parent, buffer.getvalue())
