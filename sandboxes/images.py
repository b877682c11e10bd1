"""Docker images without a registry: a debootstrapped Debian base, and per-environment layers.

The base is built once per machine (`debootstrap --variant=minbase`, then `docker import`)
and cached by tag. Each `EnvSpec` becomes one image committed on top of the base, tagged by
the spec's hash, so a second run builds nothing. Builds get the host's CA bundle and proxy
settings, and pip talks to the real PyPI (not the host's private index or find-links).
"""

from __future__ import annotations

import io
import logging
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
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
