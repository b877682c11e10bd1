"""Where the run primitive's units run (`foundation.runs.run_units(..., executor=...)`):

- `local` (the default): this thread, or a thread or process pool of `workers`;
- `ray`: a Ray instance started for the run on this machine (stopped at its end), or the
  cluster `RAY_ADDRESS` names;
- `ray://HOST:PORT` (Ray Client) or `HOST:PORT` (the head's GCS): an existing cluster.

Ray does the scheduling: each unit is one Ray task (`num_cpus` per unit), its result
streamed back to the driver, whose single writer appends it to the run's log; no worker
ever writes the log. A unit whose worker died (process killed, node lost) is resubmitted
by the driver, at most `retries` times, and its row records `"retries": k`. `ray` is
imported only when an executor needs it (`pip install '.[ray]'`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from foundation.errors import UserError, one_line

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

LOCAL = "local"
RAY = "ray"
CHOICES = "local, ray, ray://HOST:PORT or HOST:PORT"
OPTIONS = "num_cpus=N, memory=SIZE (e.g. 4GiB), retries=N"
INSTALL_HINT = "--executor ray needs Ray: pip install '.[ray]'"
PROBE_SECONDS = 5.0


LOST = (
    "WorkerCrashedError",
    "NodeDiedError",
    "RayActorError",
    "ObjectLostError",
    "OutOfMemoryError",
)
"""Ray's exceptions for a unit that died with its worker or node (not the unit's fault)."""


def worker_lost(exc: BaseException) -> bool:
    """Did this unit die with its worker (after its retries)? A command that records it
    as the unit's error row, instead of ending the run, asks this (no Ray import)."""
    return type(exc).__module__.startswith("ray.") and type(exc).__name__ in LOST


class ExecutorFailure(UserError):
    """The executor could not run a unit at all (Ray could not deserialize the work on a
    worker, a runtime environment failed to set up): every unit would fail, so the run
    ends with this one line instead of recording error rows."""


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed `--executor`: `kind` local or ray; `address` "" (ray: start one here, or
    join `RAY_ADDRESS`), `ray://HOST:PORT` or `HOST:PORT`; per unit, `num_cpus` and
    `memory` (bytes; 0: none asked) as Ray resource requests, and `retries`
    (resubmissions of a unit whose worker died)."""

    kind: str = LOCAL
    address: str = ""
    num_cpus: float = 1.0
    memory: int = 0
    retries: int = 2

    def __str__(self) -> str:
        where = self.address or self.kind
        default = ExecutorSpec()
        options = [
            f"{name}={getattr(self, name):{'g' if name == 'num_cpus' else 'd'}}"
            for name in ("num_cpus", "memory", "retries")
            if getattr(self, name) != getattr(default, name)
        ]
        return ",".join([where, *options])


def parse_executor(text: str | ExecutorSpec) -> ExecutorSpec:
    """`local`, `ray`, `ray://HOST:PORT` or `HOST:PORT`, then for Ray optionally
    `,num_cpus=N,memory=SIZE,retries=N` (what each unit asks for) -> its spec; anything
    else is a one-line `UserError`."""
    if isinstance(text, ExecutorSpec):
        return text
    value, *rest = (part.strip() for part in text.strip().split(","))
    if value in ("", LOCAL):
        if rest:
            raise UserError(f"executor local takes no options ({OPTIONS} are for Ray)")
        return ExecutorSpec()
    if value != RAY:
        _host_port(value)
    options: dict[str, Any] = {}
    for item in rest:
        name, sep, raw = item.partition("=")
        try:
            if name == "num_cpus" and sep and float(raw) >= 0:
                options[name] = float(raw)
            elif name == "retries" and sep and int(raw) >= 0:
                options[name] = int(raw)
            elif name == "memory" and sep:
                options[name] = parse_size(raw)
            else:
                raise ValueError
        except ValueError:
            raise UserError(f"executor option {item!r}: expected {OPTIONS}") from None
    return ExecutorSpec(RAY, "" if value == RAY else value, **options)


_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(text: str) -> int:
    """'4GiB', '512MiB', '2G', '1000000' -> bytes (ValueError for anything else)."""
    number = text.rstrip("BbIiKkMmGg")
    unit = text[len(number) :].lower().removesuffix("b") if text[len(number) :] else ""
    unit = {"ki": "kib", "mi": "mib", "gi": "gib"}.get(unit, unit)
    size = float(number) * _UNITS[unit] if unit in _UNITS else -1
    if not size > 0:
        raise ValueError(text)
    return int(size)


def _host_port(address: str) -> tuple[str, int]:
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in rest:
        raise UserError(f"executor must be {CHOICES}, not {address!r}")
    return host, int(port)


def probe(address: str, seconds: float = PROBE_SECONDS) -> None:
    """A one-line `UserError` naming `address` unless something listens there (Ray itself
    would retry for minutes before giving up)."""
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=seconds):
            pass
    except OSError as exc:
        raise UserError(
            f"cannot reach the Ray cluster at {address} ({one_line(exc, 120)}); start one with "
            "`ray start --head` or check the address"
        ) from None


def import_ray() -> Any:
    """The `ray` module, or a one-line `UserError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


class Pool(Protocol):
    """What `run_units` submits units to. `lost(exc)`: the unit died with its worker, and
    may be resubmitted (at most `retries` times); `close(cancel)` drops queued units."""

    retries: int
    slots: int
    """Units that can run at once."""

    def submit(self, work: Callable[[T], R], unit: T) -> Future[R]: ...

    def lost(self, exc: BaseException) -> bool: ...

    def close(self, cancel: bool) -> None: ...


class LocalPool:
    """A thread pool (or a process pool: `work` and units must pickle) of `workers`."""

    retries = 0

    def __init__(self, workers: int, processes: bool):
        self.slots = workers
        self._pool: Executor = (
            ProcessPoolExecutor(max_workers=workers)
            if processes
            else ThreadPoolExecutor(max_workers=workers)
        )

    def submit(self, work: Callable[[T], R], unit: T) -> Future[R]:
        return self._pool.submit(work, unit)

    def lost(self, exc: BaseException) -> bool:
        return False

    def close(self, cancel: bool) -> None:
        # On cancel, running units finish on their own (their sandboxes close).
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


def _call(work: Callable[[Any], Any], unit: Any) -> Any:
    """The Ray task: one unit (module level, so workers import it instead of unpickling)."""
    return work(unit)


def _apply(work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    return work(*args)


class RayPool:
    """Each unit one Ray task (`num_cpus`, no retries by Ray: the driver retries, so it can
    record them); `work` is put in the object store once and shared by every task."""

    def __init__(self, ray: Any, spec: ExecutorSpec):
        self._ray = ray
        self.retries = spec.retries
        self._task = ray.remote(_call).options(
            num_cpus=spec.num_cpus,
            memory=spec.memory or None,
            max_retries=0,
            retry_exceptions=False,
        )
        self._works: dict[int, tuple[Callable[..., Any], Any]] = {}
        self._refs: dict[Future[Any], Any] = {}
        exc = ray.exceptions
        self._lost = tuple(getattr(exc, name) for name in LOST)
        cpus = float(ray.cluster_resources().get("CPU", 0))
        self.slots = max(1, int(cpus // spec.num_cpus)) if spec.num_cpus else max(1, int(cpus))
        if cpus < spec.num_cpus:
            raise UserError(
                f"the Ray cluster has {cpus:g} CPUs, fewer than the {spec.num_cpus:g} each "
                "unit asks for"
            )

    def _stored(self, work: Callable[..., Any]) -> Any:
        if id(work) not in self._works:  # keep `work` alive so its id is not reused
            self._works[id(work)] = (work, self._ray.put(work))
        return self._works[id(work)][1]

    def submit(self, work: Callable[[T], R], unit: T) -> Future[R]:
        ref = self._task.remote(self._stored(work), unit)
        out: Future[R] = Future()
        self._refs[out] = ref
        ref.future().add_done_callback(functools.partial(_settle, out, self._ray))
        return out

    def lost(self, exc: BaseException) -> bool:
        return isinstance(exc, self._lost)

    def close(self, cancel: bool) -> None:
        if cancel:
            for fut, ref in self._refs.items():
                if not fut.done():
                    with contextlib.suppress(Exception):
                        self._ray.cancel(ref)
        self._refs.clear()


def _settle(out: Future[Any], ray: Any, done: Future[Any]) -> None:
    """Pass a Ray future's outcome on; a unit's own exception comes back as itself (not
    wrapped in `RayTaskError` with the remote traceback), so error rows read as local."""
    try:
        out.set_result(done.result())
    except (ray.exceptions.RaySystemError, ray.exceptions.RuntimeEnvSetupError) as exc:
        text = one_line(exc).split(" traceback: ")[0]
        out.set_exception(ExecutorFailure(f"Ray could not run a unit: {text}"))
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        out.set_exception(cause)
    except BaseException as exc:
        out.set_exception(exc)


def use_token_auth() -> None:
    """Join with Ray's token authentication when a token is at hand and RAY_AUTH_MODE is
    not set. Ray 2.59+ turns token auth on by default in `ray start`, but a driver that
    joins with `ray.init(address=...)` sends no token unless RAY_AUTH_MODE=token, so it
    is refused ("InvalidAuthToken") by the cluster the same user just started. A
    token-mode driver still joins a cluster without authentication. Not for `ray://`:
    a token-mode Ray Client hangs on a client server started without it."""
    protect_token_file()
    if os.environ.get("RAY_AUTH_MODE"):
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(token_path()):
        os.environ["RAY_AUTH_MODE"] = "token"


def token_path() -> str:
    """Where Ray keeps its auth token: RAY_AUTH_TOKEN_PATH, else ~/.ray/auth_token."""
    return os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")


def protect_token_file() -> None:
    """Make Ray's token file readable by its owner only. Ray (2.60) writes it with the
    umask's mode, 644 as a rule, so on a shared machine any user could read the secret that
    keeps others out of the cluster. Only a regular file of this user is changed: it is
    opened without following a symlink (O_NOFOLLOW) and changed through that descriptor,
    so a symlink or a file swapped in meanwhile is left alone."""
    path = token_path()
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError:  # none, a symlink (ELOOP), unreadable: nothing to do here
        return
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except OSError as exc:  # a file we may not change: Ray still works, so only say so
        log.warning("could not make %s private: %s", path, exc)
    finally:
        os.close(fd)


@contextlib.contextmanager
def ray_session(spec: ExecutorSpec) -> Iterator[Any]:
    """Ray, connected for the block: an instance this process already runs is used and left
    up; else `spec.address` (or `RAY_ADDRESS`) is joined, or a local instance started,
    and disconnected (a started one stopped) at the end."""
    address = spec.address or os.environ.get("RAY_ADDRESS", "").strip()
    if address and address not in (LOCAL, "auto"):
        probe(address)
    if address and not address.startswith("ray://"):  # Ray Client: its server's auth
        use_token_auth()  # before Ray is imported: it reads RAY_AUTH_MODE then
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "log_to_driver": True,
    }
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(address=LOCAL, **options)
        protect_token_file()  # a local instance may just have written it
    except Exception as exc:  # connection, authentication, a bad RAY_ADDRESS: one line
        where = address or "a local Ray instance"
        raise UserError(f"cannot start or join {where}: {one_line(exc, 200)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


@contextlib.contextmanager
def executor_session(executor: str | ExecutorSpec) -> Iterator[None]:
    """For a Ray executor, one Ray session around a command's several steps (solving, then
    grading; preparing environments, then grading), so Ray is started or joined once;
    nothing for local."""
    spec = parse_executor(executor)
    if spec.kind == LOCAL:
        yield
        return
    with ray_session(spec):
        yield


def on_every_node(spec: ExecutorSpec, work: Callable[..., R], *args: Any) -> list[R]:
    """`work(*args)` once on each live node of the cluster (a Ray task pinned to it, using
    no CPU slot), e.g. to build a node's environments before units need them there; the
    results in node order."""
    with ray_session(spec) as ray:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        task = ray.remote(_apply)
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))
        refs = [
            task.options(
                num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
            ).remote(work, args)
            for node in nodes
        ]
        try:
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            raise cause from None


@contextlib.contextmanager
def open_pool(spec: ExecutorSpec, workers: int, processes: bool) -> Iterator[Pool]:
    """The pool `spec` names, closed at the end (queued units dropped on an exception)."""
    with contextlib.ExitStack() as stack:
        pool: Pool
        if spec.kind == LOCAL:
            pool = LocalPool(workers, processes)
        else:
            pool = RayPool(stack.enter_context(ray_session(spec)), spec)
        try:
            yield pool
        except BaseException:
            pool.close(cancel=True)
            raise
        pool.close(cancel=False)
