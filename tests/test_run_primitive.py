"""The run primitive every resumable command uses (foundation.runs): skip what is done,
one whole fsynced line per unit, a torn tail read past, error rows, one way for a budget
to end the run, pools with a single writer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from foundation.budget import BudgetExhausted
from foundation.runs import RunLog, run_units


def _log(path: Path) -> RunLog:
    return RunLog(path, key=lambda r: r.get("id"))


def _square(n: int) -> dict[str, Any]:
    return {"id": n, "square": n * n}


def test_a_rerun_skips_what_is_done_and_does_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    ran: list[int] = []

    def work(n: int) -> dict[str, Any]:
        if n == 3:
            raise KeyboardInterrupt  # the run is stopped mid-way
        ran.append(n)
        return _square(n)

    with pytest.raises(KeyboardInterrupt):
        run_units(_log(path), range(6), key=lambda n: n, work=work)
    assert ran == [0, 1, 2]
    ran.clear()
    seen: list[tuple[int, bool]] = []
    outcome = run_units(
        _log(path), range(6), key=lambda n: n, work=lambda n: (ran.append(n), _square(n))[1],
        on_row=lambda n, row: seen.append((n, row is None)),
    )  # fmt: skip
    assert ran == [3, 4, 5] and outcome.skipped == 3 and len(outcome.new) == 3
    assert seen == [(0, True), (1, True), (2, True), (3, False), (4, False), (5, False)]
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4, 5]


def test_a_torn_last_line_is_skipped_and_the_next_line_starts_whole(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": 0, "square": 0}\n{"id": 1, "squ')  # killed mid-write
    log = _log(path)
    assert set(log.done) == {0}
    run_units(log, range(3), key=lambda n: n, work=_square)
    lines = path.read_text().splitlines()
    assert lines[1] == '{"id": 1, "squ'
    assert [json.loads(x)["id"] for x in lines[2:]] == [1, 2]
    assert set(_log(path).done) == {0, 1, 2}


def test_each_row_is_fsynced_as_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    run_units(_log(tmp_path / "r.jsonl"), range(4), key=lambda n: n, work=_square)
    assert len(synced) == 4


def test_a_bad_unit_is_an_error_row_and_a_fatal_error_ends_the_run(tmp_path: Path) -> None:
    def work(n: int) -> dict[str, Any]:
        if n == 1:
            raise ValueError("bad instance")
        if n == 3:
            raise ConnectionError("server down")
        return _square(n)

    def error_row(n: int, exc: Exception) -> dict[str, Any]:
        return {"id": n, "error": str(exc)}

    log = _log(tmp_path / "r.jsonl")
    with pytest.raises(ConnectionError):
        run_units(
            log, range(5), key=lambda n: n, work=work, error_row=error_row,
            fatal=lambda exc: isinstance(exc, ConnectionError),
        )  # fmt: skip
    assert log.done[1] == {"id": 1, "error": "bad instance"}
    assert sorted(log.done) == [0, 1, 2]
    with pytest.raises(ValueError, match="bad instance"):  # no error_row: the run ends
        run_units(_log(tmp_path / "s.jsonl"), range(3), key=lambda n: n, work=work)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_reached_budget_ends_the_run_cleanly_without_the_cut_unit(
    tmp_path: Path, workers: int
) -> None:
    def work(n: int) -> dict[str, Any]:
        if n == 2:
            raise BudgetExhausted("--max-cost 0.01 reached")
        return _square(n)

    log = _log(tmp_path / "r.jsonl")
    outcome = run_units(log, range(3), key=lambda n: n, work=work, workers=workers)
    assert outcome.stopped == "budget" and "--max-cost" in outcome.budget_message
    assert 2 not in log.done and set(log.done) <= {0, 1}
    if workers == 1:
        assert set(log.done) == {0, 1}


@pytest.mark.parametrize("processes", [False, True])
def test_pools_write_every_row_whole_from_one_writer(tmp_path: Path, processes: bool) -> None:
    path = tmp_path / "r.jsonl"
    outcome = run_units(
        _log(path), list(range(40)), key=lambda n: n, work=_square, workers=2,
        processes=processes,
    )  # fmt: skip
    assert len(outcome.new) == 40
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == list(range(40))
    assert all(r["square"] == r["id"] ** 2 for r in rows)


def test_a_unit_listed_twice_runs_once(tmp_path: Path) -> None:
    ran: list[int] = []
    run_units(
        _log(tmp_path / "r.jsonl"), [1, 2, 1], key=lambda n: n,
        work=lambda n: (ran.append(n), _square(n))[1],
    )  # fmt: skip
    assert ran == [1, 2]


def test_receive_error_sees_every_exception_a_unit_raised(tmp_path: Path) -> None:
    """What a unit carried back with its exception (a remote unit's usage) is taken on the
    driver whether the exception becomes an error row or ends the run."""
    seen: list[tuple[int, str]] = []

    def work(n: int) -> dict[str, Any]:
        if n == 2:
            raise ValueError("bad unit")
        if n == 4:
            raise BudgetExhausted("budget: cap reached")
        return {"id": n}

    outcome = run_units(
        _log(tmp_path / "log.jsonl"), [1, 2, 3, 4, 5], key=lambda n: n, work=work,
        error_row=lambda n, exc: {"id": n, "error": str(exc)},
        receive_error=lambda n, exc: seen.append((n, type(exc).__name__)),
    )  # fmt: skip
    assert seen == [(2, "ValueError"), (4, "BudgetExhausted")]
    assert outcome.stopped == "budget" and [r["id"] for r in outcome.new] == [1, 2, 3]


def test_a_remote_units_usage_goes_back_with_its_exception() -> None:
    """`RemoteModel.metered` (what a Ray worker runs a solve unit in) puts the usage of the
    calls made before the unit raised on the exception, for the driver's meter."""
    import asyncio

    from agents.llm import ScriptedLLM, UsageMeter
    from agents.llm.config import LLMConfig
    from agents.llm.remote import RemoteModel, add_usage, usage_of

    model = RemoteModel(LLMConfig(), factory=lambda: ScriptedLLM(["one two", "three"]))
    msg = [{"role": "user", "content": "go"}]

    def unit(llm: Any) -> None:
        asyncio.run(llm.complete(msg))
        asyncio.run(llm.complete(msg))
        raise RuntimeError("the agent broke after two calls")

    with pytest.raises(RuntimeError) as info:
        model.metered(unit)
    usage = usage_of(info.value)
    assert usage is not None and usage["calls"] == 2 and usage["output_tokens"] > 0
    assert usage_of(info.value) is None  # taken once
    meter = UsageMeter()
    add_usage(meter, usage)
    assert meter.summary().calls == 2


def test_a_units_scratch_directory_is_owned_and_packs_only_the_units_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote unit's scratch directory carries its owner (a killed worker's is removed by
    `agents sandbox gc` or the next run) but sends back only the files the unit wrote."""
    import functools
    import tempfile

    from foundation.runs import UNIT_FILES, in_scratch
    from sandboxes import scratch

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[Path] = []

    def unit(where: Path) -> dict[str, Any]:
        seen.append(where)
        (where / "logs").mkdir()
        (where / "logs" / "a.txt").write_text("graded")
        assert (where.parent / scratch.OWNER_FILE).is_file()  # owned, for gc
        return {"id": 1}

    row = in_scratch(unit, functools.partial(scratch.scratch_dir, "eval-unit"))
    assert row[UNIT_FILES] == {"logs/a.txt": "graded"}
    assert seen[0].parent.name.startswith("agents-search-eval-unit-")
    assert not seen[0].exists()  # removed at the end
