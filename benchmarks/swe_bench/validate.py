"""Check a dataset against its own claims, as SWE-bench's validation does: with no patch
every FAIL_TO_PASS test fails; with the gold patch every FAIL_TO_PASS and PASS_TO_PASS
test passes. `agents eval swe-bench --validate` runs it (resumable: one fsynced line per
instance in OUTPUT/RUN_ID/validation/results.jsonl; the report is
OUTPUT/validation.RUN_ID.json).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.swe_bench.dataset import Instance
from benchmarks.swe_bench.harness import RunConfig, run_instance
from foundation.jsonl import write_atomic
from foundation.runs import Row, RunLog, run_lock, run_units

LABELS = (("empty", ""), ("gold", None))  # None: the instance's own patch


@dataclass(frozen=True)
class ValidationPaths:
    output: Path
    run_id: str

    @property
    def root(self) -> Path:
        return self.output / self.run_id / "validation"

    @property
    def results(self) -> Path:
        return self.root / "results.jsonl"

    @property
    def report(self) -> Path:
        return self.output / f"validation.{self.run_id}.json"


def validate_instance(instance: Instance, config: RunConfig, log_root: Path) -> Row:
    """One instance's row: the status with no patch and with the gold patch, and the
    problems found (empty when the instance is sound)."""
    iid = instance["instance_id"]
    problems: list[str] = []
    row: dict[str, Any] = {"instance_id": iid}
    for label, patch in LABELS:
        pred = {
            "instance_id": iid,
            "model_name_or_path": label,
            "model_patch": instance["patch"] if patch is None else patch,
        }
        res = run_instance(instance, pred, log_root / label / iid, config)
        row[label] = res.status
        if res.report is None:
            problems.append(f"[{label}] {res.status}: {res.reason}")
            continue
        tests = res.report[iid]["tests_status"]
        f2p, p2p = tests["FAIL_TO_PASS"], tests["PASS_TO_PASS"]
        if label == "gold" and (f2p["failure"] or p2p["failure"]):
            problems.append(f"[gold] failing: {', '.join(f2p['failure'] + p2p['failure'])}")
        if label == "empty" and f2p["success"]:
            problems.append(f"[no patch] FAIL_TO_PASS tests pass: {', '.join(f2p['success'])}")
    row["problems"] = problems
    return row


def validate(
    instances: list[Instance],
    paths: ValidationPaths,
    config: RunConfig,
    workers: int = 1,
    on_row: Callable[[Instance, Row | None], None] | None = None,
) -> dict[str, Any]:
    """Validate every instance not validated yet; write and return the report."""
    with run_lock(paths.root):
        log = RunLog(paths.results, key=lambda row: row.get("instance_id"))
        run_units(
            log, instances, key=lambda i: i["instance_id"],
            work=lambda inst: validate_instance(inst, config, paths.root),
            workers=workers, on_row=on_row,
        )  # fmt: skip
        rows = {iid: row for iid, row in log.done.items() if isinstance(iid, str)}
    ids = [i["instance_id"] for i in instances]
    problems = {iid: rows[iid]["problems"] for iid in ids if rows.get(iid, {}).get("problems")}
    report = {
        "total_instances": len(ids),
        "validated_instances": sum(1 for iid in ids if iid in rows),
        "sound_ids": [iid for iid in ids if iid in rows and iid not in problems],
        "problem_ids": sorted(problems),
        "problems": problems,
    }
    write_atomic(paths.report, json.dumps(report, indent=4) + "\n")
    return report
