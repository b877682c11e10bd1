"""SWE-bench instances and predictions: load, validate every field, fail with one clear line.

Formats (ALGORITHMS.md section 4): an instance has `instance_id, repo, base_commit,
problem_statement, hints_text, created_at, version, environment_setup_commit, patch,
test_patch, FAIL_TO_PASS, PASS_TO_PASS` (the last two JSON-encoded lists of test ids);
a prediction is `{instance_id, model_name_or_path, model_patch}`, one per JSONL line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from foundation.errors import UserError
from foundation.runs import path_component

DATA = Path(__file__).parent / "data"
BUNDLED = {"swe-mini": DATA / "swe-mini.jsonl"}
HF_NAMES = {
    "swe-bench": "SWE-bench/SWE-bench",
    "swe-bench-lite": "SWE-bench/SWE-bench_Lite",
    "swe-bench-verified": "SWE-bench/SWE-bench_Verified",
}

INSTANCE_FIELDS = (
    "repo",
    "instance_id",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "hints_text",
    "created_at",
    "version",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "environment_setup_commit",
)
PREDICTION_FIELDS = ("instance_id", "model_name_or_path", "model_patch")

Instance = dict[str, Any]
"""A validated instance (JSON): the INSTANCE_FIELDS, all strings (`hints_text` may be None,
FAIL_TO_PASS/PASS_TO_PASS JSON-encoded lists), and any other fields its source row has."""
Prediction = dict[str, Any]
"""One prediction (JSON): the PREDICTION_FIELDS (`model_patch` a string or None), any other
fields of its line, and `error` (why it cannot be graded) for a line that cannot be."""

_ID = re.compile(r"[A-Za-z0-9_.\-]+__[A-Za-z0-9_.\-]+-\d+")
_REPO = re.compile(r"[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+")
_SHA = re.compile(r"[0-9a-f]{40}")


class DatasetError(UserError):
    """A dataset or predictions file is malformed; the message names the place."""


def load_dataset(name_or_path: str | Path, instance_ids: list[str] | None = None) -> list[Instance]:
    """Instances of a bundled dataset (`swe-mini`), a JSON/JSONL file, or a Hugging Face
    dataset name (needs the `datasets` package and a reachable hub).

    With `instance_ids`, only those (in dataset order); an unknown id is an error.
    """
    name = str(name_or_path)
    if name in BUNDLED:
        rows = _read_records(BUNDLED[name])
    elif Path(name).exists():
        rows = _read_records(Path(name))
    elif name.endswith((".json", ".jsonl")):
        raise DatasetError(f"dataset file {name} not found")
    elif name in HF_NAMES or name.count("/") == 1:
        rows = _load_hf(HF_NAMES.get(name, name))
    else:
        raise DatasetError(
            f"unknown dataset {name!r}: use one of {', '.join(BUNDLED)}, "
            "a .json/.jsonl file, or a Hugging Face dataset name"
        )
    instances = [validate_instance(row, where) for row, where in rows]
    if not instances:
        raise DatasetError(f"dataset {name} holds no instances")
    seen: set[str] = set()
    for inst in instances:
        if inst["instance_id"] in seen:
            raise DatasetError(f"{name}: duplicate instance_id {inst['instance_id']!r}")
        seen.add(inst["instance_id"])
    if instance_ids:
        unknown = [i for i in instance_ids if i not in seen]
        if unknown:
            raise DatasetError(
                f"unknown instance id(s) {', '.join(unknown)} in {name}; "
                f"e.g. {', '.join(sorted(seen)[:3])}"
            )
        wanted = set(instance_ids)
        instances = [i for i in instances if i["instance_id"] in wanted]
    return instances


def _read_records(path: Path) -> list[tuple[Any, str]]:
    """(record, "file:line") pairs from a JSON array or JSONL file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    if path.suffix == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        if not isinstance(data, list):
            raise DatasetError(f"{path}: expected a JSON array of instances")
        return [(row, f"{path.name}[{i}]") for i, row in enumerate(data)]
    return _read_jsonl(path, text)


def _read_jsonl(path: Path, text: str) -> list[tuple[Any, str]]:
    rows: list[tuple[Any, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((json.loads(line), f"{path.name} line {lineno}"))
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{path.name} line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
    return rows


def _load_hf(name: str) -> list[tuple[Any, str]]:
    try:
        import datasets
    except ImportError:
        raise DatasetError(
            f"loading {name} from the Hugging Face hub needs `pip install datasets`; "
            "or pass a local .json/.jsonl file"
        ) from None
    try:
        ds = datasets.load_dataset(name, split="test")
    except Exception as exc:
        raise DatasetError(
            f"cannot load {name} from the Hugging Face hub ({type(exc).__name__}); "
            "offline, pass a local .json/.jsonl file or use --dataset swe-mini"
        ) from None
    return [(dict(row), f"{name}[{i}]") for i, row in enumerate(ds)]


def _test_list(value: Any, field: str, where: str) -> list[str]:
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            raise DatasetError(f"{where}: {field} is not a JSON-encoded list") from None
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise DatasetError(f"{where}: {field} must be a JSON-encoded list of test ids")
    return items


def validate_instance(row: Any, where: str) -> Instance:
    """Check every official field; returns the row with FAIL_TO_PASS/PASS_TO_PASS as JSON
    strings (the official encoding) whatever form they came in."""
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: expected an object, got {type(row).__name__}")
    missing = [f for f in INSTANCE_FIELDS if f not in row]
    if missing:
        raise DatasetError(f"{where}: missing field(s) {', '.join(missing)}")
    iid = row["instance_id"]
    where = f"{where} ({iid})" if isinstance(iid, str) else where
    for field in INSTANCE_FIELDS:
        value = row[field]
        if field in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            continue
        if field == "hints_text" and value is None:
            continue
        if not isinstance(value, str):
            raise DatasetError(f"{where}: {field} must be a string, got {type(value).__name__}")
    if not _ID.fullmatch(iid):
        raise DatasetError(f"{where}: instance_id {iid!r} is not of the form owner__repo-NUMBER")
    if not _REPO.fullmatch(row["repo"]):
        raise DatasetError(f"{where}: repo {row['repo']!r} is not of the form owner/name")
    for field in ("base_commit", "environment_setup_commit"):
        if not _SHA.fullmatch(row[field]):
            raise DatasetError(f"{where}: {field} must be a 40-hex-digit commit hash")
    for field in ("patch", "test_patch"):
        if row[field] and "diff --git" not in row[field] and "\n+++ " not in row[field]:
            raise DatasetError(f"{where}: {field} is not a unified diff")
    if not row["test_patch"]:
        raise DatasetError(f"{where}: test_patch is empty")
    out = dict(row)
    for field in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        tests = _test_list(row[field], field, where)
        out[field] = json.dumps(tests)
    if not json.loads(out["FAIL_TO_PASS"]):
        raise DatasetError(f"{where}: FAIL_TO_PASS is empty")
    return out


def tests_of(instance: Instance, field: str) -> list[str]:
    """FAIL_TO_PASS or PASS_TO_PASS as a list."""
    tests: list[str] = json.loads(instance[field])  # a list of strings: validate_instance
    return tests


def model_dir(model: str) -> str:
    """The directory name of a model's logs, as SWE-bench names it (`/` -> `__`); a name
    that cannot be one directory (`..`, NUL and other control characters) is a `UserError`."""
    return path_component(model.replace("/", "__"), "model_name_or_path")


def prediction_problem(row: dict[str, Any]) -> str | None:
    """Why one prediction line cannot be graded (None when it can)."""
    missing = [f for f in PREDICTION_FIELDS if f not in row]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    name = row["model_name_or_path"]
    if not isinstance(name, str) or not name:
        return "model_name_or_path must be a non-empty string"
    try:
        model_dir(name)
    except UserError as exc:
        return str(exc)
    patch = row["model_patch"]
    if patch is not None and not isinstance(patch, str):
        return "model_patch must be a string or null"
    if patch is not None:
        try:
            patch.encode()
        except UnicodeEncodeError as exc:
            return f"model_patch is not valid text: a lone surrogate at character {exc.start}"
    return None


def load_predictions(
    path: str | Path, dataset: list[Instance] | None = None
) -> dict[str, Prediction]:
    """Predictions JSONL (or a JSON array) keyed by instance id; each line checked.

    A line that names an instance but cannot be graded (a missing field, a patch that is not
    text, a model name that cannot name a directory) does not stop the run: it is kept with
    its reason under "error", and grading records that instance as an error. A line without
    a usable instance id, a second prediction for an instance, predictions of two models, or
    (with `dataset`) an instance not in it are errors of the whole file (as in SWE-bench).
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"predictions file {path} not found")
    preds: dict[str, Prediction] = {}
    for row, where in _read_records(path):
        if not isinstance(row, dict):
            raise DatasetError(f"{where}: expected an object, got {type(row).__name__}")
        iid = row.get("instance_id")
        if not isinstance(iid, str) or not iid:
            raise DatasetError(f"{where}: instance_id must be a non-empty string")
        if iid in preds:
            raise DatasetError(f"{where}: second prediction for {iid!r}")
        entry = {k: row.get(k) for k in PREDICTION_FIELDS} | {
            k: v for k, v in row.items() if k not in PREDICTION_FIELDS
        }
        problem = prediction_problem(row)
        if problem:
            entry["error"] = f"invalid prediction ({where}): {problem}"
        preds[iid] = entry
    if not preds:
        raise DatasetError(f"{path}: no predictions")
    valid = [p for p in preds.values() if "error" not in p]
    if not valid:
        first = next(iter(preds.values()))["error"]
        raise DatasetError(f"{path}: no prediction can be graded; {first}")
    models = {p["model_name_or_path"] for p in valid}
    if len(models) > 1:
        raise DatasetError(
            f"{path}: predictions from {len(models)} models ({', '.join(sorted(models))}); "
            "evaluate one model per run"
        )
    for p in preds.values():  # the run's model names every instance's log directory
        p["model_name_or_path"] = valid[0]["model_name_or_path"]
    if dataset is not None:
        known = {i["instance_id"] for i in dataset}
        extra = sorted(set(preds) - known)
        if extra:
            raise DatasetError(
                f"{path}: prediction(s) for instance(s) not in the dataset: "
                f"{', '.join(i if i.isprintable() else repr(i) for i in extra[:5])}"
                f"{' ...' if len(extra) > 5 else ''}"
            )
    return preds


def write_predictions(path: str | Path, predictions: list[Prediction]) -> None:
    """Predictions JSONL in the official field order."""
    with open(path, "w", encoding="utf-8") as f:
        for p in predictions:
            f.write(json.dumps({k: p[k] for k in PREDICTION_FIELDS}) + "\n")


def gold_predictions(instances: list[Instance], model: str = "gold") -> list[Prediction]:
    return [
        {"instance_id": i["instance_id"], "model_name_or_path": model, "model_patch": i["patch"]}
        for i in instances
    ]
