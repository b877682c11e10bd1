"""`agents sandbox gc` removes what a SIGKILLed run left in the temp dir (repository copies,
local sandboxes), and nothing that belongs to a live process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from sandboxes import scratch

ROOT = Path(__file__).resolve().parents[2]
OWNER = "from sandboxes import scratch; import time; print(scratch.make_owned_dir('swe-x__y-1'), flush=True); time.sleep(600)"


def test_gc_removes_the_scratch_dirs_of_a_killed_run_only(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Made first: a process's first scratch dir sweeps orphans, as a new run does.
    mine = scratch.make_owned_dir("swe-live__z-2")  # this process is alive: not an orphan
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, env=env
    )
    assert owner.stdout is not None
    left = Path(owner.stdout.readline().strip())
    owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=30)
    try:
        assert left.is_dir() and left.name.startswith(f"{scratch.PREFIX}swe-x__y-1-")
        gc = subprocess.run(
            [sys.executable, "-c", "from agents.cli import main; main()", "sandbox", "gc"],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert gc.returncode == 0, gc.stderr
        assert str(left) in gc.stdout and not left.exists()
        assert mine.is_dir()
    finally:
        shutil.rmtree(mine, ignore_errors=True)
