"""The AppWorld environment (sandboxes/appworld): its venv build, the executor process (start,
health, stop, nothing left when the parent dies), one clean world per attempt, timeouts and
bad code as observations, and grading that the agent's code cannot reach.

The first run builds AppWorld's venv (pip install appworld, ~1-3 min); later runs reuse it
from the cache ($AGENTS_SEARCH_CACHE/appworld/)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.errors import UserError
from sandboxes.appworld import (
    AppWorldEnv,
    AppWorldError,
    AppWorldTask,
    Installation,
    ensure_appworld,
    prepare_tasks,
)
from sandboxes.appworld.install import PYTHON_ENV, appworld_python
from sandboxes.base import BuildError, SandboxError
from sandboxes.limits import Limits

ROOT = Path(__file__).resolve().parents[1]

WORLD = """
import json


def build(world, params):
    world.supervisor("Ann", "Lee", "ann.lee@gmail.com", "5550001111")
    user = world.account("spotify")
    for title in ("Old One", "Old Two"):
        world.make("spotify", "Playlist", user_id=user.id, title=title, is_public=False)
    return {"public": {"title": params["title"]}, "private": {"secret": "s3cr3t"}, "answer": None}


def evaluate(test, public_data, private_data, main_user, models, ground_truth_answer):
    with test("only a playlist was added"):
        test.case(models.changed_model_names(), "==", {"spotify.Playlist"})
    with test("the playlist has the title"):
        added, updated, removed = models.changed_records("spotify.Playlist")
        test.case([playlist.title for playlist in added], "==", [public_data.title])
    with test("the task is complete"):
        answer = json.loads(models.end.supervisor.Task.all()[0].answer)
        test.answer(answer, ground_truth_answer)
"""
TASK = AppWorldTask.make(
    "env-test-playlist",
    "Create a Spotify playlist called 'Road Trip'.",
    (("aw_env_test_world", WORLD),),
    {"title": "Road Trip"},
    seed=7,
)
LOGIN = """\
passwords = {a["account_name"]: a["password"] for a in apis.supervisor.show_account_passwords()}
token = apis.spotify.login(username="ann.lee@gmail.com", password=passwords["spotify"])["access_token"]
"""
GOLD = (
    LOGIN + "apis.spotify.create_playlist(title='Road Trip', access_token=token)\n"
    "apis.supervisor.complete_task()\n"
)
COUNT = LOGIN + "print(len(apis.spotify.show_playlist_library(access_token=token)))\n"


@pytest.fixture(scope="session")
def installation() -> Installation:
    try:
        appworld_python()
    except BuildError as exc:
        pytest.skip(str(exc))
    return ensure_appworld()


@pytest.fixture(scope="module")
def env(installation: Installation) -> Iterator[AppWorldEnv]:
    """One environment for the tests below: each starts with `reset`, which is the point."""
    with AppWorldEnv(Limits(timeout=3, memory_mb=1536, pids=64, output_bytes=4000)) as opened:
        yield opened


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


# -- the build --------------------------------------------------------------------------------


def test_the_build_is_complete_and_cached(installation: Installation) -> None:
    assert (installation.root / ".complete").exists()
    assert installation.python.exists()
    dbs = sorted(path.stem for path in (installation.data / "base_dbs").glob("*.db"))
    assert {"spotify", "venmo", "gmail", "phone", "todoist", "simple_note", "admin"} <= set(dbs)
    assert (installation.data / "api_docs" / "standard" / "spotify.json").exists()
    assert installation.truth.stat().st_mode & 0o077 == 0  # the answers are not the agent's
    started = time.monotonic()
    assert ensure_appworld() == installation
    assert time.monotonic() - started < 1.0


def test_a_failed_build_is_one_line_naming_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "python3.11"
    fake.write_text("#!/bin/sh\necho 'no venv module here' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("AGENTS_SEARCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(PYTHON_ENV, str(fake))
    with pytest.raises(BuildError) as caught:
        ensure_appworld()
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert "\n" not in message
    assert "creating the venv" in message and "no venv module here" in message
    log = Path(message.rsplit("log: ", 1)[1])
    assert log.exists() and "no venv module here" in log.read_text()
    assert not list((tmp_path / "cache" / "appworld").glob("*/.complete"))
    progress = capsys.readouterr().err
    assert "appworld: building AppWorld" in progress and "[1/5] creating the venv" in progress


# -- the executor process ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["default", "plain"])
def test_the_executor_starts_answers_and_stops(
    installation: Installation, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "plain":
        monkeypatch.setenv("AGENTS_SANDBOX_NO_BWRAP", "1")
    env = AppWorldEnv()
    env.start()
    pid = env.server_pid
    assert pid is not None and _alive(pid)
    assert env._request("GET", "/health", timeout=5)["ok"] is True
    root = env._root
    assert root is not None and root.exists()
    assert "Road Trip" in env.reset(TASK)
    assert env.execute("print(1 + 1)").strip() == "2"
    env.close()
    assert not _alive(pid)
    assert not root.exists()
    with pytest.raises(SandboxError):
        env.reset(TASK)


def test_a_server_that_does_not_come_up_is_one_line_with_its_log(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTS_SANDBOX_NO_BWRAP", "1")
    fake = Path(tempfile.mkdtemp(prefix="appworld-fake-"))
    try:
        fake.chmod(0o755)
        python = fake / "venv" / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text("#!/bin/sh\necho 'boom: appworld is broken' >&2\nexit 7\n")
        python.chmod(0o755)
        env = AppWorldEnv(startup_timeout=30)
        env._inst = Installation(fake)
        started = time.monotonic()
        with pytest.raises(AppWorldError) as caught:
            env.start()
        env.close()
    finally:
        shutil.rmtree(fake, ignore_errors=True)
    message = str(caught.value)
    assert time.monotonic() - started < 20
    assert "\n" not in message
    assert "did not come up" in message and "exited with code 7" in message
    assert "boom: appworld is broken" in message and "log: " in message


CHILD = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {root!r})
    from sandboxes.appworld import AppWorldEnv, AppWorldTask
    from tests.test_appworld_env import TASK
    env = AppWorldEnv()
    env.reset(TASK)
    env.evaluate()  # the worker runs too
    print(json.dumps({{"server": env.server_pid}}), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("mode", ["default", "plain"])
def test_nothing_is_left_running_when_the_parent_is_killed(
    installation: Installation, mode: str
) -> None:
    environment = dict(os.environ)
    if mode == "plain":
        environment["AGENTS_SANDBOX_NO_BWRAP"] = "1"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        env=environment,
        cwd=str(ROOT),
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        server = json.loads(line)["server"]
        started = _descendants(child.pid)
        assert server in started and all(_alive(pid) for pid in started)
        assert len(started) >= 2  # the executor (and what it runs in) and the worker
        child.send_signal(signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in started if _alive(pid)]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# -- worlds and attempts ----------------------------------------------------------------------


def test_reset_gives_a_clean_world_each_time(env: AppWorldEnv) -> None:
    assert env.reset(TASK) == "Create a Spotify playlist called 'Road Trip'."
    assert env.supervisor["email"] == "ann.lee@gmail.com"
    assert env.execute(COUNT).strip() == "2"
    assert "Execution failed" not in env.execute(GOLD)
    assert env.completed
    assert env.execute(COUNT).strip() == "3"
    assert env.evaluate().success
    env.reset(TASK)
    assert not env.completed
    assert env.execute(COUNT).strip() == "2"
    result = env.evaluate()
    assert not result.success and result.score == 0.0
    assert env.execute("print(token)").strip() != ""  # variables live within an attempt


def test_a_long_run_gets_a_fresh_process_now_and_then(
    env: AppWorldEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sandboxes.appworld.env.RECYCLE_AFTER", 1)
    env.reset(TASK)
    before = env.server_pid
    env.reset(TASK)  # AppWorld's process grows with every attempt: this one is a new one
    assert env.server_pid != before and before is not None and not _alive(before)
    assert env.execute(COUNT).strip() == "2"


def test_grading_passes_the_gold_and_fails_the_rest(env: AppWorldEnv) -> None:
    env.reset(TASK)
    env.execute(GOLD)
    result = env.evaluate()
    assert result.success and result.num_tests == 3 and len(result.passes) == 3
    env.reset(TASK)
    env.execute(LOGIN + "apis.spotify.create_playlist(title='Road trip', access_token=token)")
    result = env.evaluate()
    assert not result.success
    assert {name for name, _ in result.failures} == {
        "the playlist has the title",
        "the task is complete",
    }
    assert "Road trip" in dict(result.failures)["the playlist has the title"]


def test_the_agent_cannot_rig_its_grading(env: AppWorldEnv) -> None:
    env.reset(TASK)
    # The executor runs AppWorld's evaluator code too: patching it there changes nothing,
    # grading happens in the worker.
    output = env.execute(
        "import appworld.evaluator as evaluator\n"
        "evaluator.TestTracker.success = property(lambda self: True)\n"
        "print('patched')"
    )
    assert "patched" in output
    assert not env.evaluate().success


def test_the_answers_are_out_of_the_agents_reach(env: AppWorldEnv) -> None:
    env.reset(TASK)
    truth = env.installation.truth / TASK.world_id / "private_data.json"
    assert "s3cr3t" in truth.read_text()
    output = env.execute(
        f"reader = getattr(__import__('builtins'), 'open')\nprint(reader({str(truth)!r}).read())"
    )
    assert "s3cr3t" not in output
    assert "Execution failed" in output


def test_a_tampered_end_state_is_refused(env: AppWorldEnv) -> None:
    env.reset(TASK)
    env.execute(GOLD)
    assert env._executor is not None
    end = env._executor.outputs / "env" / "tasks" / TASK.world_id / "dbs" / "spotify.jsonl"
    with open(end, "a") as handle:
        handle.write(json.dumps(["ATTACH DATABASE '/tmp/pwned.db' AS pwned", [], False]) + "\n")
    with pytest.raises(SandboxError, match="not a data change"):
        env.evaluate()
    assert not Path("/tmp/pwned.db").exists()


# -- observations -----------------------------------------------------------------------------


def test_bad_code_gives_an_error_observation(env: AppWorldEnv) -> None:
    with AppWorldEnv() as fresh, pytest.raises(SandboxError, match="before reset"):
        fresh.execute("print(1)")
    env.reset(TASK)
    assert "Syntax error" in env.execute("print('unclosed'")
    assert "ZeroDivisionError" in env.execute("x = 1 / 0")
    assert "NameError" in env.execute("print(undefined_name)")
    assert "not allowed" in env.execute("import subprocess")
    assert "No API named" in env.execute("apis.spotify.no_such_api()")
    assert "MemoryError" in env.execute("blob = ' ' * (8 << 30)")
    output = env.execute("print('x' * 100000)")
    assert len(output) < 6000 and "bytes omitted" in output
    assert env.execute("print('still fine')").strip() == "still fine"


def test_a_crashing_execution_restarts_the_process_at_the_last_state(env: AppWorldEnv) -> None:
    env.reset(TASK)
    env.execute(LOGIN + "apis.spotify.create_playlist(title='Road Trip', access_token=token)")
    before = env.server_pid
    output = env.execute("import os\nos.abort()")
    assert "Execution failed" in output and "restarted" in output
    assert env.server_pid != before
    assert env.execute(COUNT).strip() == "3"  # the playlist made before the crash is there


def test_code_past_its_timeout_is_stopped(env: AppWorldEnv) -> None:
    env.reset(TASK)
    env.execute("kept = 41")
    started = time.monotonic()
    output = env.execute("while True:\n    pass")
    assert "timed out after 3 seconds" in output
    assert time.monotonic() - started < 8
    assert env.execute("print(kept + 1)").strip() == "42"  # a soft timeout keeps the process


def test_code_stuck_in_c_is_killed_and_the_world_carries_on(env: AppWorldEnv) -> None:
    env.reset(TASK)
    env.execute(LOGIN + "apis.spotify.create_playlist(title='Road Trip', access_token=token)")
    before = env.server_pid
    started = time.monotonic()
    output = env.execute("sum(range(10 ** 12))")  # one C call: no signal gets in
    assert "timed out after 3 seconds" in output and "restarted" in output
    assert time.monotonic() - started < 60
    assert before is not None and not _alive(before)
    assert env.execute(COUNT).strip() == "3"
    env.execute("apis.supervisor.complete_task()")
    assert env.evaluate().success


def test_the_agents_code_has_no_network(env: AppWorldEnv) -> None:
    env.reset(TASK)
    assert env._executor is not None
    if not env._executor.bwrap:
        pytest.skip("without bubblewrap the executor shares the host's network")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        output = env.execute(
            f"print(__import__('socket').create_connection(('127.0.0.1', {port}), timeout=2))"
        )
    assert "Execution failed" in output


def test_worlds_are_built_once_and_kept(installation: Installation) -> None:
    prepare_tasks([TASK], installation)
    world = installation.data / "tasks" / TASK.world_id
    assert (world / "specs.json").exists() and (world / "dbs" / "spotify.jsonl").exists()
    stamp = (world / "specs.json").stat().st_mtime_ns
    started = time.monotonic()
    prepare_tasks([TASK], installation)
    assert time.monotonic() - started < 0.5
    assert (world / "specs.json").stat().st_mtime_ns == stamp
    other = AppWorldTask.make(TASK.name, TASK.instruction, TASK.modules, {"title": "Other"})
    assert other.world_id != TASK.world_id  # the world id covers the parameters
