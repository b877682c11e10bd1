"""The run primitive on a real Ray cluster (foundation.executors): the same rows as a local
run, a worker killed mid-unit retried and recorded once, one-line errors for a cluster that
cannot be reached or a Ray that is not installed, and `agents eval swe-bench` / `agents bench
hanabi` giving the same reports with `--executor` Ray as local. One Ray instance on this
machine serves the module; other processes join it by address, as a user's runs would."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.cli import main
from foundation.errors import UserError
from foundation.executors import ExecutorFailure, ExecutorSpec, parse_executor
from foundation.runs import RunLog, run_units

ROOT = Path(__file__).resolve().parent.parent
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]
SWE = ["tkem__cachetools-1", "r1chardj0n3s__parse-1", "pytoolz__toolz-1"]

pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Ray instance (2 CPUs) for the module; yields its GCS address. Workers get this
    module's functions by value (they cannot import tests/, which is not installed)."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install '.[ray]')")
    started = time.monotonic()
    context = ray.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING
    )
    print(f"ray started in {time.monotonic() - started:.1f} s")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield str(context.address_info["gcs_address"])
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()


def _agents(cwd: Path, *args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    """`agents ARGS` in a second process (it joins the cluster by address, as a user's
    command would); its exit code must be 0."""
    done = subprocess.run(
        [*AGENTS, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _loopback(address: str) -> str:
    """The cluster's address as a user on the head machine types it."""
    return "127.0.0.1:" + address.rpartition(":")[2]


def _log(path: Path) -> RunLog:
    return RunLog(path, key=lambda r: r.get("id"))


def _work(n: int) -> dict[str, Any]:
    if n == 4:
        raise ValueError(f"bad unit {n}")
    return {"id": n, "square": n * n, "pid": os.getpid()}


def _error_row(n: int, exc: Exception) -> dict[str, Any]:
    return {"id": n, "error": f"{type(exc).__name__}: {exc}"}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ray_gives_the_rows_local_gives(cluster: str, tmp_path: Path) -> None:
    runs = {}
    for executor in ("local", "ray"):
        path = tmp_path / f"{executor}.jsonl"
        outcome = run_units(
            _log(path), range(8), key=lambda n: n, work=_work, error_row=_error_row,
            executor=executor,
        )  # fmt: skip
        assert len(outcome.new) == 8 and not outcome.stopped
        runs[executor] = sorted(_rows(path), key=lambda r: r["id"])
    pids = {r.pop("pid", None) for rows in runs.values() for r in rows}
    assert runs["ray"] == runs["local"]
    assert runs["ray"][4] == {"id": 4, "error": "ValueError: bad unit 4"}  # not RayTaskError
    assert os.getpid() in pids and len(pids) > 2  # local ran here, Ray in its workers
    # A rerun skips what is done, without asking the cluster for anything.
    again = run_units(_log(tmp_path / "ray.jsonl"), range(8), key=lambda n: n, work=_work)
    assert again.skipped == 8 and not again.new


def test_a_killed_worker_is_retried_recorded_and_never_graded_twice(
    cluster: str, tmp_path: Path
) -> None:
    once, crashes = tmp_path / "killed-once", tmp_path / "crashes"

    def work(n: int) -> dict[str, Any]:
        if n == 3 and not once.exists():  # the first attempt dies mid-unit, by SIGKILL
            once.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        if n == 5:  # dies on every attempt: retries run out, the unit is an error row
            with crashes.open("a") as f:
                f.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.05)
        return {"id": n, "square": n * n}

    path = tmp_path / "r.jsonl"
    spec = ExecutorSpec("ray", _loopback(cluster), retries=2)
    outcome = run_units(
        _log(path), range(8), key=lambda n: n, work=work, error_row=_error_row, executor=spec
    )
    rows = _rows(path)
    assert sorted(r["id"] for r in rows) == list(range(8)), "every unit exactly once"
    assert len(outcome.new) == 8
    by_id = {r["id"]: r for r in rows}
    assert by_id[3] == {"id": 3, "square": 9, "retries": 1}
    assert by_id[5]["retries"] == 2 and by_id[5]["error"].startswith("WorkerCrashedError")
    assert len(crashes.read_text().split()) == 3  # the first attempt and two retries
    assert all("retries" not in by_id[n] for n in (0, 1, 2, 4, 6, 7))


def test_an_unreachable_cluster_is_one_line_naming_it(cluster: str, tmp_path: Path) -> None:
    address = f"127.0.0.1:{_free_port()}"
    for executor in (address, f"ray://{address}"):
        started = time.monotonic()
        with pytest.raises(UserError) as caught:
            run_units(
                _log(tmp_path / "r.jsonl"), [1], key=lambda n: n, work=_work, executor=executor
            )
        assert executor in str(caught.value) and "\n" not in str(caught.value)
        assert time.monotonic() - started < 10
    assert not (tmp_path / "r.jsonl").exists()


def test_ray_not_installed_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(UserError, match=r"pip install '\.\[ray\]'"):
        run_units(_log(tmp_path / "r.jsonl"), [1], key=lambda n: n, work=_work, executor="ray")
    assert parse_executor("local") == ExecutorSpec()  # local needs no Ray
    with pytest.raises(UserError, match="executor must be local, ray"):
        parse_executor("ray:/nowhere")


def test_work_the_workers_cannot_load_ends_the_run_in_one_line(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "only_here.py").write_text("def work(n):\n    return {'id': n}\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # this process only, not the workers
    from only_here import work  # type: ignore[import-not-found]

    path = tmp_path / "r.jsonl"
    with pytest.raises(ExecutorFailure) as caught:
        run_units(_log(path), range(3), key=lambda n: n, work=work, error_row=_error_row,
                  executor="ray")  # fmt: skip
    assert "No module named 'only_here'" in str(caught.value)
    assert "\n" not in str(caught.value) and not path.exists()


def test_ray_client_address_runs_units(cluster: str, tmp_path: Path) -> None:
    """`ray://HOST:PORT`: a Ray Client server in front of the cluster (as `ray start --head`
    runs one); units go through it like any other.

    The server runs in Ray's `legacy` mode: one process that serves the client itself. The
    default `proxy` mode spawns a server process per client (on ports from 23000) and waits
    for it; on 2 loaded cores that startup failed in 2 of 3 CI runs ("Starting Ray client
    server failed", after a timeout) although the client side, which this test is about, is
    the same in both modes."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ray.util.client.server", f"--address={cluster}",
         "--host=127.0.0.1", f"--port={port}", "--mode=legacy"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        code = (
            "import sys; from pathlib import Path\n"
            "from foundation.runs import RunLog, run_units\n"
            "log = RunLog(Path(sys.argv[1]), key=lambda r: r.get('id'))\n"
            "run_units(log, range(4), key=lambda n: n, work=lambda n: {'id': n, 'double': 2 * n},"
            " executor=sys.argv[2])\n"
        )
        path = tmp_path / "r.jsonl"
        done = subprocess.run(
            [sys.executable, "-c", code, str(path), f"ray://127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert sorted((r["id"], r["double"]) for r in _rows(path)) == [(n, 2 * n) for n in range(4)]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_eval_swe_bench_gold_reports_the_same_on_ray(cluster: str, tmp_path: Path) -> None:
    """`-p gold` on a few swe-mini instances: local in this process; Ray from a second
    process that joins the cluster by address (`--executor 127.0.0.1:PORT`)."""
    args = ["eval", "swe-bench", "-p", "gold", "--sandbox", "local", "-i", ",".join(SWE)]
    main([*args, "-o", str(tmp_path / "local")])
    local = json.loads((tmp_path / "local" / "gold.swe-mini.gold.json").read_text())
    assert local["resolved_instances"] == len(SWE)

    done = _agents(tmp_path, *args, "-o", str(tmp_path / "ray"), "--executor", _loopback(cluster))
    report = Path(done.stdout.strip().splitlines()[-1])
    assert json.loads(report.read_text()) == local
    results = tmp_path / "ray" / "swe-mini.gold" / "gold" / "results.jsonl"
    assert sorted(r["instance_id"] for r in _rows(results)) == sorted(SWE)
    assert all("unit_files" not in r for r in _rows(results))
    for iid in SWE:  # graded in a worker's scratch directory, the logs sent back
        logs = results.parent / iid
        local_output = tmp_path / "local" / "swe-mini.gold" / "gold" / iid / "test_output.txt"
        first = local_output.read_text().splitlines()[0]  # the rest holds timings
        assert (logs / "test_output.txt").read_text().splitlines()[0] == first
        assert (logs / "run_instance.log").is_file() and (logs / "report.json").is_file()


def test_bench_hanabi_reports_the_same_on_ray(
    cluster: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summaries = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        main(["bench", "hanabi", "--bot", "hanabi_rules", "--bot", "random", "--games", "4",
              "--out", str(out), "--json", "--executor", executor])  # fmt: skip
        summary = json.loads(capsys.readouterr().out)
        summary["config"].pop("out")
        for bot in summary["bots"].values():
            bot.pop("seconds_per_move")  # wall time, not a result
        summaries[executor] = summary
    assert summaries["ray"] == summaries["local"]
    assert summaries["ray"]["bots"]["hanabi_rules"]["games"] == 4


def test_joining_uses_token_auth_when_a_token_is_at_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foundation.executors import use_token_auth

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "none"))
    use_token_auth()
    assert "RAY_AUTH_MODE" not in os.environ  # no token: Ray's own default
    (tmp_path / "token").write_text("x" * 64)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "token"))
    use_token_auth()
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the user's choice stays
    use_token_auth()
    assert os.environ["RAY_AUTH_MODE"] == "disabled"


def test_the_token_file_is_made_private_and_a_symlink_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray writes ~/.ray/auth_token world-readable (644); joining makes it 600. A symlink
    in its place is left alone, and so is the file it points to."""
    from foundation.executors import use_token_auth

    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    token = tmp_path / "token"
    token.write_text("x" * 64)
    token.chmod(0o644)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    use_token_auth()
    assert token.stat().st_mode & 0o777 == 0o600
    target = tmp_path / "elsewhere"
    target.write_text("not a token")
    target.chmod(0o644)
    link = tmp_path / "link"
    link.symlink_to(target)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(link))
    use_token_auth()
    assert target.stat().st_mode & 0o777 == 0o644
    os.chmod(token, 0o640)  # still readable by the group: made private again
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    use_token_auth()
    assert token.stat().st_mode & 0o777 == 0o600
    assert token.read_text() == "x" * 64  # the token itself is untouched


def _same_rows(path: Path) -> list[dict[str, Any]]:
    timings = ("seconds", "model_seconds", "sandbox_seconds")
    rows = [{k: v for k, v in r.items() if k not in timings} for r in _rows(path)]
    return sorted(rows, key=lambda r: str(r["instance_id"]))


def test_solve_on_ray_gives_the_rows_files_and_usage_of_local(cluster: str, tmp_path: Path) -> None:
    """`agents solve --executor`: the oracle solves on the cluster's workers; the rows,
    predictions, trajectories and usage are those of a local run, written by the command."""
    args = ["solve", "-m", "oracle:swe,p=0.7", "-i", ",".join(SWE), "--sandbox", "local"]
    main([*args, "-o", str(tmp_path / "local")])
    _agents(tmp_path, *args, "-o", str(tmp_path / "ray"), "--executor", _loopback(cluster))
    local, ray = tmp_path / "local", tmp_path / "ray"
    assert _same_rows(ray / "solve.jsonl") == _same_rows(local / "solve.jsonl")
    assert (ray / "predictions.jsonl").read_text() == (local / "predictions.jsonl").read_text()
    for iid in SWE:  # the worker's artifacts, written by the command
        steps = [json.loads((d / "trajectories" / f"{iid}.json").read_text())["steps"]
                 for d in (local, ray)]  # fmt: skip
        assert steps[0] == steps[1] and steps[0]
    usage = [json.loads((d / "usage.json").read_text()) for d in (local, ray)]
    keys = ("calls", "input_tokens", "output_tokens")
    assert [usage[1][k] for k in keys] == [usage[0][k] for k in keys] and usage[1]["calls"] > 0
    summaries = [json.loads((d / "summary.json").read_text()) for d in (local, ray)]
    assert summaries[1]["resolved"] == summaries[0]["resolved"]
    assert not (ray / "checkpoints.sqlite").exists()  # the workers keep no checkpoints here
    # A rerun on the cluster skips every instance.
    again = _agents(tmp_path, *args, "-o", str(ray), "--executor", _loopback(cluster))
    assert again.stderr.count("already done") == len(SWE)


def test_a_budget_holds_across_workers(cluster: str, tmp_path: Path) -> None:
    """Two workers share one budget (the ledger actor): 8 units of 2 calls each under a
    5-call cap make at most 5 calls in all, and the run stops with "budget"."""
    from agents.llm import LLMConfig
    from agents.llm.remote import remote_model
    from foundation.budget import Budget

    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"responses": ["ok"], "on_exhausted": "repeat_last"}))
    calls = tmp_path / "calls"
    config = LLMConfig(model=f"scripted:{answers}", cache=False)
    with remote_model(config, Budget(calls=5)) as model:

        def work(n: int) -> dict[str, Any]:
            def unit(llm: Any) -> dict[str, Any]:
                for _ in range(2):
                    llm.complete_sync([{"role": "user", "content": f"unit {n}"}])
                    with calls.open("a") as f:
                        f.write(f"{n}\n")
                    time.sleep(0.2)
                return {"id": n}

            row, usage = model.metered(unit)
            return {**row, "calls": usage["calls"]}

        outcome = run_units(_log(tmp_path / "r.jsonl"), range(8), key=lambda n: n, work=work,
                            executor="ray")  # fmt: skip
        ray = sys.modules["ray"]
        _, settled = ray.get(model.ledger.used.remote())
    assert outcome.stopped == "budget" and "calls cap" in outcome.budget_message
    made = calls.read_text().split()
    assert len(made) == settled <= 5
    assert sum(r["calls"] for r in outcome.new) <= 5 and len(outcome.new) <= 2
    assert len(made) >= 4  # the budget was used, not refused from the start


def test_a_local_model_is_loaded_once_per_node_by_its_host(cluster: str, tmp_path: Path) -> None:
    """`local:PATH` on Ray: one `ModelHost` actor per node holds the model; the workers'
    answers are the local backend's."""
    from agents.llm import LLMConfig, load_llm
    from agents.llm.remote import remote_model
    from tests.tiny_models import build_tiny_llama

    path = build_tiny_llama(tmp_path / "tiny")
    config = LLMConfig(model=f"local:{path}", cache=False)
    prompts = ["the cat", "a dog", "what is red"]
    here = [load_llm(config).complete_sync([{"role": "user", "content": p}], max_tokens=6)[0].text
            for p in prompts]  # fmt: skip
    ray = sys.modules["ray"]
    with remote_model(config) as model:
        assert len(model.hosts) == len([n for n in ray.nodes() if n["Alive"]]) == 1

        def work(i: int) -> dict[str, Any]:
            llm, _ = model.build()
            answer = llm.complete_sync([{"role": "user", "content": prompts[i]}], max_tokens=6)
            return {"id": i, "text": answer[0].text, "torch": "torch" in sys.modules}

        outcome = run_units(_log(tmp_path / "r.jsonl"), range(3), key=lambda i: i, work=work,
                            executor="ray")  # fmt: skip
    rows = sorted(outcome.new, key=lambda r: r["id"])
    assert [r["text"] for r in rows] == here
    assert not any(r["torch"] for r in rows)  # the workers never loaded the model


def test_units_get_the_resources_the_executor_asks_for(cluster: str, tmp_path: Path) -> None:
    from foundation.executors import on_every_node

    spec = parse_executor("ray,num_cpus=2,memory=256MiB,retries=1")
    assert (spec.num_cpus, spec.memory, spec.retries) == (2.0, 256 * 2**20, 1)
    assert parse_executor(str(spec)) == spec  # what the settings models store
    for bad in ("ray,num_cpus=-1", "ray,memory=lots", "ray,gpus=1", "local,num_cpus=2"):
        with pytest.raises(UserError, match="executor"):
            parse_executor(bad)

    def work(n: int) -> dict[str, Any]:
        ray = sys.modules["ray"]
        return {"id": n, "assigned": ray.get_runtime_context().get_assigned_resources()}

    outcome = run_units(_log(tmp_path / "r.jsonl"), range(2), key=lambda n: n, work=work,
                        executor=spec)  # fmt: skip
    assert [r["assigned"] for r in outcome.new] == [{"CPU": 2.0, "memory": 256.0 * 2**20}] * 2
    # One task per live node (here the one node), e.g. to build its environments.
    pids = on_every_node(spec, os.getpid)
    assert len(pids) == 1 and pids[0] != os.getpid()


def test_story_mining_on_ray_writes_the_stories_and_pairs_of_local(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m benchmarks.story_pairs --executor`: each premise a Ray task; the node's
    `ModelHost` writes, the story files come back; the pairs are a local run's."""
    from agents.graphs.story import StoryConfig
    from benchmarks import story_pairs
    from tests.tiny_models import build_tiny_llama

    spec = f"local:{build_tiny_llama(tmp_path / 'tiny')}"
    premises = tmp_path / "premises.txt"
    premises.write_text("a dog\na map\nred\n")
    monkeypatch.setattr(
        story_pairs, "BENCH_STORY", StoryConfig(steps=2, simulations=3, max_tokens=6, judge=False)
    )
    outs = {}
    for executor in ("local", "ray"):
        work, out = tmp_path / executor, tmp_path / f"{executor}.jsonl"
        args = ["--model", spec, "--premises-file", str(premises), "--work", str(work)]
        assert story_pairs.main([*args, "--out", str(out), "--executor", executor]) == 0
        outs[executor] = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(list((work / "mine").glob("*.json"))) == 3
    assert len(outs["ray"]) == len(outs["local"]) > 0
    for there, here in zip(outs["ray"], outs["local"], strict=True):
        # The same texts; values equal up to float summation order (torch's threads differ
        # between this process and the node's model actor).
        assert {k: v for k, v in there.items() if not k.endswith("_value")} == {
            k: v for k, v in here.items() if not k.endswith("_value")
        }
        assert all(
            there[k] == pytest.approx(here[k], rel=1e-5) for k in here if k.endswith("_value")
        )
    # A story file that is there but not logged (killed between the two) is not mined again.
    log = tmp_path / "ray" / "mine" / "shard-0-of-1.jsonl"
    log.write_text("".join(line + "\n" for line in log.read_text().splitlines()[:1]))
    monkeypatch.setattr("agents.llm.remote.remote_model", None)  # a remote unit would fail
    args = ["--model", spec, "--premises-file", str(premises), "--work", str(tmp_path / "ray")]
    assert (
        story_pairs.main([*args, "--out", str(tmp_path / "again.jsonl"), "--executor", "ray"]) == 0
    )
    assert len(log.read_text().splitlines()) == 3


def test_lspo_self_play_on_ray_logs_the_games_of_local(cluster: str, tmp_path: Path) -> None:
    """`agents train lspo --executor`: self-play games as Ray tasks (the model held by the
    node's `ModelHost`; iteration 2's games embed with the starting model, loaded once per
    worker); the logged games are a local run's."""
    from tests.tiny_models import build_tiny_llama

    tiny = build_tiny_llama(tmp_path / "tiny")
    args = ["train", "lspo", "--model", f"local:{tiny}", "--iterations", "2", "--games", "2",
            "--candidates", "3", "--cfr-iterations", "30", "--dpo-steps", "2",
            "--eval-games", "4"]  # fmt: skip
    for executor in ("local", _loopback(cluster)):
        out = tmp_path / ("local" if executor == "local" else "ray")
        _agents(tmp_path, *args, "--out", str(out), "--executor", executor, timeout=600)
    for it in (1, 2):
        games = [
            sorted(_rows(tmp_path / d / f"iter{it}" / "selfplay.jsonl"), key=lambda r: r["game"])
            for d in ("local", "ray")
        ]
        assert len(games[1]) == 2 and games[1] == games[0]


def test_a_killed_solve_on_ray_resumes_to_the_uninterrupted_result(
    cluster: str, tmp_path: Path
) -> None:
    """Kill `agents solve --executor` (the driver, SIGKILL) once its first rows are in;
    the rerun skips them and ends where an uninterrupted run ends."""
    ids = ["tkem__cachetools-1", "tkem__cachetools-2", "tkem__cachetools-3",
           "r1chardj0n3s__parse-1", "pytoolz__toolz-1", "pytoolz__toolz-2"]  # fmt: skip
    args = ["solve", "-m", "oracle:swe,p=0.7", "-i", ",".join(ids), "--sandbox", "local",
            "--executor", _loopback(cluster)]  # fmt: skip
    _agents(tmp_path, *args, "-o", str(tmp_path / "whole"))
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*AGENTS, *args, "-o", str(out)], cwd=tmp_path, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    log = out / "solve.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and log.read_text().count("\n") >= 1:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = log.read_text().count("\n")
    assert 1 <= before < len(ids), "the kill came after the run ended: nothing to resume"
    again = _agents(tmp_path, *args, "-o", str(out))
    assert again.stderr.count("already done") == before
    assert sorted(r["instance_id"] for r in _rows(log)) == sorted(ids)  # each exactly once
    assert _same_rows(log) == _same_rows(tmp_path / "whole" / "solve.jsonl")
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert json.loads((out / "summary.json").read_text())["resolved"] == whole["resolved"]


def test_batched_units_are_logged_one_by_one_as_local_logs_them(
    cluster: str, tmp_path: Path
) -> None:
    """`batch`: several units per Ray task (games are too small for a task each); each
    unit still gets its own row, a failing unit its own error row, and a batch whose
    worker died is retried whole, its rows recorded once."""
    once = tmp_path / "killed-once"

    def work(n: int) -> dict[str, Any]:
        if n == 6 and not once.exists():  # kills the batch 4..7 once
            once.write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
        return _work(n)

    path = tmp_path / "r.jsonl"
    outcome = run_units(_log(path), range(10), key=lambda n: n, work=work,
                        error_row=_error_row, executor="ray", batch=4)  # fmt: skip
    rows = {r["id"]: r for r in _rows(path)}
    assert sorted(rows) == list(range(10)) and len(outcome.new) == 10
    assert rows[4] == {"id": 4, "error": "ValueError: bad unit 4", "retries": 1}
    assert [rows[n].get("retries") for n in range(10)] == [None] * 4 + [1] * 4 + [None] * 2
    pids = [{rows[n]["pid"] for n in batch} for batch in ([0, 1, 2, 3], [5, 6, 7], [8, 9])]
    assert all(len(p) == 1 for p in pids)  # one task per batch

    # batch=None: about 4 tasks per slot of the cluster (2 CPUs here): 40 units -> 8 tasks.
    def task_of(n: int) -> dict[str, Any]:
        return {"id": n, "task": sys.modules["ray"].get_runtime_context().get_task_id()}

    path = tmp_path / "auto.jsonl"
    run_units(_log(path), range(40), key=lambda n: n, work=task_of, executor="ray", batch=None)
    tasks = [r["task"] for r in sorted(_rows(path), key=lambda r: r["id"])]
    assert len(tasks) == 40 and len(set(tasks)) == 8
    assert all(len(set(tasks[i : i + 5])) == 1 for i in range(0, 40, 5))


def test_loop_rollouts_on_ray_match_local(cluster: str, tmp_path: Path) -> None:
    """`agents train loop --executor`: each task's K rollouts a Ray task (the worker loads
    the model once and takes the iteration's adapters); the rollouts, and so the
    iterations' logs, are those of local rollouts (the same random streams per task)."""
    from tests.tiny_models import build_tiny_llama

    tiny = build_tiny_llama(tmp_path / "tiny")
    args = ["train", "loop", "--task", "countdown", "--model", f"local:{tiny}", "--k", "3",
            "--iterations", "2", "--tasks-per-iteration", "2", "--max-tokens", "4",
            "--puzzles", "4", "--numbers", "3", "--temperature", "1.0"]  # fmt: skip
    logs = {}
    for executor in ("local", _loopback(cluster)):
        out = tmp_path / ("local" if executor == "local" else "ray")
        _agents(tmp_path, *args, "--out", str(out), "--executor", executor, timeout=600)
        logs[executor] = [
            {k: v for k, v in row.items() if not k.endswith(("seconds", "rss_mb"))}
            for row in _rows(out / "log.jsonl")
        ]
    assert len(logs["local"]) == 2 and logs[_loopback(cluster)] == logs["local"]
    played = sorted((tmp_path / "ray" / "rollouts").glob("seed-*.jsonl"))
    assert len(played) == 2 and all(len(_rows(p)) == 2 for p in played)  # 2 tasks each
    assert not (tmp_path / "local" / "rollouts").exists()


def test_the_instance_refuses_a_peer_without_its_token(cluster: str, tmp_path: Path) -> None:
    """Ray's servers listen on every interface (it has no option to bind loopback only), so
    what keeps other machines out is Ray's token authentication, on by default for the
    instance `ray.init(address="local")` starts: a process without the token is refused."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token here
    code = f"import ray; ray.init(address={_loopback(cluster)!r}); print('joined')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode != 0 and "joined" not in done.stdout
    assert "InvalidAuthToken" in done.stderr, done.stderr[-1500:]
