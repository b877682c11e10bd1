"""The per-sandbox cgroup of the local backend: made and removed with the sandbox, swept
when its owner was SIGKILLed, and the fallbacks where none can be made; and the guarantees
table follows the machine's facts, not the mode's name."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sandbox_helpers import DETACH, host_processes_matching, marker, open_backend

from sandboxes import cgroups
from sandboxes import guarantees as g

REPO = Path(__file__).resolve().parents[2]
needs_cgroup = pytest.mark.skipif(
    not cgroups.available()[0], reason=f"no cgroup here: {cgroups.available()[1]}"
)


@needs_cgroup
@pytest.mark.parametrize("kind", ["local", "local-plain"])
def test_the_cgroup_lives_and_dies_with_the_sandbox(kind: str) -> None:
    with open_backend(kind, None, memory_mb=300, pids=50) as sb:
        cgroup = sb.cgroup
        assert cgroup is not None and all(d.is_dir() for d in cgroup.dirs)
        limits = {p.name: p.read_text().strip() for d in cgroup.dirs for p in d.glob("*.max")}
        limits.update(
            {p.name: p.read_text().strip() for d in cgroup.dirs for p in d.glob("*limit_in_bytes")}
        )
        assert limits.get("pids.max") == "50"
        assert str(300 << 20) in (limits.get("memory.max"), limits.get("memory.limit_in_bytes"))
        got = sb.exec("cat /proc/self/cgroup", timeout=30)
        if kind == "local-plain":  # bubblewrap's cgroup namespace shows "/" instead
            assert cgroup.dirs[0].name in got.stdout
    assert not any(d.exists() for d in cgroup.dirs)


_OWNER = textwrap.dedent(
    """
    import subprocess, sys, time
    sys.path.insert(0, {repo!r})
    from sandboxes import cgroups
    cgroup = cgroups.create(64 << 20, 16)
    child = subprocess.Popen(["sleep", {marker!r}], start_new_session=True)
    cgroup.add(child.pid)
    print(" ".join(str(d) for d in cgroup.dirs), flush=True)
    time.sleep(600)
    """
)


@needs_cgroup
def test_the_cgroups_of_a_sigkilled_owner_are_emptied_and_removed() -> None:
    mark = marker()
    script = _OWNER.format(repo=str(REPO), marker=mark)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    dirs = [Path(d) for d in owner.stdout.readline().split()]
    try:
        assert dirs and all(d.is_dir() for d in dirs)
        owner.send_signal(signal.SIGKILL)  # no chance to clean up
        owner.wait(timeout=30)
        assert host_processes_matching(f"sleep\0{mark}".encode())  # left running, in its cgroup
        removed = cgroups.remove_orphans()
        assert set(dirs) <= set(removed)
        assert not any(d.exists() for d in dirs)
        assert host_processes_matching(f"sleep\0{mark}".encode()) == []
    finally:
        for pid in host_processes_matching(f"sleep\0{mark}".encode()):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(os.geteuid() != 0, reason="the private uid exists only as root")
def test_without_a_cgroup_root_kills_every_process_of_the_private_uid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(cgroups.DISABLE_ENV, "1")
    mark = marker()
    try:
        with open_backend("local-plain", None) as sb:
            assert sb.cgroup is None
            sb.exec(DETACH.format(marker=mark), timeout=60)
            assert host_processes_matching(f"\0detached-{mark}\0".encode()) == []
        assert g.table()[g.LEFTOVERS]["plain"].held
        assert not g.table()[g.MEMORY]["plain"].held  # rlimits are per process
    finally:
        for pid in host_processes_matching(f"\0detached-{mark}\0".encode()):
            os.kill(pid, signal.SIGKILL)


def test_the_table_follows_the_facts() -> None:
    """A normal user without a cgroup, bubblewrap or Docker, in the docker group."""
    facts = g.Facts(
        root=False,
        docker=(False, "Docker is not running; start it"),
        docker_limits=(False, False),
        bwrap=(False, "bubblewrap (bwrap) is not installed"),
        cgroup=(False, "needs root or a delegated cgroup (memory and pids)"),
        docker_socket="/var/run/docker.sock",
        socket_open=True,
        docker_tcp=False,
        home_hidden=True,
        world_writable=("/tmp",),
    )
    rows = g.table(facts)
    assert {row["docker"].state for row in rows.values()} == {g.UNAVAILABLE}
    assert {row["bwrap"].state for row in rows.values()} == {g.UNAVAILABLE}
    plain = {key: row["plain"].state for key, row in rows.items()}
    for key in (g.PRIVATE_FILES, g.WRITES, g.DOCKER_SOCKET, g.NETWORK, g.MEMORY, g.GROUPS):
        assert plain[key] == g.NOT_HELD, key
    assert plain[g.LEFTOVERS] == plain[g.TIMEOUT] == g.NOT_HELD
    assert "needs root or a delegated cgroup" in rows[g.MEMORY]["plain"].reason
    # The same user as root with a cgroup: the private uid and the cgroup hold.
    root = g.table(
        dataclasses.replace(facts, root=True, cgroup=(True, "cgroup"), socket_open=False)
    )
    held = {key for key, row in root.items() if row["plain"].held}
    assert {g.PRIVATE_FILES, g.DOCKER_SOCKET, g.MEMORY, g.LEFTOVERS, g.GROUPS} <= held
    assert not root[g.WRITES]["plain"].held and not root[g.NETWORK]["plain"].held


def test_status_prints_the_backends_then_the_table() -> None:
    env = dict(os.environ, COLUMNS="200", **{cgroups.DISABLE_ENV: "1"})
    cli = subprocess.run(
        [sys.executable, "-m", "agents.cli", "sandbox", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    lines = cli.stdout.splitlines()
    assert lines[0].startswith("docker: ") and lines[1].startswith("local: yes (bubblewrap")
    assert f"local limits: per-process rlimits only (disabled by {cgroups.DISABLE_ENV})" in lines
    memory = next(line for line in lines if g.TITLES[g.MEMORY] in line)
    assert "not held" in memory and "rlimit" in memory
    for title in g.TITLES.values():
        assert title in cli.stdout, title
