"""The AppWorld executor: one task world at a time, the agent's code run by AppWorld's own
`AppWorld.execute` (its `apis` object, its safety guard, its timeout). Runs inside AppWorld's
own venv (it imports `appworld`), as an unprivileged process under limits; never imported by us.

HTTP/1.0 on a Unix socket, one request at a time on the main thread (AppWorld's timeout is a
SIGALRM, which only the main thread receives):

    GET  /health                          {"ok": true, "pid": ..., "task_id": ...}
    POST /initialize {task_id, experiment, timeout, seed, output_bytes, resume}
                                          {"instruction": ..., "supervisor": {...}}
    POST /execute {code}                  {"output": ..., "completed": bool}
    POST /close                           {}

`resume`: the world starts from the attempt's last saved state (AppWorld saves it after every
execution) instead of the task's start: how the client carries on after it had to kill a
stuck process. The process ends when the file descriptor `--parent-fd` reaches end of file,
i.e. when the parent process is gone, however it ended.
"""

import argparse
import json
import os
import shutil
import signal
import socketserver
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

WORLD: Any = None
LIMIT = 1 << 20


def _watch_parent(fd: int) -> None:
    """Die with the parent: its end of the pipe closes when it exits, even on SIGKILL."""

    def run() -> None:
        try:
            while os.read(fd, 64):
                pass
        except OSError:
            pass
        try:
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(1)

    threading.Thread(target=run, daemon=True, name="parent-watch").start()


def _cap(text: str, limit: int) -> str:
    data = text.encode(errors="replace")
    if len(data) <= limit:
        return text
    half = max(limit // 2, 1)
    dropped = len(data) - 2 * half
    return (
        data[:half].decode(errors="replace")
        + f"\n[... {dropped} bytes omitted ...]\n"
        + data[-half:].decode(errors="replace")
    )


def _close_world() -> None:
    global WORLD
    from appworld.environment import AppWorld

    if WORLD is not None:
        try:
            WORLD.close()
        finally:
            WORLD = None
    AppWorld.close_all()


def initialize(body: dict[str, Any]) -> dict[str, Any]:
    global WORLD, LIMIT
    from appworld.environment import AppWorld

    _close_world()
    LIMIT = int(body.get("output_bytes") or LIMIT)
    task_id, experiment = body["task_id"], body["experiment"]
    saved = None
    if body.get("resume"):
        dbs = Path("experiments", "outputs", experiment, "tasks", task_id, "dbs")
        saved = Path("resume", task_id)
        shutil.rmtree(saved, ignore_errors=True)
        if dbs.is_dir():
            shutil.copytree(dbs, saved)
        else:
            saved = None
    world = AppWorld(
        task_id=task_id,
        experiment_name=experiment,
        load_ground_truth=False,
        timeout_seconds=max(1, round(float(body["timeout"]))),
        random_seed=int(body.get("seed", 100)),
        raise_on_unsafe_syntax=True,
        null_patch_unsafe_execution=True,
    )
    if saved is not None:
        # AppWorld.load_state, from this directory; then the task's clock again (close_all
        # stops every time freezer) and the state saved as the attempt's latest.
        AppWorld.close_all()
        world._load_state(str(saved))
        world._execute_preamble()
        world._set_datetime()
        world._save_state(world.output_db_home_path_on_disk)
        shutil.rmtree(saved, ignore_errors=True)
    WORLD = world
    supervisor = world.task.supervisor
    return {
        "task_id": task_id,
        "instruction": world.task.instruction,
        "datetime": str(world.task.datetime),
        "supervisor": {
            key: supervisor[key] for key in ("first_name", "last_name", "email", "phone_number")
        },
    }


def execute(body: dict[str, Any]) -> dict[str, Any]:
    if WORLD is None:
        raise RuntimeError("no task world: initialize one first")
    output = WORLD.execute(str(body["code"]))
    try:
        completed = bool(WORLD.task_completed())
    except Exception:
        completed = False
    return {"output": _cap(output, LIMIT), "completed": completed}


def close(body: dict[str, Any]) -> dict[str, Any]:
    _close_world()
    return {}


ROUTES = {"/initialize": initialize, "/execute": execute, "/close": close}


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            task_id = WORLD.task_id if WORLD is not None else None
            self._answer(200, {"ok": True, "pid": os.getpid(), "task_id": task_id})
        else:
            self._answer(404, {"error": f"no such path {self.path}"})

    def do_POST(self) -> None:
        route = ROUTES.get(self.path)
        if route is None:
            self._answer(404, {"error": f"no such path {self.path}"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            self._answer(200, route(body))
        except Exception as exc:
            traceback.print_exc()
            message = " ".join(str(exc).split()) or type(exc).__name__
            self._answer(500, {"error": f"{type(exc).__name__}: {message}"[:2000]})

    def address_string(self) -> str:
        return "client"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (errors are, with their traceback)."""


class Server(socketserver.UnixStreamServer):
    allow_reuse_address = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--parent-fd", type=int, default=-1)
    args = parser.parse_args()
    if args.parent_fd >= 0:
        _watch_parent(args.parent_fd)
    os.chdir(os.environ["APPWORLD_ROOT"])  # AppWorld writes experiments/ relative to it
    import appworld.environment  # noqa: F401  (the slow import, before we say we are up)

    with Server(args.socket, Handler) as server:
        os.chmod(args.socket, 0o600)
        sys.stderr.write(f"appworld-server: listening on {args.socket} (pid {os.getpid()})\n")
        sys.stderr.flush()
        server.serve_forever()


if __name__ == "__main__":
    main()
