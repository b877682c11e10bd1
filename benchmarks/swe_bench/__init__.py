"""SWE-bench: the official data formats and grading, run offline in our sandboxes.

    from benchmarks.swe_bench import load_dataset, load_predictions, evaluate, RunPaths
    instances = load_dataset("swe-mini")          # or a .json/.jsonl path, or an HF name
    report = evaluate(instances, load_predictions("preds.jsonl", instances),
                      RunPaths(Path("logs"), run_id="r1", model="gold"), workers=2)

An agent works on an instance in `open_instance(instance, RunConfig(sandbox="local"))`: a
sandbox with the repo at base_commit; its final `git diff` is the prediction's model_patch.
`swe-mini` (bundled, offline) is the default dataset; see benchmarks/swe_bench/README.md.
"""

from benchmarks.swe_bench.dataset import (
    BUNDLED,
    DatasetError,
    Instance,
    Prediction,
    gold_predictions,
    load_dataset,
    load_predictions,
    tests_of,
    write_predictions,
)
from benchmarks.swe_bench.harness import InstanceResult, RunConfig, open_instance, run_instance
from benchmarks.swe_bench.run import Report, RunPaths, evaluate, make_report, read_results

DEFAULT_DATASET = "swe-mini"

__all__ = [
    "BUNDLED",
    "DEFAULT_DATASET",
    "DatasetError",
    "Instance",
    "InstanceResult",
    "Prediction",
    "Report",
    "RunConfig",
    "RunPaths",
    "evaluate",
    "gold_predictions",
    "load_dataset",
    "load_predictions",
    "make_report",
    "open_instance",
    "read_results",
    "run_instance",
    "tests_of",
    "write_predictions",
]
