"""A resumable evaluation run: workers grade instances, each result is appended to
`results.jsonl` (one line, flushed and fsynced) the moment it is known; a rerun with the
same run directory skips what is there. The report is derived from that file alone, so an
interrupted-then-resumed run reports exactly what an uninterrupted one does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from benchmarks.swe_bench.dataset import Instance, Prediction, model_dir
from benchmarks.swe_bench.harness import (
    ERROR,
    RESOLVED,
    TAMPERED,
    UNRESOLVED,
    InstanceResult,
    RunConfig,
    patch_sha,
    run_instance,
)
from foundation.errors import one_line
from foundation.executors import (
    ExecutorSpec,
    executor_session,
    on_every_node,
    parse_executor,
    worker_lost,
)
from foundation.jsonl import read_rows, write_atomic
from foundation.runs import Row, RunLog, in_scratch, run_lock, run_units, unpack_files

if TYPE_CHECKING:
    from sandboxes import EnvSpec

RESULTS = "results.jsonl"

Unit = tuple[Instance, Prediction]
GradedKey = tuple[str, str | None, bool]
"""What a graded row answers for: instance id, patch_sha, --strict."""


class Report(TypedDict):
    """The run report (`make_report`), in the order it is written."""

    total_instances: int
    submitted_instances: int
    completed_instances: int
    resolved_instances: int
    unresolved_instances: int
    infra_failure_instances: int
    ambiguous_failure_instances: int
    empty_patch_instances: int
    error_instances: int
    completed_ids: list[str]
    incomplete_ids: list[str]
    empty_patch_ids: list[str]
    submitted_ids: list[str]
    resolved_ids: list[str]
    unresolved_ids: list[str]
    infra_failure_ids: list[str]
    ambiguous_failure_ids: list[str]
    failure_reasons: dict[str, str]
    error_ids: list[str]
    schema_version: int
    error_reasons: dict[str, str]
    tampered_ids: list[str]


@dataclass(frozen=True)
class RunPaths:
    output: Path  # --output
    run_id: str
    model: str

    @property
    def run_dir(self) -> Path:
        return self.output / self.run_id

    @property
    def results(self) -> Path:
        return self.run_dir / model_dir(self.model) / RESULTS

    def instance_dir(self, instance_id: str) -> Path:
        return self.run_dir / model_dir(self.model) / instance_id

    @property
    def report(self) -> Path:
        # The official name: <model>.<run_id>.json
        return self.output / f"{model_dir(self.model)}.{self.run_id}.json"


def is_empty(prediction: Prediction | None) -> bool:
    """An empty patch ("" or null) is not graded; a poisoned line is (as an error)."""
    if prediction is None:
        return True
    return not prediction.get("error") and prediction.get("model_patch") in ("", None)


def read_results(path: Path) -> dict[str, Row]:
    """Graded results by instance id; a torn last line (a crash mid-write) is ignored."""
    rows = read_rows(path)
    return {r["instance_id"]: r for r in rows if "instance_id" in r and "status" in r}


def evaluate(
    instances: list[Instance],
    predictions: dict[str, Prediction],
    paths: RunPaths,
    config: RunConfig = RunConfig(),
    workers: int = 1,
    on_result: Callable[[InstanceResult | None, str], None] | None = None,
    executor: str | ExecutorSpec = "local",
) -> Report:
    """Grade every instance that has a non-empty prediction and is not graded yet (the
    same patch, the same --strict); write and return the report. `on_result(result,
    instance_id)` is called as each instance finishes (result None when it was skipped as
    already graded). One process at a time per run and model (`run_lock`). `executor`:
    where instances are graded (`foundation.executors`: local, or a Ray cluster)."""
    with run_lock(paths.results.parent), executor_session(executor):
        return _evaluate(instances, predictions, paths, config, workers, on_result, executor)


def result_of(row: Row) -> InstanceResult:
    """The `InstanceResult` a results row was written from (extra keys, such as the
    executor's `retries`, left out)."""
    names = {f.name for f in dataclasses.fields(InstanceResult)}
    return InstanceResult(**{k: v for k, v in row.items() if k in names})


LOST = "worker lost: "
"""The reason of an instance whose Ray worker died more times than its retries allow."""


def _graded_key(row: Row) -> GradedKey | None:
    if "instance_id" not in row or "status" not in row:
        return None
    if str(row.get("reason") or "").startswith(LOST):  # never graded: a rerun grades it
        return None
    return (row["instance_id"], row.get("patch_sha"), bool(row.get("strict", False)))


def _evaluate(
    instances: list[Instance],
    predictions: dict[str, Prediction],
    paths: RunPaths,
    config: RunConfig,
    workers: int,
    on_result: Callable[[InstanceResult | None, str], None] | None,
    executor: str | ExecutorSpec,
) -> Report:
    log = RunLog(paths.results, key=_graded_key, sort_keys=False)  # rows as to_json writes
    units = [
        (inst, predictions[inst["instance_id"]])
        for inst in instances
        if not is_empty(predictions.get(inst["instance_id"]))
    ]

    def key(unit: Unit) -> GradedKey:
        inst, pred = unit
        return (inst["instance_id"], patch_sha(pred.get("model_patch")), config.strict)

    todo = [(i, p) for i, p in units if key((i, p)) not in log.done]
    spec = parse_executor(executor)
    remote = spec.kind != "local"
    to_build = [i for i, p in todo if not p.get("error")]
    failed: dict[str, str] = {}
    if todo and remote:  # on every node of the cluster: its units grade there
        for why in on_every_node(spec, _prepare_envs, to_build, config):
            failed.update(why)
    elif todo:
        failed = _prepare_envs(to_build, config)

    def grade_in(where: RunPaths, unit: Unit) -> Row:
        inst, pred = unit
        iid = inst["instance_id"]
        if iid in failed:  # its environment did not build: an error row, no second try
            result = env_failure(inst, pred, failed[iid], where.instance_dir(iid), config)
        else:
            result = run_instance(inst, pred, where.instance_dir(iid), config)
        return dict(json.loads(result.to_json()))

    def grade(unit: Unit) -> Row:  # runs where the executor puts it: it returns its row
        if not remote:
            return grade_in(paths, unit)
        # Maybe on another machine: the instance's logs go back with its row.
        from sandboxes.scratch import scratch_dir

        return in_scratch(
            lambda tmp: grade_in(RunPaths(tmp, paths.run_id, paths.model), unit),
            functools.partial(scratch_dir, "eval-unit"),
        )

    def progress(unit: Unit, row: Row | None) -> None:
        if on_result:
            iid = unit[0]["instance_id"]
            on_result(None if row is None else result_of(row), iid)

    def lost(unit: Unit, exc: Exception) -> Row:  # its worker died, retries and all
        inst, pred = unit
        result = InstanceResult(
            inst["instance_id"], pred["model_name_or_path"], ERROR,
            reason=LOST + one_line(exc, 200),
            patch_sha=patch_sha(pred.get("model_patch")), strict=config.strict,
        )  # fmt: skip
        return dict(json.loads(result.to_json()))

    run_units(
        log, units, key, grade, workers=max(1, workers), executor=spec, on_row=progress,
        receive=(lambda _, row: unpack_files(row, paths.output)) if remote else None,
        error_row=lost, fatal=lambda exc: not worker_lost(exc),
    )  # fmt: skip
    report = make_report(instances, predictions, read_results(paths.results), paths)
    write_report(paths.report, report)
    return report


def _prepare_envs(instances: list[Instance], config: RunConfig) -> dict[str, str]:
    """Build each distinct environment once, before the workers start (they would
    otherwise queue on the build lock, each holding a worker slot). Returns why, for each
    instance whose environment failed to build; an instance with no environment at all is
    left to grading, which records it as an error row with the reason."""
    from benchmarks.swe_bench.environment import resolve
    from foundation.errors import UserError
    from sandboxes import BuildError, prepare_env

    envs: dict[str, tuple[EnvSpec, list[str]]] = {}
    for i in instances:
        if i.get("image") and config.images != "local":
            continue  # an image to find or pull: grading does that, in its worker
        with contextlib.suppress(UserError):
            found = resolve(i, config)
            env = found.env if found.image is None else None
            if env is not None:
                envs.setdefault(env.digest(), (env, []))[1].append(i["instance_id"])
    failed: dict[str, str] = {}
    for _, (env, ids) in sorted(envs.items()):
        try:
            prepare_env(config.sandbox, env)
        except BuildError as exc:
            failed.update(dict.fromkeys(ids, f"environment: {exc}"))
    return failed


def env_failure(
    instance: Instance, prediction: Prediction, reason: str, log_dir: Path, config: RunConfig
) -> InstanceResult:
    """The error row of an instance whose environment could not be built."""
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "run_instance.log").write_text(f"error: {reason}\n")
    return InstanceResult(
        instance["instance_id"], prediction["model_name_or_path"], ERROR, reason=reason,
        patch_sha=patch_sha(prediction.get("model_patch")), strict=config.strict,
    )  # fmt: skip


def make_report(
    instances: list[Instance],
    predictions: dict[str, Prediction],
    results: dict[str, Row],
    paths: RunPaths,
) -> Report:
    """The run report of swebench's `make_run_report` (schema_version 2), field for field:
    incomplete = no prediction, empty patch = "" or null, error = graded without a report
    (patch did not apply, tests timed out, sandbox failure). `failure_reasons` keeps the
    official meaning (swebench's post-hoc log classification). After the official keys,
    two of ours: `error_reasons`, why each error instance errored (also in results.jsonl and
    its run_instance.log), and `tampered_ids`, the errors that are patches touching test
    infrastructure (graded so only under --strict)."""
    from benchmarks.swe_bench.official import infra_failure

    completed, resolved, unresolved, error, incomplete, empty = (set[str]() for _ in range(6))
    for inst in instances:
        iid = inst["instance_id"]
        pred = predictions.get(iid)
        if pred is None:
            incomplete.add(iid)
            continue
        if is_empty(pred):
            empty.add(iid)
            continue
        row = results.get(iid)
        if row is None or row["status"] == ERROR:
            error.add(iid)
            continue
        completed.add(iid)
        (resolved if row["status"] == RESOLVED else unresolved).add(iid)
        assert row["status"] in (RESOLVED, UNRESOLVED)
    reasons: dict[str, str] = {}
    infra: set[str] = set()
    ambiguous: set[str] = set()
    for iid in unresolved | error:
        log_dir = paths.instance_dir(iid)
        found = infra_failure.classify_logs(
            log_dir / "test_output.txt", log_dir / "run_instance.log"
        )
        if found:
            reasons[iid] = found[0]
            (infra if found[1] == infra_failure.TIER_ENVIRONMENT else ambiguous).add(iid)
    why = {
        iid: (results.get(iid) or {}).get("reason") or "not graded (the run stopped first)"
        for iid in sorted(error)
    }
    return {
        "total_instances": len(instances),
        "submitted_instances": len(predictions),
        "completed_instances": len(completed),
        "resolved_instances": len(resolved),
        "unresolved_instances": len(unresolved),
        "infra_failure_instances": len(infra),
        "ambiguous_failure_instances": len(ambiguous),
        "empty_patch_instances": len(empty),
        "error_instances": len(error),
        "completed_ids": sorted(completed),
        "incomplete_ids": sorted(incomplete),
        "empty_patch_ids": sorted(empty),
        "submitted_ids": sorted(predictions),
        "resolved_ids": sorted(resolved),
        "unresolved_ids": sorted(unresolved),
        "infra_failure_ids": sorted(infra),
        "ambiguous_failure_ids": sorted(ambiguous),
        "failure_reasons": dict(sorted(reasons.items())),
        "error_ids": sorted(error),
        "schema_version": 2,
        "error_reasons": why,
        "tampered_ids": [iid for iid, reason in why.items() if reason.startswith(TAMPERED)],
    }


def write_report(path: Path, report: Report) -> None:
    """Write atomically: a reader never sees half a report."""
    write_atomic(path, json.dumps(report, indent=4) + "\n")
