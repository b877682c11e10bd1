"""Where SWE-bench instances come from: parquet files, dataset directories, Hugging Face
names; and swebench 5.x records (image, eval_script, log_parser, eval_type)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.swe_bench import DatasetError, load_dataset
from benchmarks.swe_bench.dataset import BUNDLED, EVAL_TYPES, HF_NAMES, RUN_FIELDS

RAW = [json.loads(line) for line in BUNDLED["swe-mini"].read_text().splitlines()]


@pytest.fixture(scope="module")
def mini() -> list[dict[str, Any]]:
    return load_dataset("swe-mini")


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg.strip() == msg
    return msg


# Files and directories -------------------------------------------------------------------


def test_parquet_round_trips_to_the_jsonl_instances(mini, tmp_path):
    path = write_parquet(tmp_path / "d.parquet", RAW)
    assert load_dataset(path) == mini
    # FAIL_TO_PASS / PASS_TO_PASS as list columns (as some exports hold them)
    as_lists = [
        dict(
            r,
            FAIL_TO_PASS=json.loads(r["FAIL_TO_PASS"]),
            PASS_TO_PASS=json.loads(r["PASS_TO_PASS"]),
        )
        for r in RAW
    ]
    lists = write_parquet(tmp_path / "lists.parquet", as_lists)
    assert pq.read_schema(lists).field("FAIL_TO_PASS").type == pa.list_(pa.string())
    assert load_dataset(lists) == mini
    # recognised by its content, whatever the name
    renamed = tmp_path / "dataset.bin"
    renamed.write_bytes(path.read_bytes())
    assert load_dataset(str(renamed), [RAW[2]["instance_id"]]) == [mini[2]]


def test_dataset_directory_layouts_and_splits(mini, tmp_path):
    # swebench's DIR/<split>.parquet
    write_parquet(tmp_path / "a" / "test.parquet", RAW[:3])
    write_parquet(tmp_path / "a" / "dev.parquet", RAW[3:5])
    assert load_dataset(tmp_path / "a") == mini[:3]
    assert load_dataset(tmp_path / "a", split="dev") == mini[3:5]
    # a Hugging Face hub download: DIR/data/<split>-NNNNN-of-NNNNN.parquet, in shard order
    write_parquet(tmp_path / "b" / "data" / "test-00000-of-00002.parquet", RAW[:2])
    write_parquet(tmp_path / "b" / "data" / "test-00001-of-00002.parquet", RAW[2:4])
    write_parquet(tmp_path / "b" / "data" / "dev-00000-of-00001.parquet", RAW[4:5])
    assert load_dataset(str(tmp_path / "b")) == mini[:4]
    assert load_dataset(str(tmp_path / "b"), split="dev") == mini[4:5]
    # datasets' save_to_disk: DIR/<split>/dataset_info.json + data-*.arrow (Arrow streams)
    saved = tmp_path / "c" / "test"
    saved.mkdir(parents=True)
    (saved / "dataset_info.json").write_text("{}")
    table = pa.Table.from_pylist(RAW[5:8])
    arrow = str(saved / "data-00000-of-00001.arrow")
    with pa.OSFile(arrow, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    assert load_dataset(tmp_path / "c", [RAW[6]["instance_id"]]) == [mini[6]]


def test_directory_without_the_split(tmp_path):
    write_parquet(tmp_path / "test.parquet", RAW[:1])
    with pytest.raises(DatasetError) as err:
        load_dataset(tmp_path, split="validation")
    assert one_line(err) == (
        f"{tmp_path} holds no 'validation' split: expected {tmp_path}/validation.parquet, "
        f"{tmp_path}/validation/ (saved by datasets), {tmp_path}/data/validation-*.parquet "
        f"or {tmp_path}/validation.jsonl"
    )
    with pytest.raises(DatasetError, match=r"split '\.\./test' must be a plain name"):
        load_dataset(tmp_path, split="../test")


def test_unreadable_parquet_is_one_line(tmp_path):
    bad = tmp_path / "d.parquet"
    bad.write_bytes(b"PAR1" + b"\0" * 64)
    with pytest.raises(DatasetError, match=r"cannot read .*d.parquet as parquet: ") as err:
        load_dataset(bad)
    one_line(err)
    with pytest.raises(DatasetError, match=r"dataset file .*none\.parquet not found"):
        load_dataset(tmp_path / "none.parquet")


def test_parquet_rows_are_validated_like_jsonl_lines(tmp_path):
    rows = [RAW[0], dict(RAW[1], base_commit="abc")]
    with pytest.raises(DatasetError, match=r"d.parquet row 1 \(.*\): base_commit must be a 40"):
        load_dataset(write_parquet(tmp_path / "d.parquet", rows))


def test_bundled_dataset_has_only_a_test_split():
    with pytest.raises(DatasetError, match="swe-mini has only a 'test' split, not 'dev'"):
        load_dataset("swe-mini", split="dev")


# Hugging Face names ----------------------------------------------------------------------


def test_hub_name_without_datasets_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` fails
    for name in ("SWE-bench/SWE-bench_Lite", "lite", "princeton-nlp/SWE-bench_Verified"):
        with pytest.raises(DatasetError) as err:
            load_dataset(name)
        assert "pip install datasets" in one_line(err)
        assert "or pass a local .json/.jsonl/.parquet file" in str(err.value)


@pytest.fixture
def fake_hub(monkeypatch):
    """A `datasets` module whose hub holds swe-mini (rows as numpy arrays, as with
    `.with_format("numpy")`), recording what was asked for."""
    asked: list[tuple[str, str]] = []

    def load(name: str, split: str) -> list[dict[str, Any]]:
        asked.append((name, split))
        if name == "offline/none":
            raise ConnectionError(
                "Couldn't reach 'offline/none' on the Hub\n(LocalEntryNotFoundError)"
            )
        return [dict(r, FAIL_TO_PASS=np.array(json.loads(r["FAIL_TO_PASS"]))) for r in RAW[:2]]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load))
    return asked


def test_hub_names_and_swebench_short_names(mini, fake_hub):
    for name, hub in [
        ("SWE-bench/SWE-bench_Lite", "SWE-bench/SWE-bench_Lite"),
        ("princeton-nlp/SWE-bench_Lite", "princeton-nlp/SWE-bench_Lite"),
        ("lite", "SWE-bench/SWE-bench_Lite"),
        ("swe-bench-lite", "SWE-bench/SWE-bench_Lite"),
        ("SWE_Bench_Lite", "SWE-bench/SWE-bench_Lite"),
        ("swebench", "SWE-bench/SWE-bench"),
        ("swe-bench-verified", "SWE-bench/SWE-bench_Verified"),
    ]:
        fake_hub.clear()
        assert load_dataset(name, split="dev") == mini[:2]
        assert fake_hub == [(hub, "dev")]
    # every short name swebench's load_swebench_dataset maps
    for short in ("swe-bench", "swebench", "swe_bench"):
        assert HF_NAMES[short] == "SWE-bench/SWE-bench"
    for short in ("swe-bench-lite", "swebench-lite", "swe_bench_lite", "swe-bench_lite", "lite"):
        assert HF_NAMES[short] == "SWE-bench/SWE-bench_Lite"


def test_unreachable_hub_is_one_line(fake_hub):
    with pytest.raises(DatasetError) as err:
        load_dataset("offline/none")
    assert one_line(err) == (
        "cannot load offline/none (split test) from the Hugging Face hub (ConnectionError: "
        "Couldn't reach 'offline/none' on the Hub (LocalEntryNotFoundError)); offline, pass a "
        "local .json/.jsonl/.parquet file or use --dataset swe-mini"
    )


def test_names_that_are_neither_files_nor_hub_names(fake_hub, tmp_path, monkeypatch):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # relative names resolve where nothing exists
    for name in ("../x", "a/b/c", "no-such-dataset"):
        with pytest.raises(DatasetError, match="unknown dataset"):
            load_dataset(name)
    assert fake_hub == []


# swebench 5.x records -------------------------------------------------------------------


def test_eval_types_are_swebenchs():
    from benchmarks.swe_bench.official import constants

    assert set(EVAL_TYPES) == {e.value for e in constants.EvalType}


def task_record(tmp_path: Path, **meta: Any) -> dict[str, Any]:
    """An instance as swebench 5.x's task repo loader (swebench.task.repo.load_task) reads
    it from a well-formed task directory (swebench.task.checks: REQUIRED_FILES, _KEYS)."""
    from swebench.task.checks import expected_image
    from swebench.task.repo import dump_tests, dump_yaml, load_task

    src = RAW[0]
    iid = src["instance_id"]
    task = tmp_path / "tasks" / iid
    task.mkdir(parents=True)
    yaml = {
        "instance_id": iid,
        "repo": src["repo"],
        "version": src["version"],
        "base_commit": src["base_commit"],
        "split": "test",
        "datasets": ["swe-mini"],
        "image": expected_image(iid),
        "log_parser": "parse_log_pytest",
        "eval_type": "pass_and_fail",
    }
    (task / "task.yaml").write_text(dump_yaml({**yaml, **meta}))
    (task / "gold.patch").write_text(src["patch"])
    (task / "test.patch").write_text(src["test_patch"])
    (task / "problem_statement.md").write_text(src["problem_statement"])
    (task / "eval.sh").write_text(
        "#!/bin/bash\necho '>>>>> Start Test Output'\npytest -rA\necho '>>>>> End Test Output'\n"
    )
    (task / "Dockerfile").write_text("FROM python:3.11\n")
    tests = {k: json.loads(src[k]) for k in ("FAIL_TO_PASS", "PASS_TO_PASS")}
    (task / "tests.json").write_text(dump_tests(tests))
    record: dict[str, Any] = load_task(task)
    return record


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_5x_record_is_accepted_and_keeps_its_run_fields(tmp_path):
    record = task_record(tmp_path)
    assert not {"created_at", "environment_setup_commit"} & set(record)
    [inst] = load_dataset(write_jsonl(tmp_path / "d.jsonl", [record]))
    for field in RUN_FIELDS:
        assert inst[field] == record[field]
    assert inst["image"] == "swebench/sweb.eval.x86_64.tkem_1776_cachetools-1:latest"
    assert inst["eval_script"].startswith("#!/bin/bash\n")
    assert inst["split"] == "test" and inst["datasets"] == ["swe-mini"]
    assert json.loads(inst["FAIL_TO_PASS"]) == record["FAIL_TO_PASS"]  # the official encoding
    assert inst["hints_text"] == ""
    # The same record from parquet, with image_assets as the hub ships it (a JSON string),
    # and without hints_text at all.
    row = dict(record, image_assets=json.dumps({"test_patch": []}))
    del row["hints_text"]
    [again] = load_dataset(write_parquet(tmp_path / "d.parquet", [row]))
    assert again["image_assets"] == row["image_assets"] and "hints_text" not in again


def test_a_5x_record_needs_its_run_fields(tmp_path):
    record = task_record(tmp_path)
    del record["log_parser"]
    with pytest.raises(DatasetError) as err:
        load_dataset(write_jsonl(tmp_path / "d.jsonl", [record]))
    assert one_line(err) == (
        "d.jsonl line 1: missing field(s) log_parser of a swebench 5.x record "
        "(it has image and eval_script)"
    )


def test_an_older_record_still_needs_the_official_fields(tmp_path):
    row = dict(RAW[0], image="swebench/x:latest")  # no eval_script: not a 5.x record
    del row["created_at"]
    with pytest.raises(DatasetError, match=r"line 1: missing field\(s\) created_at$"):
        load_dataset(write_jsonl(tmp_path / "d.jsonl", [row]))
    # An empty image names none: an older record with the other 5.x fields.
    [empty] = load_dataset(
        write_jsonl(tmp_path / "e.jsonl", [dict(RAW[0], image="", eval_script="x")])
    )
    assert empty["image"] == "" and empty["eval_script"] == "x"
    # 5.x columns left null by a table that mixes both formats
    nulls = [dict(r, image=None, eval_script=None, log_parser=None, eval_type=None) for r in RAW]
    assert [
        i["instance_id"] for i in load_dataset(write_parquet(tmp_path / "n.parquet", nulls))
    ] == [r["instance_id"] for r in RAW]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"eval_type": "pass_only"},
            "eval_type 'pass_only' is not one of pass_and_fail, fail_only",
        ),
        ({"eval_type": 1}, "eval_type must be a string, got int"),
        ({"image": 3}, "image must be a string, got int"),
        ({"image": ["a"]}, "image must be a string, got list"),
        ({"image": "-v /:/host x"}, "image '-v /:/host x' is not a Docker image reference"),
        ({"eval_script": ""}, "eval_script is empty"),
        ({"log_parser": None}, "log_parser must be a string, got NoneType"),
        ({"log_parser": " "}, "log_parser is empty"),
        ({"image_assets": "{"}, "image_assets is not JSON"),
        ({"image_assets": [1]}, "image_assets must be an object or a JSON-encoded one"),
        (
            {"environment_setup_commit": "abc"},
            "environment_setup_commit must be a 40-hex-digit commit hash",
        ),
        ({"created_at": 5}, "created_at must be a string, got int"),
    ],
)
def test_bad_5x_fields_are_one_line_errors(tmp_path, change, message):
    record = dict(task_record(tmp_path), **change)
    with pytest.raises(DatasetError) as err:
        load_dataset(write_jsonl(tmp_path / "d.jsonl", [record]))
    assert one_line(err) == f"d.jsonl line 1 (tkem__cachetools-1): {message}"


def test_run_fields_are_checked_in_older_records_too(tmp_path):
    row = dict(RAW[0], eval_type="sometimes")
    with pytest.raises(DatasetError, match="eval_type 'sometimes' is not one of"):
        load_dataset(write_jsonl(tmp_path / "d.jsonl", [row]))
