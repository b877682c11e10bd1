"""`foundation.jsonl.write_atomic`: a whole file or the old one, and no temp files left
behind by writers that failed or were killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.jsonl import write_atomic

ROOT = Path(__file__).resolve().parents[1]

KILLED_MID_WRITE = """
import os, sys, time
from pathlib import Path
from foundation import jsonl
jsonl.os.replace = lambda *a: (print("written", flush=True), time.sleep(600))
jsonl.write_atomic(Path(sys.argv[1]), "half")
"""


def _writer_stuck_before_rename(path: Path) -> subprocess.Popen[str]:
    """A process whose write_atomic wrote its temp file and hangs before the rename."""
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_WRITE, str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    return proc


def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_atomic(path, "old")
    proc = _writer_stuck_before_rename(path)
    tmp = path.with_name(f"report.html.tmp{proc.pid}")
    assert tmp.read_text() == "half" and path.read_text() == "old"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_running_writers_temp_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    proc = _writer_stuck_before_rename(path)
    try:
        write_atomic(path, "new")
        assert path.with_name(f"report.html.tmp{proc.pid}").exists()
        assert path.read_text() == "new"
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_failed_write_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.json"
    write_atomic(path, "old")

    def fail(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_other_files_temp_names_are_not_touched(tmp_path: Path) -> None:
    other = tmp_path / "report.html.tmp_notes"  # not a pid: not a temp file of ours
    other.write_text("keep")
    dead = tmp_path / "report.json.tmp999999999"  # another file's temp
    dead.write_text("keep")
    write_atomic(tmp_path / "report.html", "x")
    assert other.read_text() == "keep" and dead.read_text() == "keep"
    assert os.path.exists(tmp_path / "report.html")
