"""Check a dataset against its own claims: with the gold patch every FAIL_TO_PASS and
PASS_TO_PASS test passes; without any patch every FAIL_TO_PASS test fails.

    python -m benchmarks.swe_bench.validate [--dataset swe-mini] [--sandbox local]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.swe_bench.dataset import Instance, load_dataset
from benchmarks.swe_bench.harness import RunConfig, run_instance


def validate_instance(instance: Instance, config: RunConfig, log_root: Path) -> list[str]:
    """Problems found with one instance (empty when it is sound)."""
    iid = instance["instance_id"]
    problems: list[str] = []
    for label, patch in (("gold", instance["patch"]), ("none", "")):
        pred = {"instance_id": iid, "model_name_or_path": label, "model_patch": patch}
        res = run_instance(instance, pred, log_root / label / iid, config)
        if res.report is None:
            problems.append(f"{iid} [{label}]: {res.status}: {res.reason}")
            continue
        tests = res.report[iid]["tests_status"]
        f2p, p2p = tests["FAIL_TO_PASS"], tests["PASS_TO_PASS"]
        if label == "gold" and (f2p["failure"] or p2p["failure"]):
            problems.append(f"{iid} [gold]: failing {f2p['failure'] + p2p['failure']}")
        if label == "none" and f2p["success"]:
            problems.append(f"{iid} [no patch]: FAIL_TO_PASS tests pass: {f2p['success']}")
    return problems


def validate_dataset(
    instances: list[Instance], config: RunConfig, workers: int = 2, log_root: Path | None = None
) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="swe-validate-") as tmp:
        root = log_root or Path(tmp)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = pool.map(lambda i: validate_instance(i, config, root), instances)
            return [p for problems in found for p in problems]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="swe-mini")
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    instances = load_dataset(args.dataset)
    problems = validate_dataset(instances, RunConfig(sandbox=args.sandbox), args.workers)
    for p in problems:
        print(p)
    print(f"{len(instances)} instances, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
