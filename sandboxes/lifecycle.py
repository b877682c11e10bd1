"""Closing every open sandbox when the process ends: normally, on an exception, SIGINT or SIGTERM.

After a SIGTERM, no new sandbox starts (`check_running` raises), so a pool of workers winds
down instead of opening fresh containers while the process is being stopped.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import threading
import weakref
from typing import Any, Protocol

from sandboxes.base import SandboxUnavailable


class _Closable(Protocol):
    def close(self) -> None: ...


_open: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_atexit_registered = False
_sigterm_installed = False
_stopping = False


def install() -> None:
    """Register the atexit hook, and the SIGTERM handler when called from the main thread.

    `open_sandbox` and `prepare_env` call this; a program that opens sandboxes only from
    worker threads should call it once from the main thread.
    """
    global _atexit_registered, _sigterm_installed
    with _lock:
        if not _atexit_registered:
            _atexit_registered = True
            atexit.register(close_all)
        if not _sigterm_installed and threading.current_thread() is threading.main_thread():
            _sigterm_installed = True
            # SIGINT already raises KeyboardInterrupt, which unwinds `with` blocks and atexit.
            # SIGTERM's default kills the process outright: make it a SystemExit after cleanup.
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_term)


def track(sandbox: _Closable) -> None:
    """Remember an open sandbox so it is closed at exit or on SIGTERM."""
    install()
    with _lock:
        _open.add(sandbox)


def untrack(sandbox: _Closable) -> None:
    with _lock:
        _open.discard(sandbox)


def stopping() -> bool:
    """Whether SIGTERM arrived: a sandbox error now is the shutdown's, not an instance's."""
    return _stopping


def check_running() -> None:
    if _stopping:
        raise SandboxUnavailable("not starting a sandbox: the process is being terminated")


def close_all() -> None:
    for sandbox in list(_open):
        with contextlib.suppress(Exception):
            sandbox.close()


def _on_term(signum: int, frame: object) -> None:
    global _stopping
    _stopping = True
    close_all()
    raise SystemExit(128 + signum)
