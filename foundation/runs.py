"""The run primitive: every resumable command (solve, eval, bench, story mining, planning)
runs its units of work through `run_units` over a `RunLog`: one process at a time per run
directory (`run_lock`), one fsynced JSON line per finished unit, a reader that skips a torn
last line, finished units skipped on a rerun, a bad unit recorded as an error row (when the
command says how) rather than the end of the run, and a reached budget (`BudgetExhausted`)
ending the run cleanly with what finished. Names that become paths are checked first
(`path_component`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from foundation.budget import BudgetExhausted
from foundation.errors import UserError
from foundation.executors import ExecutorFailure, ExecutorSpec, Pool, open_pool, parse_executor
from foundation.jsonl import JsonlLog, read_rows

LOCK_FILE = ".lock"


class RunLocked(UserError):
    """Another process works in the same run directory."""


@contextlib.contextmanager
def run_lock(directory: Path) -> Iterator[Path]:
    """Hold `directory`'s lock while the block runs; a second process (or a second run in
    this one) gets `RunLocked` naming the holder. The kernel drops the lock when the holder
    dies, even by SIGKILL, so a killed run never leaves a stale lock behind."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise RunLocked(
            f"{directory} is in use by {holder}; wait for that run to end, or give this one "
            "another run directory (--output / --run-id)"
        ) from None
    try:
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        yield directory
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on {info['host']} since {info['since']} (`{info['command']}`)"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def path_component(name: str, what: str) -> str:
    """`name` if it is safe as one file or directory name, else a one-line `UserError`:
    not empty, `.` or `..`, no `/`, no NUL or other control characters, at most 200 bytes."""
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if name in ("", ".", "..") or "/" in name or bad is not None:
        why = f"control character {bad!r}" if bad is not None else "not a single file name"
        raise UserError(f"{what} {name!r} cannot name a directory ({why})")
    try:
        size = len(name.encode())
    except UnicodeEncodeError:
        raise UserError(f"{what} {name!r} is not valid text (a lone surrogate)") from None
    if size > 200:
        raise UserError(f"{what} {name[:40]!r}... is longer than 200 bytes")
    return name


T = TypeVar("T")
Row = dict[str, Any]


class RunLog:
    """A run's results file: one JSON line per finished unit, appended whole and fsynced;
    `done` holds the rows read back (a torn last line skipped), by `key(row)` (rows whose
    key is None are not finished units: headers, other configurations)."""

    def __init__(
        self, path: Path, key: Callable[[Row], Hashable | None], *, sort_keys: bool = True
    ):
        self.path = path
        self.key = key
        self.sort_keys = sort_keys
        self._log = JsonlLog(path)
        self.done: dict[Hashable, Row] = {}
        for row in read_rows(path):
            k = key(row)
            if k is not None:
                self.done[k] = row

    def append(self, row: Row) -> None:
        self._log.append_line(json.dumps(row, sort_keys=self.sort_keys, default=str))
        k = self.key(row)
        if k is not None:
            self.done[k] = row


UNIT_FILES = "unit_files"
"""What a remote unit (a Ray task, possibly on another machine) sends back with its row:
the files it wrote, by path relative to the run directory; the driver writes them
(`unpack_files`) and they are not part of the logged row."""


def pack_files(row: Row, scratch: Path) -> Row:
    """`row` with every regular file under `scratch` (a remote unit's private copy of the
    run directory) in `UNIT_FILES`, as text by relative path."""
    files = {
        f.relative_to(scratch).as_posix(): f.read_text(errors="replace")
        for f in sorted(scratch.rglob("*"))
        if f.is_file() and not f.is_symlink()
    }
    return {**row, UNIT_FILES: files}


def in_scratch(
    make_row: Callable[[Path], Row],
    directory: Callable[[], AbstractContextManager[Path]] | None = None,
) -> Row:
    """`make_row(scratch)` with a fresh scratch directory as the unit's run directory,
    and the row with the files it wrote there (`pack_files`); the directory is removed.
    `directory`: makes it (e.g. `sandboxes.scratch.scratch_dir`, whose directories a
    later run or `agents sandbox gc` removes when a killed worker left them); default: a
    plain temporary directory."""
    with contextlib.ExitStack() as stack:
        if directory is not None:
            root = stack.enter_context(directory())
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agents-unit-")))
        tmp = root / "unit"  # only the unit's files: not what `directory` keeps beside them
        tmp.mkdir()
        return pack_files(make_row(tmp), tmp)


def unpack_files(row: Row, out: Path) -> Row:
    """`row` without `UNIT_FILES`, whose files are written under `out` (atomically, each
    path part checked by `path_component`: a unit's file names may come from a model)."""
    from foundation.jsonl import write_atomic

    row = dict(row)
    for rel, text in (row.pop(UNIT_FILES, None) or {}).items():
        parts = rel.split("/")
        for part in parts:
            path_component(part, "a file a remote unit sent back")
        write_atomic(out.joinpath(*parts), text)
    return row


@dataclass
class RunOutcome:
    """What `run_units` did: rows of this session (`new`), units skipped as done, and why
    it stopped early ("" when every unit ran; "budget" when a budget was reached)."""

    new: list[Row] = field(default_factory=list)
    skipped: int = 0
    stopped: str = ""
    budget_message: str = ""


def run_units(
    log: RunLog,
    units: Sequence[T],
    key: Callable[[T], Hashable],
    work: Callable[[T], Row],
    *,
    workers: int = 1,
    processes: bool = False,
    executor: str | ExecutorSpec = "local",
    error_row: Callable[[T, Exception], Row] | None = None,
    fatal: Callable[[Exception], bool] = lambda exc: False,
    on_row: Callable[[T, Row | None], None] | None = None,
    receive: Callable[[T, Row], Row] | None = None,
    receive_error: Callable[[T, BaseException], None] | None = None,
    batch: int | None = 1,
) -> RunOutcome:
    """Run `work(unit)` for every unit whose `key` is not in `log.done`, appending each
    returned row the moment it is known (the single writer is this thread).

    - `workers` > 1 runs units in a thread pool (`processes`: a process pool; `work` and
      the units must then pickle); 1 runs them in this thread, so Ctrl-C stops at once.
    - `executor` other than "local" (`foundation.executors`: "ray", "ray://HOST:PORT",
      "HOST:PORT") runs each unit as a Ray task (`work` and the units must pickle;
      `workers` and `processes` do not apply: the cluster's CPUs bound the units at once).
      A unit whose worker died is resubmitted (at most `spec.retries` times) and its row
      records `"retries": k`; rows still reach the log only from this thread. When Ray
      cannot run a unit at all (`ExecutorFailure`: the work does not load on a worker),
      the run ends with that one line.
    - `error_row(unit, exc)` turns a unit's exception into its row (the run goes on);
      an exception for which `fatal(exc)` is true (no key, server down, Docker gone: every
      unit would fail), and any exception when `error_row` is None, end the run.
    - `BudgetExhausted` ends the run cleanly: queued units are dropped, the unit that hit
      the budget is not recorded (a rerun redoes it), `stopped` says "budget".
    - `on_row(unit, row)` runs after each row is appended (row None: skipped as done):
      progress, or files derived from the log.
    - `receive(unit, row)` runs in this thread on each row `work` returned, before it is
      appended, and gives the row to append: what a remote unit sent back besides its
      row (files, usage) is taken out and written here. `receive_error(unit, exc)`
      runs on each exception a unit raised, whatever happens next (an error row, the
      run's end): what it carried back (the usage spent before it raised) is taken here.
    - `batch`: on Ray, units sent per task (None: enough for about 4 tasks per slot of
      the cluster), for units too small to pay a task's overhead each (a game); their
      rows are still logged one by one, as each task's results arrive.
    """
    spec = parse_executor(executor)
    outcome = RunOutcome()
    todo, queued = [], set()
    for unit in units:
        k = key(unit)
        if k in log.done or k in queued:
            outcome.skipped += 1
            if on_row:
                on_row(unit, None)
        else:
            queued.add(k)
            todo.append(unit)

    def attempt(unit: T, run: Callable[[], Row]) -> Row:
        try:
            row = run()
            return receive(unit, row) if receive else row
        except Exception as exc:
            if receive_error is not None:
                receive_error(unit, exc)
            if isinstance(exc, (BudgetExhausted, ExecutorFailure)):
                raise
            if error_row is None or fatal(exc):
                raise
            return error_row(unit, exc)

    def record(unit: T, row: Row) -> None:
        log.append(row)
        outcome.new.append(row)
        if on_row:
            on_row(unit, row)

    try:
        if spec.kind == "local" and workers <= 1:
            for unit in todo:
                record(unit, attempt(unit, functools.partial(work, unit)))
        elif todo:
            with open_pool(spec, workers, processes) as pool:
                size = 1 if spec.kind == "local" else batch or -(-len(todo) // (4 * pool.slots))
                _pooled(todo, work, attempt, record, pool, max(1, size))
    except BudgetExhausted as exc:
        outcome.stopped = "budget"
        outcome.budget_message = str(exc)
    return outcome


Outcome = tuple[Row | None, BaseException | None]


def _run_batch(work: Callable[[T], Row], units: Sequence[T]) -> list[Outcome]:
    """A batch's units one after another, each one's row or exception (a budget reached or
    a unit Ray cannot run ends the batch: the run ends there)."""
    outcomes: list[Outcome] = []
    for unit in units:
        try:
            outcomes.append((work(unit), None))
        except Exception as exc:
            outcomes.append((None, exc))
            if isinstance(exc, (BudgetExhausted, ExecutorFailure)):
                break
    return outcomes


def _settled(row: Row | None, error: BaseException | None) -> Row:
    """A unit's row, or its exception raised (for `attempt` to settle)."""
    if error is not None:
        raise error
    assert row is not None
    return row


def _pooled(
    todo: Sequence[T],
    work: Callable[[T], Row],
    attempt: Callable[[T, Callable[[], Row]], Row],
    record: Callable[[T, Row], None],
    pool: Pool,
    batch: int = 1,
) -> None:
    """`work` runs in the pool, `batch` units per submission; results and exceptions come
    back through the futures and are settled here, in the single writer's thread. A
    submission lost with its worker (`pool.lost`) is resubmitted up to `pool.retries`
    times; its rows then say how often. Nothing of a lost submission was recorded, so no
    unit is recorded twice."""
    many = functools.partial(_run_batch, work)
    groups = [list(todo[i : i + batch]) for i in range(0, len(todo), batch)]

    def submit(group: list[T]) -> Future[Any]:
        return pool.submit(many, group) if batch > 1 else pool.submit(work, group[0])

    futures: dict[Future[Any], tuple[list[T], int]] = {submit(g): (g, 0) for g in groups}
    pending = set(futures)
    while pending:
        finished, pending = wait_futures(pending, return_when="FIRST_COMPLETED")
        for fut in finished:
            group, retries = futures.pop(fut)
            exc = fut.exception()
            if exc is not None and retries < pool.retries and pool.lost(exc):
                again = submit(group)
                futures[again] = (group, retries + 1)
                pending.add(again)
                continue
            if exc is not None:
                outcomes: list[Outcome] = [(None, exc)] * len(group)
            elif batch > 1:
                outcomes = fut.result()
            else:
                outcomes = [(fut.result(), None)]
            for unit, (row, error) in zip(group, outcomes, strict=False):
                got = attempt(unit, functools.partial(_settled, row, error))
                record(unit, {**got, "retries": retries} if retries else got)
