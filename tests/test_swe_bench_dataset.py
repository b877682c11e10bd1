"""swe-mini and the SWE-bench file formats: what a user loading or writing them relies on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks.swe_bench import (
    DatasetError,
    gold_predictions,
    load_dataset,
    load_predictions,
    repos,
    write_predictions,
)
from benchmarks.swe_bench.dataset import INSTANCE_FIELDS, PREDICTION_FIELDS
from foundation.errors import UserError

# The instance and prediction fields of the official harness (swebench.types / run_evaluation).
OFFICIAL_INSTANCE_FIELDS = {
    "repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement",
    "hints_text", "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS",
    "environment_setup_commit",
}  # fmt: skip


@pytest.fixture(scope="module")
def mini() -> list[dict]:
    return load_dataset("swe-mini")


def test_instance_fields_are_the_official_ones(mini):
    from swebench.types import SWEbenchInstance

    assert set(SWEbenchInstance.__annotations__) == OFFICIAL_INSTANCE_FIELDS
    assert set(INSTANCE_FIELDS) == OFFICIAL_INSTANCE_FIELDS
    assert set(PREDICTION_FIELDS) == {"instance_id", "model_name_or_path", "model_patch"}
    raw = Path(repos.__file__).parent / "data" / "swe-mini.jsonl"
    for line in raw.read_text().splitlines():
        row = json.loads(line)
        assert set(row) == OFFICIAL_INSTANCE_FIELDS
        assert all(isinstance(row[f], str) for f in OFFICIAL_INSTANCE_FIELDS)
        for field in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            tests = json.loads(row[field])  # JSON-encoded lists, as in the official data
            # pytest ids (path::name) or unittest ids ("name (module.Class.name)")
            assert isinstance(tests, list)
            assert all("::" in t or " (" in t for t in tests)


def test_swe_mini_shape(mini):
    assert len(mini) >= 12
    assert len({i["repo"] for i in mini}) >= 4
    for inst in mini:
        owner, name = inst["repo"].split("/")
        assert inst["instance_id"].startswith(f"{owner}__{name}-")
        assert json.loads(inst["FAIL_TO_PASS"]) and inst["problem_statement"].strip()
        assert not set(json.loads(inst["FAIL_TO_PASS"])) & set(json.loads(inst["PASS_TO_PASS"]))

    def files(diff: str) -> int:
        return diff.count("diff --git ")

    assert any(files(i["patch"]) > 1 for i in mini), "some fix spans several files"
    assert any(files(i["patch"]) == 1 and i["patch"].count("\n@@ ") > 1 for i in mini)
    data = Path(repos.__file__).parent / "data"
    size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    assert size < 2_000_000


def test_base_commit_is_reproduced_for_every_instance(mini, tmp_path):
    for inst in mini:
        repo = repos.materialize(inst, tmp_path / inst["instance_id"])
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        assert head == inst["base_commit"]
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
        ).stdout
        assert status == ""
        # The gold patch applies to the base as is.
        check = subprocess.run(
            ["git", "-C", str(repo), "apply", "--check", "-"], input=inst["patch"], text=True
        )
        assert check.returncode == 0


def test_tampered_base_commit_is_detected(mini, tmp_path):
    inst = dict(mini[0], base_commit="0" * 40)
    with pytest.raises(repos.RepoError, match="not base_commit"):
        repos.materialize(inst, tmp_path / "r")


def test_instance_ids_select_in_dataset_order(mini):
    ids = [mini[3]["instance_id"], mini[0]["instance_id"]]
    got = load_dataset("swe-mini", ids)
    assert [i["instance_id"] for i in got] == [mini[0]["instance_id"], mini[3]["instance_id"]]


def test_unknown_instance_id_is_a_user_error():
    with pytest.raises(UserError, match=r"unknown instance id.*nope__nope-1"):
        load_dataset("swe-mini", ["nope__nope-1"])


def test_unknown_dataset_name():
    with pytest.raises(UserError, match="unknown dataset"):
        load_dataset("no-such-dataset")


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows))
    return path


def test_dataset_file_json_and_jsonl_load_the_same(mini, tmp_path):
    jsonl = _write(tmp_path / "d.jsonl", mini[:2])
    array = tmp_path / "d.json"
    array.write_text(json.dumps(mini[:2]))
    assert load_dataset(jsonl) == load_dataset(array) == mini[:2]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("base_commit"), "line 2.*missing field.*base_commit"),
        (lambda r: r.update(FAIL_TO_PASS="not json"), "line 2.*FAIL_TO_PASS is not a JSON"),
        (lambda r: r.update(PASS_TO_PASS='{"a": 1}'), "line 2.*PASS_TO_PASS must be a JSON"),
        (lambda r: r.update(base_commit="abc"), "line 2.*40-hex"),
        (lambda r: r.update(instance_id="nonumber"), "line 2.*owner__repo-NUMBER"),
        (lambda r: r.update(repo="no-slash"), "line 2.*owner/name"),
        (lambda r: r.update(version=3.0), "line 2.*version must be a string"),
        (lambda r: r.update(FAIL_TO_PASS="[]"), "line 2.*FAIL_TO_PASS is empty"),
    ],
)
def test_malformed_instance_names_line_and_field(mini, tmp_path, mutate, message):
    bad = dict(mini[1])
    mutate(bad)
    path = _write(tmp_path / "d.jsonl", [mini[0], bad])
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def test_malformed_jsonl_line_gives_the_line_number(mini, tmp_path):
    path = _write(tmp_path / "d.jsonl", [mini[0], "\n", '{"instance_id": \n'])
    with pytest.raises(DatasetError, match=r"d.jsonl line 3: not valid JSON"):
        load_dataset(path)


def test_predictions_round_trip_field_by_field(mini, tmp_path):
    preds = gold_predictions(mini, model="org/model-7b")
    preds[1]["model_patch"] = ""
    path = tmp_path / "p.jsonl"
    write_predictions(path, preds)
    lines = path.read_text().splitlines()
    assert len(lines) == len(mini)
    first = json.loads(lines[0])
    assert list(first) == ["instance_id", "model_name_or_path", "model_patch"]
    assert first == {
        "instance_id": mini[0]["instance_id"],
        "model_name_or_path": "org/model-7b",
        "model_patch": mini[0]["patch"],
    }
    loaded = load_predictions(path, mini)
    assert loaded[mini[1]["instance_id"]]["model_patch"] == ""
    assert [loaded[p["instance_id"]] for p in preds] == preds


def test_predictions_may_carry_extra_fields_and_null_patches(mini, tmp_path):
    row = {"instance_id": mini[0]["instance_id"], "model_name_or_path": "m",
           "model_patch": None, "cost": 0.1}  # fmt: skip
    loaded = load_predictions(_write(tmp_path / "p.jsonl", [row]), mini)
    assert loaded[mini[0]["instance_id"]] == row


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (['{"instance_id": "a"\n'], "line 1: not valid JSON"),
        ([{"instance_id": "tkem__cachetools-1", "model_patch": ""}], "model_name_or_path"),
        ([{"instance_id": "x__y-1", "model_name_or_path": "m", "model_patch": "d"}],
         "not in the dataset: x__y-1"),
        ([{"instance_id": "tkem__cachetools-1", "model_name_or_path": "m", "model_patch": 3}],
         "model_patch must be a string"),
        ([{"instance_id": "tkem__cachetools-1", "model_name_or_path": "m", "model_patch": ""}] * 2,
         "line 2: second prediction"),
        ([{"instance_id": "tkem__cachetools-1", "model_name_or_path": "a", "model_patch": ""},
          {"instance_id": "tkem__cachetools-2", "model_name_or_path": "b", "model_patch": ""}],
         "2 models"),
        ([], "no predictions"),
    ],
)  # fmt: skip
def test_bad_predictions(mini, tmp_path, rows, message):
    with pytest.raises(DatasetError, match=message):
        load_predictions(_write(tmp_path / "p.jsonl", rows), mini)


def test_missing_predictions_file(mini, tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_predictions(tmp_path / "none.jsonl", mini)
