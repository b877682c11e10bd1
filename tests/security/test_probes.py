"""Hostile commands against every sandbox mode, held to the table `agents sandbox status`
prints for this machine (sandboxes.guarantees): where a cell says "held" the probe is
stopped; where it says "not held" the probe gets through, so the table is honest.

Modes: docker, bwrap (the local backend with bubblewrap), plain (without it). Every probe is
bounded in time and size; the network listener is on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import (
    DETACH,
    DOCKER,
    host_processes_matching,
    kill_matching,
    marker,
    open_backend,
)

from sandboxes import OOM, OUTPUT_CAPPED, Sandbox, SandboxError, guarantees, isolation
from sandboxes import guarantees as g

MODES = [pytest.param("docker", marks=DOCKER.marks), "bwrap", "plain"]
KIND = {"docker": "docker", "bwrap": "local", "plain": "local-plain"}


@pytest.fixture(scope="module")
def claims() -> dict[str, dict[str, g.Cell]]:
    return guarantees.table()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def held(claims: dict[str, dict[str, g.Cell]], key: str, mode: str) -> bool:
    """What the table claims for `mode` (skip where the mode is not available here)."""
    cell = claims[key][mode]
    if cell.state == g.UNAVAILABLE:
        pytest.skip(f"{mode} is not available here: {cell.reason}")
    return cell.held


@contextlib.contextmanager
def sandbox(mode: str, **limits: float) -> Iterator[Sandbox]:
    with open_backend(KIND[mode], None, **limits) as sb:
        if mode != "docker":  # the mode under test is the one that runs
            assert sb.bwrap == (mode == "bwrap")
        yield sb


@pytest.fixture
def host() -> Iterator[Path]:
    """A host directory no sandbox owns: /var/tmp/agents-probe-*, readable by everyone,
    with a private file (0600, ours) and a world-writable subdirectory `open`."""
    where = Path("/var/tmp") / f"agents-probe-{secrets.token_hex(6)}"
    where.mkdir(mode=0o755)
    try:
        where.chmod(0o755)
        (where / "secret").write_text(f"elsewhere-{secrets.token_hex(8)}\n")
        (where / "secret").chmod(0o600)
        (where / "open").mkdir()
        (where / "open").chmod(0o777)
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def home_secret() -> Iterator[Path]:
    """A private file (0600, ours) in our home directory (ssh keys live there)."""
    where = Path.home() / f".agents-probe-{secrets.token_hex(6)}"
    where.mkdir(mode=0o700)
    try:
        (where / "secret").write_text(f"home-{secrets.token_hex(8)}\n")
        (where / "secret").chmod(0o600)
        yield where / "secret"
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_host_private_files(
    mode: str, claims: dict[str, dict[str, g.Cell]], host: Path, home_secret: Path
) -> None:
    claim = held(claims, g.PRIVATE_FILES, mode)
    with sandbox(mode) as sb:
        got = sb.exec(f"cat {home_secret}; cat {host}/secret; head -c 200 /etc/shadow", timeout=30)
    in_home = home_secret.read_text().strip() in got.stdout
    assert in_home == (not claim), (claims[g.PRIVATE_FILES][mode], got)
    if os.geteuid() == 0 and claim:  # root's files anywhere, not only under /root
        assert (host / "secret").read_text().strip() not in got.stdout
        if mode != "docker":  # a container's /etc/shadow is its own
            assert "root:" not in got.stdout


def test_writes_outside_the_workdir(
    mode: str, claims: dict[str, dict[str, g.Cell]], host: Path
) -> None:
    claim = held(claims, g.WRITES, mode)
    etc = Path("/etc") / host.name
    with sandbox(mode) as sb:
        sb.exec(f"echo x > {host}/open/pwned; echo x > {host}/pwned; echo x > {etc}", timeout=30)
    assert not (host / "pwned").exists() and not etc.exists()  # never, in any mode
    assert (host / "open" / "pwned").exists() == (not claim), claims[g.WRITES][mode]


_CONNECT = """
import socket, sys
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(path)
        print("CONNECTED", path)
    except OSError as exc:
        print("refused", path, exc)
"""


def test_docker_socket(mode: str, claims: dict[str, dict[str, g.Cell]]) -> None:
    claim = held(claims, g.DOCKER_SOCKET, mode)
    paths = [p for p in isolation.docker_socket_paths() if os.path.exists(p)]
    with sandbox(mode) as sb:
        sb.write_file("probe.py", _CONNECT)
        got = sb.exec(f"python probe.py {' '.join(paths)}", timeout=30)
        listing = sb.exec("ls -la /run/ /var/run/", timeout=30).stdout
    assert ("CONNECTED" in got.stdout) == (not claim), (claims[g.DOCKER_SOCKET][mode], got)
    if mode == "bwrap":  # /run is empty, not merely closed
        assert "docker" not in listing, listing


_REACH = """
import socket, sys
for host, port in (("127.0.0.1", int(sys.argv[1])), (sys.argv[2], 443)):
    if host == "-":
        continue
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("REACHED", host)
    except OSError as exc:
        print("unreachable", host, exc)
"""


def test_network(mode: str, claims: dict[str, dict[str, g.Cell]]) -> None:
    claim = held(claims, g.NETWORK, mode)
    outside = "1.1.1.1"
    try:
        socket.create_connection((outside, 443), timeout=3).close()
    except OSError:
        outside = "-"  # the host itself cannot reach it: probe the listener only
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # connections complete in the backlog, no accept needed
        port = listener.getsockname()[1]
        with sandbox(mode) as sb:
            sb.write_file("probe.py", _REACH)
            got = sb.exec(f"python probe.py {port} {outside}", timeout=30)
    assert ("REACHED 127.0.0.1" in got.stdout) == (not claim), (claims[g.NETWORK][mode], got)
    if outside != "-":
        assert (f"REACHED {outside}" in got.stdout) == (not claim), got


_FORKS = """
import os, time
children = []
for _ in range(150):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
print("started", len(children), flush=True)
for pid in children:
    os.kill(pid, 9)
"""


def test_process_count_limit(mode: str, claims: dict[str, dict[str, g.Cell]]) -> None:
    claim = held(claims, g.PROCESSES, mode)
    with sandbox(mode, pids=40) as sb:
        sb.write_file("probe.py", _FORKS)
        got = sb.exec("python probe.py", timeout=60)
        assert sb.exec("echo alive", timeout=30).stdout == "alive\n"
    started = int(got.stdout.split()[1])
    assert (started < 40) == claim, (claims[g.PROCESSES][mode], got)


def test_output_is_capped(mode: str, claims: dict[str, dict[str, g.Cell]]) -> None:
    claim = held(claims, g.OUTPUT, mode)
    writer = "import sys; sys.stdout.write('x' * 100_000_000)"
    with sandbox(mode, output_bytes=64 * 1024) as sb:
        got = sb.exec(f'python -c "{writer}"', timeout=120)
    assert claim and got.reason == OUTPUT_CAPPED and len(got.stdout) < 70 * 1024


def test_timeout_kills_the_whole_tree(mode: str, claims: dict[str, dict[str, g.Cell]]) -> None:
    claim = held(claims, g.TIMEOUT, mode)
    detached, child = marker(), marker()
    cmd = f"setsid sleep {detached} >/dev/null 2>&1 </dev/null & sleep {child} & sleep 60"
    try:
        with sandbox(mode) as sb:
            started = time.monotonic()
            got = sb.exec(cmd, timeout=2)
            assert got.timed_out and time.monotonic() - started < 40
            assert host_processes_matching(f"sleep\0{child}".encode()) == []
            left = host_processes_matching(f"sleep\0{detached}".encode())
            assert (left == []) == claim, (claims[g.TIMEOUT][mode], left)
    finally:
        kill_matching(f"sleep\0{detached}".encode())


def test_memory_limit_is_for_the_whole_sandbox(
    mode: str, claims: dict[str, dict[str, g.Cell]]
) -> None:
    """Five processes of ~100 MB under a 256 MB limit: per-process rlimits let all five
    live; one limit for the whole sandbox cannot."""
    claim = held(claims, g.MEMORY, mode)
    hog = "import time; b = b'x' * (100 << 20); time.sleep(6); print('survived', flush=True)"
    with sandbox(mode, memory_mb=256) as sb:
        sb.write_file("hog.py", hog)
        got = sb.exec("for i in 1 2 3 4 5; do python hog.py & done; wait", timeout=90)
        assert sb.exec("echo alive", timeout=30).stdout == "alive\n"
    survivors = got.stdout.count("survived")
    assert (survivors < 5) == claim, (claims[g.MEMORY][mode], got)
    if claim:
        assert got.reason == OOM, got


def test_no_process_left_after_close(mode: str, claims: dict[str, dict[str, g.Cell]]) -> None:
    claim = held(claims, g.LEFTOVERS, mode)
    detached = marker()
    needle = f"\0detached-{detached}\0".encode()
    try:
        with sandbox(mode) as sb:
            got = sb.exec(DETACH.format(marker=detached) + "; echo started", timeout=60)
            assert got.stdout == "started\n", got
        for _ in range(50):  # a container's processes may take a moment to be reaped
            if not host_processes_matching(needle):
                break
            time.sleep(0.2)
        assert (host_processes_matching(needle) == []) == claim, claims[g.LEFTOVERS][mode]
    finally:
        kill_matching(needle)


def test_supplementary_groups(mode: str, claims: dict[str, dict[str, g.Cell]]) -> None:
    claim = held(claims, g.GROUPS, mode)
    if mode == "docker":
        pytest.skip("a container's groups are its own: no host file or socket is visible")
    with sandbox(mode) as sb:
        got = sb.exec("grep '^Groups:' /proc/self/status", timeout=30)
    groups = got.stdout.split()[1:]
    if claim:
        assert groups == [], got
    elif os.getgroups():
        assert len(groups) == len(os.getgroups()), got


def test_file_operations_never_follow_symlinks_out(
    mode: str, claims: dict[str, dict[str, g.Cell]], host: Path
) -> None:
    claim = held(claims, g.FILE_OPS, mode)
    assert claim
    with sandbox(mode) as sb:
        assert sb.exec(f"ln -s {host}/secret leak && ln -s / up", timeout=30).ok
        with contextlib.suppress(OSError, SandboxError):
            assert (host / "secret").read_text() not in sb.read_file("leak")
        with contextlib.suppress(OSError, SandboxError):
            sb.write_file(f"up{host}/open/written", "x")
    assert not (host / "open" / "written").exists()


def test_the_host_can_still_start_processes() -> None:
    assert subprocess.run(["true"], timeout=30).returncode == 0
