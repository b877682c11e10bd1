"""`AppWorldEnv`: an agent's code against AppWorld's apps, one task world per attempt.

    from sandboxes.appworld import AppWorldEnv

    with AppWorldEnv() as env:
        instruction = env.reset(task)                  # a fresh world for `task`
        observation = env.execute("print(apis.supervisor.show_profile())")
        result = env.evaluate()                        # the task's checks on the end state
        result.success, result.passes, result.failures

The agent's code runs where AppWorld runs it: `AppWorld.execute` in the executor process
(see `processes.py`), with AppWorld's `apis` object, its safety guard and its timeout, under
the project's limits. Its output (or AppWorld's "Execution failed. Traceback: ...") is the
observation. Code still running `timeout` + a grace period later is stopped by killing the
process; the world then carries on from the state after the last execution that finished,
and the observation says so. Grading runs in a separate, trusted process (the worker) on
the state the executor saved, so code run by the agent cannot change how it is graded.

We wrote our own small server (`_server.py`) instead of `appworld serve environment`:
that one listens on 0.0.0.0 (agent code execution open to the network), loads worlds only
from the official data (which needs the internet) and grades in the process that ran the
agent's code. Ours listens on a Unix socket in the world's directory: nothing else on the
machine can reach it, and under bubblewrap the agent's code has no network at all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from foundation.errors import UserError
from sandboxes import lifecycle, scratch
from sandboxes.appworld.install import (
    APPWORLD_VERSION,
    HERE,
    INSTALL_FORMAT,
    Installation,
    ensure_appworld,
)
from sandboxes.appworld.processes import Executor, log_tail, remove_tree, shared_worker
from sandboxes.base import SandboxError
from sandboxes.cache import build_lock
from sandboxes.limits import Limits

# The agent's code gets 60 s per execution by default (AppWorld's own default is 100 s).
DEFAULT_LIMITS = Limits(
    memory_mb=2048, cpus=1.0, pids=64, timeout=60.0, output_bytes=1 << 16, file_size_mb=256
)
GRACE = 5.0  # after the timeout, before the process is killed
STARTUP_TIMEOUT = 120.0
# AppWorld's process grows by about a megabyte per attempt: a fresh one every so many attempts.
RECYCLE_AFTER = 200
EXPERIMENT = "env"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,80}")


@functools.lru_cache(maxsize=1)
def _builder_digest() -> str:
    """A hash of the code that builds worlds: a change to it builds them again."""
    return hashlib.sha256((HERE / "_worker.py").read_bytes()).hexdigest()[:12]


class AppWorldError(SandboxError, UserError):
    """The AppWorld environment could not be set up or started (one line, with a log path)."""


@dataclass(frozen=True)
class AppWorldTask:
    """One task: an instruction and the world it is carried out in.

    `modules` are Python modules, (dotted name, source), loaded in order inside AppWorld's
    venv and importable there by those names; the last one defines `build(world, params) ->
    {"public": {...}, "private": {...}, "answer": ...}` (fills the databases through
    AppWorld's models and factories: see `_worker.World`; deterministic given `seed`) and
    AppWorld's `evaluate(test, public_data, private_data, main_user, models,
    ground_truth_answer)` (state-based checks on the start and end databases:
    `models.changed_records(...)` and the like). `params` is JSON. `datetime` is the world's
    frozen clock.
    """

    name: str
    instruction: str
    modules: tuple[tuple[str, str], ...]
    params_json: str = "{}"
    seed: int = 0
    difficulty: int = 1
    datetime: str = "2023-05-18T12:00:00"

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"task name {self.name!r}: letters, digits and dashes only")
        object.__setattr__(self, "modules", tuple((str(n), str(s)) for n, s in self.modules))

    @classmethod
    def make(
        cls,
        name: str,
        instruction: str,
        modules: tuple[tuple[str, str], ...],
        params: dict[str, Any],
        **rest: Any,
    ) -> AppWorldTask:
        return cls(name, instruction, modules, json.dumps(params, sort_keys=True), **rest)

    @property
    def params(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.params_json)
        return value

    @property
    def world_id(self) -> str:
        """AppWorld's task id for this task's built world: the name and a hash of everything
        that shapes the world or its checks (AppWorld ids have exactly one underscore)."""
        payload = json.dumps(
            [
                self.instruction,
                self.modules,
                self.params_json,
                self.seed,
                self.difficulty,
                self.datetime,
                APPWORLD_VERSION,
                INSTALL_FORMAT,
                _builder_digest(),
            ]
        )
        return f"{self.name}_{hashlib.sha256(payload.encode()).hexdigest()[:12]}"

    def spec(self) -> dict[str, Any]:
        """The worker's build request."""
        return {
            "id": self.world_id,
            "instruction": self.instruction,
            "modules": [list(module) for module in self.modules],
            "params": self.params,
            "seed": self.seed,
            "datetime": self.datetime,
            "difficulty": self.difficulty,
        }


@dataclass(frozen=True)
class AppWorldResult:
    """The task's checks on an attempt's end state (AppWorld's TestTracker, flattened)."""

    success: bool
    num_tests: int
    passes: tuple[str, ...]
    failures: tuple[tuple[str, str], ...]  # (requirement, trace)
    answer: Any = None  # what the agent gave `apis.supervisor.complete_task(answer=...)`
    ground_truth_answer: Any = None
    status: str | None = None  # "success"/"fail" once the agent completed the task
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def score(self) -> float:
        """The fraction of checks passed."""
        return len(self.passes) / self.num_tests if self.num_tests else 0.0


def prepare_tasks(tasks: list[AppWorldTask], inst: Installation | None = None) -> Installation:
    """Build the worlds of `tasks` that are not built yet (cached on disk by content)."""
    inst = inst or ensure_appworld()
    worker = shared_worker(inst)
    for task in tasks:
        world_id = task.world_id
        if (inst.data / "tasks" / world_id).is_dir() and (inst.truth / world_id).is_dir():
            continue
        with build_lock(f"appworld-task-{world_id}"):
            worker.call({"cmd": "build", "task": task.spec()}, timeout=600)
    return inst


class AppWorldEnv:
    """AppWorld's apps for one agent: `reset(task)`, `execute(code)`, `evaluate()`, `close()`.

    One world (database state) per attempt: `reset` builds the task's world if needed and
    starts the attempt from its start state, however the last attempt left it. One thread
    uses an environment at a time. Close it (or use `with`); everything it started ends with
    it, and with this process however it ends.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        startup_timeout: float = STARTUP_TIMEOUT,
        installation: Installation | None = None,
    ) -> None:
        """`installation`: whose data the worlds come from (default `ensure_appworld()`; the
        official data's is `official.prepare(...)`)."""
        self.limits = limits or DEFAULT_LIMITS
        self.startup_timeout = startup_timeout
        self.task: AppWorldTask | None = None
        self.supervisor: dict[str, str] = {}
        self.completed = False  # the agent called apis.supervisor.complete_task
        self.steps = 0
        self._inst: Installation | None = installation
        self._executor: Executor | None = None
        self._http: httpx.Client | None = None
        self._root: Path | None = None
        self._closed = False
        self._attempts = 0  # since the executor started
        lifecycle.track(self)

    # -- the process ------------------------------------------------------------------------

    @property
    def installation(self) -> Installation:
        if self._inst is None:
            self._inst = ensure_appworld()
        return self._inst

    @property
    def server_pid(self) -> int | None:
        """The executor's pid while it runs (for tests and diagnostics)."""
        executor = self._executor
        return executor.pid if executor is not None and executor.alive() else None

    def start(self) -> None:
        """Start the executor and wait until it answers (`reset` does this when needed)."""
        if self._closed:
            raise SandboxError("this AppWorld environment is closed")
        lifecycle.check_running()
        inst = self.installation
        if self._executor is None:
            self._root = scratch.make_owned_dir("appworld")
            self._executor = Executor(inst, self._root, self.limits)
            self._http = httpx.Client(
                transport=httpx.HTTPTransport(uds=str(self._executor.socket)),
                base_url="http://appworld",
            )
        executor = self._executor
        executor.start()
        self._attempts = 0
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if not executor.alive():
                why = executor.why_ended()
                executor.stop()
                raise AppWorldError(
                    f"the AppWorld executor did not come up ({why}): "
                    f"{log_tail(executor.log)}; log: {executor.log}"
                )
            with contextlib.suppress(httpx.TransportError, ValueError):
                if self._request("GET", "/health", timeout=2.0).get("ok"):
                    return
            if time.monotonic() > deadline:
                executor.stop()
                raise AppWorldError(
                    f"the AppWorld executor did not answer within {self.startup_timeout:.0f} s: "
                    f"{log_tail(executor.log)}; log: {executor.log}"
                )
            time.sleep(0.1)

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float
    ) -> dict[str, Any]:
        assert self._http is not None
        response = self._http.request(method, path, json=body, timeout=timeout)
        try:
            payload: dict[str, Any] = response.json()
        except ValueError as exc:
            raise _ServerError(f"an answer that is not JSON (HTTP {response.status_code})") from exc
        if response.status_code != 200:
            raise _ServerError(str(payload.get("error", response.text))[:2000])
        return payload

    def _alive(self) -> bool:
        return self._executor is not None and self._executor.alive()

    # -- the protocol -----------------------------------------------------------------------

    def reset(self, task: AppWorldTask) -> str:
        """A fresh world for `task` (built on first use); returns the task's instruction."""
        if self._closed:
            raise SandboxError("this AppWorld environment is closed")
        prepare_tasks([task], self.installation)
        if not self._alive() or self._attempts >= RECYCLE_AFTER:
            self.start()
        self._attempts += 1
        self.task, self.completed, self.steps = task, False, 0
        answer = self._initialize(resume=False)
        self.supervisor = dict(answer.get("supervisor") or {})
        return str(answer["instruction"])

    def _initialize(self, resume: bool) -> dict[str, Any]:
        assert self.task is not None
        body = {
            "task_id": self.task.world_id,
            "experiment": EXPERIMENT,
            "timeout": self.limits.timeout,
            "seed": self.task.seed,
            "output_bytes": self.limits.output_bytes,
            "resume": resume,
        }
        try:
            return self._request("POST", "/initialize", body, timeout=self.startup_timeout)
        except (_ServerError, httpx.HTTPError) as exc:
            raise AppWorldError(
                f"AppWorld could not open the world of {self.task.name}: {exc}; "
                f"log: {self._executor.log if self._executor else '-'}"
            ) from exc

    def execute(self, code: str) -> str:
        """Run the agent's `code` in the world; its output (or the failure) is the observation."""
        if self.task is None or self._closed:
            raise SandboxError("execute() before reset(task), or after close()")
        self.steps += 1
        if not self._alive():
            return self._restarted("the Python process had ended")
        try:
            answer = self._request(
                "POST", "/execute", {"code": code}, timeout=self.limits.timeout + GRACE
            )
        except httpx.TimeoutException:
            return self._restarted(f"Execution timed out after {self.limits.timeout:g} seconds")
        except httpx.TransportError:
            assert self._executor is not None
            with contextlib.suppress(Exception):
                assert self._executor.proc is not None
                self._executor.proc.wait(timeout=2)
            return self._restarted(f"The Python process ended ({self._executor.why_ended()})")
        except _ServerError as exc:
            return f"Execution failed. Traceback:\n{exc}"
        self.completed = bool(answer.get("completed"))
        return str(answer["output"])

    def _restarted(self, what: str) -> str:
        """Kill what is left, start a new process and reopen the world where the last finished
        execution left it; the observation says what happened."""
        assert self._executor is not None
        self._executor.stop()
        self.start()
        self._initialize(resume=True)
        return (
            f"Execution failed. Traceback:\n{what}. The environment was restarted from the state "
            "after the last execution that finished; variables defined before are gone."
        )

    def evaluate(self) -> AppWorldResult:
        """The task's checks on the attempt's current end state."""
        if self.task is None or self._executor is None:
            raise SandboxError("evaluate() before reset(task)")
        end = self._executor.outputs / EXPERIMENT / "tasks" / self.task.world_id / "dbs"
        answer = shared_worker(self.installation).call(
            {"cmd": "evaluate", "task_id": self.task.world_id, "end": str(end)}, timeout=600
        )
        return AppWorldResult(
            success=bool(answer["success"]),
            num_tests=int(answer["num_tests"]),
            passes=tuple(str(p["requirement"]) for p in answer["passes"]),
            failures=tuple((str(f["requirement"]), str(f["trace"])) for f in answer["failures"]),
            answer=answer.get("answer"),
            ground_truth_answer=answer.get("ground_truth_answer"),
            status=answer.get("status"),
            raw=answer,
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        lifecycle.untrack(self)
        if self._http is not None:
            with contextlib.suppress(Exception):
                self._http.close()
        if self._executor is not None:
            self._executor.stop()
        if self._root is not None:
            remove_tree(self._root)

    def __enter__(self) -> AppWorldEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ServerError(Exception):
    """The executor answered with an error (AppWorld failed, not the agent's code)."""
