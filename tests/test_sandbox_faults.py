"""Hostile commands end with a recorded reason, leave the host and the sandbox usable,
and leave nothing running behind: a command that never ends, a memory eater, a fork bomb,
100 MB on stdout; and cleanup when the owning process is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sandbox_helpers import (
    BACKENDS,
    DOCKER,
    host_processes_matching,
    labelled_containers,
    make_repo,
    open_backend,
)

from sandboxes import OOM, OUTPUT_CAPPED, PIDS_LIMIT, TIMEOUT


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


def still_usable(sandbox: object) -> None:
    result = sandbox.exec("echo alive", timeout=60)
    assert (result.stdout, result.stderr, result.reason) == ("alive\n", "", None)
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes


def test_a_command_that_runs_forever_is_killed_with_its_children(kind: str, repo: Path) -> None:
    marker = "987651"  # a sleep duration no other process on the host uses
    with open_backend(kind, repo) as sb:
        started = time.monotonic()
        result = sb.exec(f"sleep {marker} & python -c 'while True: pass'", timeout=3)
        elapsed = time.monotonic() - started
        assert (result.timed_out, result.reason, result.ok) == (True, TIMEOUT, False)
        assert 2.5 < elapsed < 40
        assert host_processes_matching(f"sleep\0{marker}".encode()) == []
        still_usable(sb)


def test_a_memory_eater_is_stopped_by_the_memory_limit(kind: str, repo: Path) -> None:
    eater = "x = []\nwhile True: x.append(bytearray(10**7))"
    with open_backend(kind, repo, memory_mb=256) as sb:
        result = sb.exec(f'python -c "{eater}"', timeout=120)
        assert (result.exit_code != 0, result.timed_out, result.reason) == (True, False, OOM)
        still_usable(sb)


def test_a_fork_bomb_is_contained_by_the_pids_limit(kind: str, repo: Path) -> None:
    with open_backend(kind, repo, pids=64) as sb:
        result = sb.exec("bomb() { bomb | bomb & }; bomb; sleep 3", timeout=60)
        assert result.reason in (PIDS_LIMIT, TIMEOUT), result
        still_usable(sb)
        assert sb.exec("for i in $(seq 20); do true & done; wait; echo done").stdout == "done\n"


def test_100_mb_on_stdout_keeps_head_and_tail(kind: str, repo: Path) -> None:
    writer = "import sys; print('HEAD'); sys.stdout.write('x' * 100_000_000); print('TAIL')"
    with open_backend(kind, repo, output_bytes=64 * 1024) as sb:
        result = sb.exec(f'python -c "{writer}"', timeout=120)
        assert (result.exit_code, result.reason) == (0, OUTPUT_CAPPED)
        assert result.stdout.startswith("HEAD\nxxx") and result.stdout.endswith("xxxTAIL\n")
        assert f"[... {100_000_010 - 64 * 1024} bytes omitted ...]" in result.stdout
        assert len(result.stdout) < 70 * 1024
        still_usable(sb)


_OWNER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from sandbox_helpers import open_backend
    sb = open_backend({kind!r}, None)
    print(getattr(sb, "root", ""), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_killing_the_owner_removes_its_sandbox(kind: str, sig: signal.Signals) -> None:
    script = _OWNER.format(tests=str(Path(__file__).parent), kind=kind)
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert owner.stdout is not None
    root = owner.stdout.readline().strip()
    if kind == "docker":
        assert len(labelled_containers(owner.pid)) == 1
    owner.send_signal(sig)
    assert owner.wait(timeout=60) != 0
    if kind == "docker":
        assert labelled_containers(owner.pid) == []
    else:
        assert root and not Path(root).exists()


@pytest.mark.parametrize("kind", [DOCKER])
def test_gc_removes_containers_whose_owner_died_and_keeps_live_ones(kind: str) -> None:
    from sandboxes import engine

    script = _OWNER.format(tests=str(Path(__file__).parent), kind=kind)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    owner.stdout.readline()
    owner.send_signal(signal.SIGKILL)  # no chance to clean up
    owner.wait(timeout=30)
    with open_backend(kind, None) as live:
        engine.remove_orphans()
        assert labelled_containers(owner.pid) == []
        assert live.container.name in labelled_containers()


@pytest.mark.parametrize("kind", [DOCKER])
def test_the_next_run_removes_what_a_sigkilled_run_left(kind: str) -> None:
    script = _OWNER.format(tests=str(Path(__file__).parent), kind=kind)
    owners = []
    for _ in range(2):
        owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert owner.stdout is not None
        owner.stdout.readline()  # its sandbox is open
        owners.append(owner)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
    # The second run's first sandbox swept the first run's container away.
    assert labelled_containers(owners[0].pid) == []
    from sandboxes import engine

    engine.remove_orphans()
    assert labelled_containers(owners[1].pid) == []


@pytest.mark.parametrize("prlimit", ["", None], ids=["prlimit", "preexec"])
def test_local_rlimits_apply_with_and_without_prlimit(prlimit: str | None) -> None:
    from sandboxes.isolation import limited, rlimits
    from sandboxes.limits import Limits

    chosen = rlimits(Limits(memory_mb=300, file_size_mb=5), timeout=10, nproc=77)
    argv, preexec = limited(["bash", "-c", "ulimit -v -u -f -t"], chosen, prlimit=prlimit)
    done = subprocess.run(argv, preexec_fn=preexec, capture_output=True, text=True)
    values = [line.split()[-1] for line in done.stdout.splitlines()]
    assert values == [str(300 * 1024), "77", str(5 * 1024), "15"], done.stdout


def test_a_bomb_in_one_sandbox_leaves_another_working(kind: str, repo: Path) -> None:
    import threading

    with (
        open_backend(kind, repo, pids=64, memory_mb=256) as hostile,
        open_backend(kind, repo) as calm,
    ):
        bomb = threading.Thread(
            target=hostile.exec,
            args=("bomb() { bomb | bomb & }; bomb; sleep 8",),
            kwargs={"timeout": 30},
        )
        bomb.start()
        time.sleep(2)  # the bomb is at its limit now
        result = calm.exec("for i in $(seq 30); do true & done; wait; python -c 'print(6 * 7)'")
        bomb.join()
    assert (result.stdout, result.reason) == ("42\n", None), result.stderr[-300:]


_POOL_OWNER = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, {tests!r})
    from sandbox_helpers import ENV, open_backend
    from sandboxes import SandboxError, prepare_env
    prepare_env({kind!r}.replace("-plain", ""), ENV)  # from the main thread, as a harness does before its workers
    def work():
        with open_backend({kind!r}, None) as sb:
            print(getattr(sb, "root", "") or sb.container.name, flush=True)
            try:
                sb.exec("sleep 600")
            except SandboxError:
                pass
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join()
    """
)


def test_sigterm_closes_sandboxes_opened_in_worker_threads(kind: str) -> None:
    script = _POOL_OWNER.format(tests=str(Path(__file__).parent), kind=kind)
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    where = owner.stdout.readline().strip()
    assert where, owner.stderr.read()
    time.sleep(1)
    owner.send_signal(signal.SIGTERM)
    assert owner.wait(timeout=60) == 128 + signal.SIGTERM, owner.stderr.read()[-2000:]
    if kind == "docker":
        assert labelled_containers(owner.pid) == []
    else:
        assert where and not Path(where).exists()


def test_the_next_local_sandbox_removes_what_a_sigkilled_run_left(tmp_path: Path) -> None:
    from sandboxes import local_sandbox

    script = _OWNER.format(tests=str(Path(__file__).parent), kind="local")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    left = Path(owner.stdout.readline().strip())  # its sandbox is open
    assert (left / local_sandbox.OWNER_FILE).is_file()
    owner.send_signal(signal.SIGKILL)  # no chance to clean up
    owner.wait(timeout=30)
    assert left.is_dir()
    old = tmp_path / f"{local_sandbox.PREFIX}old"  # no owner file: not ours to judge
    old.mkdir()
    local_sandbox.remove_orphans_once.cache_clear()  # as in a new process
    with open_backend("local", None) as live:
        assert not left.exists()  # swept when this process opened its first sandbox
        assert local_sandbox.remove_orphans(tmp_path) == []
        assert local_sandbox.remove_orphans() == [] and live.root.is_dir()
    assert old.is_dir()
