"""SWE-bench instances and predictions: load, validate every field, fail with one clear line.

Formats (docs/methods.md section 4): an instance has `instance_id, repo, base_commit,
problem_statement, hints_text, created_at, version, environment_setup_commit, patch,
test_patch, FAIL_TO_PASS, PASS_TO_PASS` (the last two JSON-encoded lists of test ids);
a prediction is `{instance_id, model_name_or_path, model_patch}`, one per JSONL line.

swebench 5.x records (its task repos, `swebench.task.repo.load_task`, and the datasets
built from them) also carry how to run them: `image` (the Docker image), `eval_script`,
`log_parser` (a name in swebench's PARSER_REGISTRY), `eval_type` (`pass_and_fail` or
`fail_only`) and maybe `image_assets`; a record with `image` and `eval_script` is read as
one and need not have `hints_text`, `created_at` or `environment_setup_commit`.

Sources: JSON, JSONL and parquet files; a directory in the layouts swebench and Hugging
Face use (`DIR/<split>.parquet`, `DIR/<split>/` from `datasets.save_to_disk`,
`DIR/data/<split>-*.parquet` from a hub download); bundled names; Hugging Face names.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

from foundation.errors import UserError, one_line
from foundation.runs import path_component

DATA = Path(__file__).parent / "data"
BUNDLED = {"swe-mini": DATA / "swe-mini.jsonl"}
HF_NAMES = {
    "swe-bench": "SWE-bench/SWE-bench",
    "swe-bench-lite": "SWE-bench/SWE-bench_Lite",
    "swe-bench-verified": "SWE-bench/SWE-bench_Verified",
    # the short names swebench's harness accepts (load_swebench_dataset), case-insensitive
    "swebench": "SWE-bench/SWE-bench",
    "swe_bench": "SWE-bench/SWE-bench",
    "swebench-lite": "SWE-bench/SWE-bench_Lite",
    "swe_bench_lite": "SWE-bench/SWE-bench_Lite",
    "swe-bench_lite": "SWE-bench/SWE-bench_Lite",
    "lite": "SWE-bench/SWE-bench_Lite",
    "swebench-verified": "SWE-bench/SWE-bench_Verified",
    "swe_bench_verified": "SWE-bench/SWE-bench_Verified",
    "swe-bench_verified": "SWE-bench/SWE-bench_Verified",
    "verified": "SWE-bench/SWE-bench_Verified",
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
RUN_FIELDS = ("image", "eval_script", "log_parser", "eval_type")
"""What a swebench 5.x record adds: how to run it (all strings)."""
EVAL_TYPES = ("pass_and_fail", "fail_only")
"""swebench.harness.constants.EvalType's values."""
V5_OPTIONAL_FIELDS = ("hints_text", "created_at", "environment_setup_commit")
"""INSTANCE_FIELDS a 5.x record (one with `image` and `eval_script`) may leave out."""

Instance = dict[str, Any]
"""A validated instance (JSON): the INSTANCE_FIELDS, all strings (`hints_text` may be None,
FAIL_TO_PASS/PASS_TO_PASS JSON-encoded lists), and any other fields its source row has.
A swebench 5.x record has the RUN_FIELDS too and may lack the V5_OPTIONAL_FIELDS."""
Prediction = dict[str, Any]
"""One prediction (JSON): the PREDICTION_FIELDS (`model_patch` a string or None), any other
fields of its line, and `error` (why it cannot be graded) for a line that cannot be."""

_ID = re.compile(r"[A-Za-z0-9_.\-]+__[A-Za-z0-9_.\-]+-\d+")
REPO_RE = re.compile(r"(?!\.\.?/)[A-Za-z0-9_.\-]+/(?!\.\.?$)[A-Za-z0-9_.\-]+")
"""owner/name, as `repo` must be (it names directories and URLs: neither part `.` or `..`)."""
SHA_RE = re.compile(r"[0-9a-f]{40}")
_SPLIT = re.compile(r"[A-Za-z0-9_\-]+")  # a split that can name a file
# A Docker image reference (registry/name:tag@digest); no whitespace, no leading dash.
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,511}")


class DatasetError(UserError):
    """A dataset or predictions file is malformed; the message names the place."""


def load_dataset(
    name_or_path: str | Path, instance_ids: list[str] | None = None, split: str = "test"
) -> list[Instance]:
    """Instances of a bundled dataset (`swe-mini`), a JSON/JSONL/parquet file, a directory
    holding split `split` (`DIR/<split>.parquet`, `DIR/<split>/` saved by `datasets`,
    `DIR/data/<split>-*.parquet`), or a Hugging Face dataset name (`SWE-bench/SWE-bench_Lite`,
    or a short name such as `lite`; needs the `datasets` package and a reachable hub).

    With `instance_ids`, only those (in dataset order); an unknown id is an error.
    """
    name = str(name_or_path)
    path = Path(name)
    if name in BUNDLED:
        if split != "test":
            raise DatasetError(f"{name} has only a 'test' split, not {split!r}")
        rows = _read_records(BUNDLED[name])
    elif path.is_dir():
        rows = _read_dir(path, split)
    elif path.exists():
        rows = _read_file(path)
    elif name.endswith((".json", ".jsonl", ".parquet")):
        raise DatasetError(f"dataset file {name} not found")
    elif name.lower() in HF_NAMES or REPO_RE.fullmatch(name):
        rows = _load_hf(HF_NAMES.get(name.lower(), name), split)
    else:
        raise DatasetError(
            f"unknown dataset {name!r}: use one of {', '.join(BUNDLED)}, "
            "a .json/.jsonl/.parquet file or a directory of them, "
            "or a Hugging Face dataset name (e.g. SWE-bench/SWE-bench_Lite)"
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


def _read_file(path: Path) -> list[tuple[Any, str]]:
    """Records of a parquet file (by its magic bytes or suffix), else JSON/JSONL."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic == b"PAR1" or path.suffix == ".parquet":
        return _read_parquet([path])
    return _read_records(path)


def _read_dir(root: Path, split: str) -> list[tuple[Any, str]]:
    """The records of split `split` in a dataset directory (the layouts of swebench's
    `load_swebench_dataset` and of a Hugging Face hub download)."""
    if not _SPLIT.fullmatch(split):
        raise DatasetError(f"split {split!r} must be a plain name such as test or dev")
    single = root / f"{split}.parquet"
    if single.is_file():
        return _read_parquet([single])
    saved = root / split
    if (saved / "dataset_info.json").is_file():
        return _read_saved(saved)
    shards = sorted(
        p
        for p in (root / "data").glob("*.parquet")
        if p.name == f"{split}.parquet" or p.name.startswith(f"{split}-")
    )
    if shards:
        return _read_parquet(shards)
    for suffix in (".jsonl", ".json"):
        if (root / f"{split}{suffix}").is_file():
            return _read_records(root / f"{split}{suffix}")
    raise DatasetError(
        f"{root} holds no {split!r} split: expected {root}/{split}.parquet, "
        f"{root}/{split}/ (saved by datasets), {root}/data/{split}-*.parquet "
        f"or {root}/{split}.jsonl"
    )


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError:
        raise DatasetError(
            "reading parquet or arrow datasets needs pyarrow: pip install 'pyarrow>=15'"
        ) from None
    return pyarrow


def _read_parquet(paths: list[Path]) -> list[tuple[Any, str]]:
    pa = _pyarrow()
    rows: list[tuple[Any, str]] = []
    for path in paths:
        try:
            table = pa.parquet.read_table(path)
            records = table.to_pylist()
        except Exception as exc:  # pyarrow's errors, OSError: a file that is not parquet
            raise DatasetError(f"cannot read {path} as parquet: {one_line(exc, 200)}") from None
        rows += [(_plain_row(r), f"{path.name} row {i}") for i, r in enumerate(records)]
    return rows


def _read_saved(split_dir: Path) -> list[tuple[Any, str]]:
    """A split saved by `datasets.Dataset.save_to_disk`: Arrow stream shards
    `data-NNNNN-of-NNNNN.arrow` next to `dataset_info.json`."""
    pa = _pyarrow()
    shards = sorted(p for p in split_dir.glob("data-*.arrow") if p.is_file())
    if not shards:
        raise DatasetError(f"{split_dir} has dataset_info.json but no data-*.arrow files")
    rows: list[tuple[Any, str]] = []
    for path in shards:
        try:
            with pa.memory_map(str(path)) as source:
                try:
                    table = pa.ipc.open_stream(source).read_all()
                except pa.ArrowInvalid:
                    source.seek(0)
                    table = pa.ipc.open_file(source).read_all()
            records = table.to_pylist()
        except Exception as exc:  # pyarrow's errors, OSError
            raise DatasetError(f"cannot read {path} as Arrow: {one_line(exc, 200)}") from None
        rows += [(_plain_row(r), f"{path.name} row {i}") for i, r in enumerate(records)]
    return rows


def _plain(value: Any) -> Any:
    """A column value as JSON would hold it: numpy arrays and tuples as lists, dates as
    ISO strings."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _plain_row(row: Any) -> Any:
    return {k: _plain(v) for k, v in row.items()} if isinstance(row, dict) else row


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


def _load_hf(name: str, split: str) -> list[tuple[Any, str]]:
    try:
        import datasets
    except ImportError:
        raise DatasetError(
            f"loading {name} from the Hugging Face hub needs `pip install datasets`; "
            "or pass a local .json/.jsonl/.parquet file or a directory holding one"
        ) from None
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as exc:
        raise DatasetError(
            f"cannot load {name} (split {split}) from the Hugging Face hub "
            f"({type(exc).__name__}: {one_line(exc, 160)}); offline, pass a local "
            ".json/.jsonl/.parquet file or use --dataset swe-mini"
        ) from None
    return [(_plain_row(dict(row)), f"{name}[{i}]") for i, row in enumerate(ds)]


def _test_list(value: Any, field: str, where: str) -> list[str]:
    items = _plain(value)
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            raise DatasetError(f"{where}: {field} is not a JSON-encoded list") from None
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise DatasetError(f"{where}: {field} must be a JSON-encoded list of test ids")
    return items


def is_v5(row: dict[str, Any]) -> bool:
    """Whether a record is in swebench 5.x's format: it names its image and eval script."""
    return row.get("image") not in (None, "") and row.get("eval_script") is not None


def validate_instance(row: Any, where: str) -> Instance:
    """Check every official field; returns the row with FAIL_TO_PASS/PASS_TO_PASS as JSON
    strings (the official encoding) whatever form they came in.

    A swebench 5.x record (`is_v5`) must also have the RUN_FIELDS and may lack the
    V5_OPTIONAL_FIELDS (checked when present); the RUN_FIELDS are checked wherever present."""
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: expected an object, got {type(row).__name__}")
    v5 = is_v5(row)
    required = [f for f in INSTANCE_FIELDS if not (v5 and f in V5_OPTIONAL_FIELDS)]
    required += list(RUN_FIELDS) if v5 else []
    missing = [f for f in required if f not in row]
    if missing:
        kind = "swebench 5.x record (it has image and eval_script)" if v5 else ""
        raise DatasetError(
            f"{where}: missing field(s) {', '.join(missing)}" + (f" of a {kind}" if kind else "")
        )
    iid = row["instance_id"]
    where = f"{where} ({iid})" if isinstance(iid, str) else where
    # In a 5.x record an optional field may be null (a column other records fill).
    present = [
        f
        for f in INSTANCE_FIELDS
        if f in row and not (v5 and f in V5_OPTIONAL_FIELDS and row[f] is None)
    ]
    for field in present:
        value = row[field]
        if field in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            continue
        if field == "hints_text" and value is None:
            continue
        if not isinstance(value, str):
            raise DatasetError(f"{where}: {field} must be a string, got {type(value).__name__}")
    if not _ID.fullmatch(iid):
        raise DatasetError(f"{where}: instance_id {iid!r} is not of the form owner__repo-NUMBER")
    if not REPO_RE.fullmatch(row["repo"]):
        raise DatasetError(f"{where}: repo {row['repo']!r} is not of the form owner/name")
    for field in ("base_commit", "environment_setup_commit"):
        if field in present and not SHA_RE.fullmatch(row[field]):
            raise DatasetError(f"{where}: {field} must be a 40-hex-digit commit hash")
    for field in ("patch", "test_patch"):
        if row[field] and "diff --git" not in row[field] and "\n+++ " not in row[field]:
            raise DatasetError(f"{where}: {field} is not a unified diff")
    if not row["test_patch"]:
        raise DatasetError(f"{where}: test_patch is empty")
    _check_run_fields(row, where, v5)
    out = dict(row)
    for field in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        tests = _test_list(row[field], field, where)
        out[field] = json.dumps(tests)
    if not json.loads(out["FAIL_TO_PASS"]):
        raise DatasetError(f"{where}: FAIL_TO_PASS is empty")
    return out


def _check_run_fields(row: dict[str, Any], where: str, v5: bool) -> None:
    """The swebench 5.x fields, wherever present (null counts as absent outside 5.x)."""
    for field in RUN_FIELDS:
        value = row.get(field)
        if value is None and not v5:
            continue
        if not isinstance(value, str):
            raise DatasetError(f"{where}: {field} must be a string, got {type(value).__name__}")
        if field in ("log_parser", "eval_type") and not value.strip():
            raise DatasetError(f"{where}: {field} is empty")
    image = row.get("image")  # "": no image of its own (the environment is built)
    if image and not _IMAGE.fullmatch(image):
        raise DatasetError(f"{where}: image {image[:80]!r} is not a Docker image reference")
    eval_type = row.get("eval_type")
    if eval_type is not None and eval_type not in EVAL_TYPES:
        raise DatasetError(
            f"{where}: eval_type {eval_type[:40]!r} is not one of {', '.join(EVAL_TYPES)}"
        )
    if v5 and not row["eval_script"].strip():
        raise DatasetError(f"{where}: eval_script is empty")
    assets = row.get("image_assets")
    if assets is None or assets == "" or isinstance(assets, dict):
        return
    if isinstance(assets, str):
        try:
            assets = json.loads(assets)
        except json.JSONDecodeError:
            raise DatasetError(f"{where}: image_assets is not JSON") from None
    if not isinstance(assets, dict):
        raise DatasetError(f"{where}: image_assets must be an object or a JSON-encoded one")


def tests_of(instance: Instance, field: str) -> list[str]:
    """FAIL_TO_PASS or PASS_TO_PASS as a list."""
    tests: list[str] = json.loads(instance[field])  # a list of strings: validate_instance
    return tests


def model_dir(model: str) -> str:
    """The directory name of a model's logs, as SWE-bench names it (`/` -> `__`), and
    also `:` -> `_` (model specs such as `local:smollm2`): a colon breaks on some file
    systems and in zip files, where the official harness would write one. A name that
    cannot be one directory (`..`, NUL and other control characters) is a `UserError`."""
    return path_component(model.replace("/", "__").replace(":", "_"), "model_name_or_path")


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
