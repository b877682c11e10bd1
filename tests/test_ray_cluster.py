"""`--executor HOST:PORT` on a real multi-node Ray cluster (issue 22): a head and two worker
nodes started with the `ray` CLI on this machine (each `ray start --block` in its own session
and temp dir, one CPU each, token authentication on), joined by `agents` commands run as
separate processes, as a user would run them.

- `agents eval swe-bench -p gold` (swe-mini) and `agents bench hanabi` report on the cluster
  what `--executor local` reports, and the units really ran on more than one node;
- a worker process SIGKILLed (by its pid) while it grades an instance: the run finishes,
  every instance is graded exactly once, the retry is recorded in its row;
- the driver SIGKILLed mid-run: the rerun skips what was done and reports what an
  uninterrupted run reports.

The cluster is torn down by signalling the processes this module started (never `ray stop`,
which kills every Ray process of the machine, e.g. the in-process instance of
tests/test_executor_ray.py). Ray registers each node under the machine's address even when
told `--node-ip-address 127.0.0.1` (it resolves loopback to a reachable address); the
commands join by the GCS's loopback address, 127.0.0.1:PORT.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
RAY_CLI = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
SWE_ARGS = ["eval", "swe-bench", "--dataset", "swe-mini", "-p", "gold", "--sandbox", "local"]
RUN = "swe-mini.gold"  # the run id eval gives `-p gold` on swe-mini
HANABI_ARGS = ["bench", "hanabi", "--bot", "hanabi_rules", "--bot", "random", "--games", "6",
               "--seed", "3", "--json"]  # fmt: skip
TASK = "ray::_call"  # the title of a Ray worker process while it runs a unit
STARTED = "Ray runtime started."

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("ray") is None,
        reason="ray is not installed (pip install '.[ray]')",
    ),
    # Each test takes seconds on a warm machine; a cold one builds swe-mini's environments.
    pytest.mark.timeout(300),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    address: str
    """The head's GCS on the loopback interface, as `--executor` takes it."""
    root: Path
    env: dict[str, str]
    """For the `agents` commands: the token's path, no RAY_AUTH_MODE (the command turns
    token authentication on itself) and nothing else of the user's Ray settings."""
    nodes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    since: float = field(default_factory=time.time)

    def processes(self) -> list[Any]:
        """Every live process of the cluster (`psutil.Process`, which refuses to signal a
        pid reused since): the `ray start --block` processes and their descendants (GCS,
        raylets, agents, workers, the commands of the units' sandboxes)."""
        import psutil

        found = []
        for node in self.nodes.values():
            with contextlib.suppress(psutil.Error):
                top = psutil.Process(node.pid)
                found += [top, *top.children(recursive=True)]
        return found

    def busy_workers(self) -> list[int]:
        """Pids of this cluster's workers that are running a unit right now, in the middle of
        it: titled `ray::_call` and with a child process (a command of the unit's sandbox)."""
        import psutil

        busy = []
        for node in self.nodes.values():
            try:
                procs = psutil.Process(node.pid).children(recursive=True)
            except psutil.Error:
                continue
            for proc in procs:
                try:
                    if " ".join(proc.cmdline()).startswith(TASK) and proc.children():
                        busy.append(proc.pid)
                except psutil.Error:
                    continue
        return busy

    def scratch_dirs(self) -> set[Path]:
        """The scratch directories (`agents-search-eval-unit-*`) units have left in the
        nodes' TMPDIR: a unit that finishes removes its own; a killed unit's is removed by
        the next worker process that makes one on that node, or by `agents sandbox gc`."""
        return set((self.root / "tmp").glob("agents-search-eval-unit-*"))

    def tasks_per_node(self) -> dict[str, int]:
        """Units (`_call` tasks) each node's workers have started so far: a worker logs
        `:task_name:_call` as it starts one (the line Ray's log monitor reads)."""
        counts = {}
        for name in self.nodes:
            session = (self.root / name / "session_latest").resolve()
            counts[name] = sum(
                f.read_text(errors="replace").count(":task_name:_call\n")
                for f in session.glob("logs/worker-*.out")
            )
        return counts


def _start(cluster: Cluster, name: str, args: list[str], env: dict[str, str]) -> None:
    out = (cluster.root / f"{name}.log").open("wb")
    (cluster.root / name).mkdir()
    cluster.nodes[name] = subprocess.Popen(
        [*RAY_CLI, "start", *args, "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
         "--temp-dir", str(cluster.root / name), "--dashboard-agent-listen-port",
         str(_free_port()), "--disable-usage-stats", "--block"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        start_new_session=True,
    )  # fmt: skip
    out.close()


def _wait_started(cluster: Cluster, names: list[str], seconds: float = 90) -> None:
    """Until each node's `ray start` says it is up (its raylet registered with the GCS)."""
    deadline = time.monotonic() + seconds
    waiting = list(names)
    while waiting:
        for name in list(waiting):
            log = (cluster.root / f"{name}.log").read_text(errors="replace")
            if STARTED in log:
                waiting.remove(name)
            elif cluster.nodes[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start ({name}) did not come up:\n{log[-3000:]}")
        time.sleep(0.1)


def _stop(cluster: Cluster) -> None:
    """SIGTERM each `ray start --block` (it stops its node's processes), the worker nodes
    first; then SIGKILL whatever is left in the nodes' sessions (e.g. a sandbox command of a
    killed worker)."""
    import psutil

    names = list(cluster.nodes)
    sessions = {node.pid for node in cluster.nodes.values()}
    left = cluster.processes()
    for group in (names[1:], names[:1]):
        for name in group:
            if cluster.nodes[name].poll() is None:
                cluster.nodes[name].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name in group:
            with contextlib.suppress(subprocess.TimeoutExpired):
                cluster.nodes[name].wait(timeout=max(0.1, deadline - time.monotonic()))
    for proc in psutil.process_iter():  # started since, or reparented: in the nodes' sessions
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(proc.pid) in sessions and proc.create_time() >= cluster.since - 1:
                left.append(proc)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    for node in cluster.nodes.values():
        if node.poll() is None:
            node.kill()
        node.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="rayc-", dir="/tmp" if os.path.isdir("/tmp") else None))
    token = root / "auth_token"  # this cluster's own token: ~/.ray is left alone
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    user = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    user["PYTHONPATH"] = str(ROOT)
    root.chmod(0o755)  # the local sandbox's bwrap reads under it
    (root / "tmp").mkdir(mode=0o1777)  # the units' scratch directories (as in /tmp)
    nodes_env = {**user, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
                 "TMPDIR": str(root / "tmp")}  # fmt: skip
    port = _free_port()
    cluster = Cluster(
        f"127.0.0.1:{port}",
        root,
        {**user, "RAY_AUTH_TOKEN_PATH": str(token), "COLUMNS": "200"},
    )
    started = time.monotonic()
    try:
        _start(cluster, "head", ["--head", "--port", str(port), "--include-dashboard", "false",
                                 "--dashboard-port", str(_free_port()), "--ray-client-server-port",
                                 str(_free_port()), "--no-monitor"], nodes_env)  # fmt: skip
        _wait_started(cluster, ["head"])
        for name in ("worker1", "worker2"):
            _start(cluster, name, ["--address", cluster.address], nodes_env)
        _wait_started(cluster, ["worker1", "worker2"])
        print(f"ray cluster up in {time.monotonic() - started:.1f} s")
        yield cluster
    finally:
        _stop(cluster)
        shutil.rmtree(root, ignore_errors=True)


def _agents(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`agents ARGS` in its own process; its exit code must be 0."""
    done = subprocess.run(
        [*AGENTS, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _rows(path: Path) -> list[dict[str, Any]]:
    """A run log's rows (a line torn by a kill mid-write skipped, as the runs read it)."""
    from foundation.jsonl import read_rows

    return read_rows(path)


def _results(out: Path) -> Path:
    return out / RUN / "gold" / "results.jsonl"


def _report(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / f"gold.{RUN}.json").read_text()))


def _graded(row: dict[str, Any]) -> dict[str, Any]:
    """A results row without what differs between two gradings of the same patch: the
    test run's duration, and the executor's retry count."""
    return {k: v for k, v in row.items() if k not in ("duration_s", "retries")}


@dataclass
class Reference:
    report: dict[str, Any]
    rows: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def local_run(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """`--executor local --workers 2` on the same instances: what every cluster run must
    report."""
    tmp = tmp_path_factory.mktemp("local")
    _agents(
        tmp, cluster.env, *SWE_ARGS, "--executor", "local", "--workers", "2", "-o", str(tmp / "out")
    )
    rows = _rows(_results(tmp / "out"))
    report = _report(tmp / "out")
    assert report["resolved_instances"] == report["total_instances"] == len(rows) > 1
    return Reference(report, {r["instance_id"]: _graded(r) for r in rows})


def test_eval_and_bench_on_the_cluster_report_what_local_reports(
    cluster: Cluster, local_run: Reference, tmp_path: Path
) -> None:
    before = cluster.tasks_per_node()
    out = tmp_path / "cluster"
    done = _agents(tmp_path, cluster.env, *SWE_ARGS, "--executor", cluster.address, "-o", str(out))
    ran = {n: c - before[n] for n, c in cluster.tasks_per_node().items()}
    print(f"eval swe-bench: units per node {ran}")
    assert Path(done.stdout.strip().splitlines()[-1]) == out / f"gold.{RUN}.json"
    assert _report(out) == local_run.report
    rows = _rows(_results(out))
    assert {r["instance_id"]: _graded(r) for r in rows} == local_run.rows
    assert len(rows) == len(local_run.rows)  # each instance once
    assert not any("retries" in r for r in rows)
    # One task per instance, spread over the cluster's nodes (one CPU each).
    assert sum(ran.values()) == len(rows), ran
    assert sum(1 for n in ran.values() if n) >= 2, ran

    summaries = {}
    for executor in ("local", cluster.address):
        before = cluster.tasks_per_node()
        hanabi = tmp_path / ("hanabi-local" if executor == "local" else "hanabi-cluster")
        done = _agents(tmp_path, cluster.env, *HANABI_ARGS, "--out", str(hanabi),
                       "--executor", executor)  # fmt: skip
        ran = {n: c - before[n] for n, c in cluster.tasks_per_node().items()}
        print(f"bench hanabi --executor {executor}: units per node {ran}")
        summary = json.loads(done.stdout)
        assert summary["config"].pop("out") == str(hanabi)
        for bot in summary["bots"].values():
            bot.pop("seconds_per_move")  # wall time, not a result
        summaries[executor] = summary
        assert len(_rows(hanabi / "hanabi_games.jsonl")) == 12  # 6 games of each bot
        if executor == "local":
            assert not any(ran.values()), ran
        else:
            assert sum(1 for n in ran.values() if n) >= 2, ran
    assert summaries[cluster.address] == summaries["local"]
    assert [b["games"] for b in summaries["local"]["bots"].values()] == [6, 6]


def test_a_worker_killed_mid_unit_is_retried_and_its_instance_graded_once(
    cluster: Cluster, local_run: Reference, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    left_before = cluster.scratch_dirs()
    log = (tmp_path / "eval.log").open("wb")
    proc = subprocess.Popen(
        [*AGENTS, *SWE_ARGS, "--executor", cluster.address, "-o", str(out)], cwd=tmp_path,
        env=cluster.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    killed = 0
    try:
        deadline = time.monotonic() + 60
        while not killed and proc.poll() is None and time.monotonic() < deadline:
            busy = cluster.busy_workers()
            if busy:
                killed = busy[0]
                os.kill(killed, signal.SIGKILL)
            else:
                time.sleep(0.01)
        code = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = (tmp_path / "eval.log").read_text(errors="replace")
    assert killed, f"no worker was caught running a unit:\n{output[-3000:]}"
    assert code == 0, output[-3000:]
    assert killed not in {p.pid for p in cluster.processes()}
    rows = _rows(_results(out))
    assert sorted(r["instance_id"] for r in rows) == sorted(local_run.rows)  # each once
    retried = [r for r in rows if "retries" in r]
    assert [r["retries"] for r in retried] == [1], rows
    # The unit the kill hit (its scratch directory, if a later worker on that node has not
    # removed it yet, names its instance) is the one retried; `agents sandbox gc` removes
    # what is left (its owner is gone).
    hit = [
        d.name
        for s in cluster.scratch_dirs() - left_before
        for d in (s / "unit" / RUN / "gold").iterdir()
    ]
    assert hit in ([], [retried[0]["instance_id"]])
    _agents(tmp_path, {**cluster.env, "TMPDIR": str(cluster.root / "tmp")}, "sandbox", "gc")
    assert not cluster.scratch_dirs() - left_before
    # Graded once, as the local run graded it; so is every other instance.
    assert {r["instance_id"]: _graded(r) for r in rows} == local_run.rows
    assert _report(out) == local_run.report


def test_a_killed_driver_reruns_to_the_uninterrupted_report(
    cluster: Cluster, local_run: Reference, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [*SWE_ARGS, "--executor", cluster.address, "-o", str(out)]
    proc = subprocess.Popen(
        [*AGENTS, *args], cwd=tmp_path, env=cluster.env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results = _results(out)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if results.is_file() and _rows(results):
                break
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the driver and anything it started
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before the kill"
    done = [r["instance_id"] for r in _rows(results)]
    assert 1 <= len(done) < len(local_run.rows), "the kill came after the run ended"
    assert not (out / f"gold.{RUN}.json").exists()  # killed before its report

    again = _agents(tmp_path, cluster.env, *args)
    skipped = [line.split(":")[0] for line in again.stderr.splitlines()
               if line.endswith(": skipped (already graded)")]  # fmt: skip
    assert sorted(skipped) == sorted(done)
    rows = _rows(results)
    assert rows[: len(done)] == [r for r in rows if r["instance_id"] in done]  # kept as is
    assert sorted(r["instance_id"] for r in rows) == sorted(local_run.rows)  # each once
    assert {r["instance_id"]: _graded(r) for r in rows} == local_run.rows
    assert _report(out) == local_run.report
