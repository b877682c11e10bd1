"""Any SWE-bench-format dataset: a user's own repositories and versions with a `--specs`
file and `--repos-dir` (real PyPI projects swe-mini does not bundle: six, toml), records in
swebench 5.x's format (image, eval_script, log_parser, eval_type) graded by their own eval
script, dataset validation, and setup failures as error rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from swe_other import build

from benchmarks.swe_bench import RunConfig, load_dataset, run_instance
from benchmarks.swe_bench.environment import InstanceEnv, resolve
from benchmarks.swe_bench.specs import load_specs, parse_spec
from foundation.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
AGENTS = [sys.executable, "-c", "from agents.cli import main; main()"]


def agents(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENTS, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "250"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("own"))


def dataset_flags(own: dict[str, Path]) -> list[str]:
    return [
        "-d",
        str(own["data"]),
        "--specs",
        str(own["specs"]),
        "--repos-dir",
        str(own["mirrors"]),
    ]


# -- specs ------------------------------------------------------------------------------


def test_a_specs_file_in_the_swe_bench_table_shape_is_merged_over_the_bundled_ones(tmp_path):
    path = tmp_path / "specs.json"
    path.write_text(
        json.dumps(
            {
                "acme/widget": {
                    "2.1": {
                        "python": "3",
                        "packages": "attrs",
                        "pip_packages": ["pytest==8.3.5"],
                        "pre_install": ["echo pre"],
                        "install": "python -m pip install -e .",
                        "test_cmd": ["echo first", "pytest -rA"],
                        "eval_commands": ["export LANG=C.UTF-8"],
                        "env_vars_test": {"FOO": "1"},
                        "apt-pkgs": ["libfoo"],  # a fork's key we do not use: accepted
                    }
                }
            }
        )
    )
    table = load_specs([path])
    spec = table.spec_for("acme/widget", "2.1")
    assert spec.pip_packages == ("pytest==8.3.5", "attrs")
    assert spec.test_cmd == "echo first && pytest -rA"
    assert spec.install == ("python -m pip install -e .",)
    assert spec.env().setup_commands == ("echo pre",)
    assert "setuptools" in spec.env().pip_packages  # `pip install -e .` offline needs it
    assert table.get("tkem/cachetools", "5.3.3") is not None  # the bundled ones stay
    with pytest.raises(UserError, match=r"no environment spec for acme/widget version 9.*--specs"):
        table.spec_for("acme/widget", "9")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"test_cmd": "pytest", "colour": 1}, r"unknown key\(s\) colour"),
        ({"python": "3.9"}, r"test_cmd is missing"),
        ({"test_cmd": "pytest", "packages": "requirements.txt"}, r"requirements.txt is not supp"),
        ({"test_cmd": "pytest", "log_parser": "parse_log_nope"}, r"not one of swebench's parsers"),
        ({"test_cmd": "pytest", "python": "2.7"}, r"python must be 3 or 3.N"),
        ({"test_cmd": "pytest", "install": 3}, r"install must be a command"),
    ],
)
def test_a_bad_spec_is_one_line_naming_the_place(raw, message):
    with pytest.raises(UserError, match=message) as info:
        parse_spec(raw, "--specs s.yaml: acme/widget 2.1")
    assert "\n" not in str(info.value) and str(info.value).startswith("--specs s.yaml: acme")


def test_a_yaml_specs_file_that_is_not_yaml_is_one_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("acme/widget: [unclosed\n")
    with pytest.raises(UserError, match=r"--specs .*s.yaml: not valid yaml"):
        load_specs([path])


# -- eval scripts: ours and swebench's ---------------------------------------------------


def swebench_make_test_spec(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """swebench's own `make_test_spec` (harness/utils.py imports `datasets` and `dotenv` at
    the top, which it does not need for this function: stand-ins let it import)."""
    fake_datasets = types.ModuleType("datasets")
    for attr in ("Dataset", "load_dataset", "load_from_disk"):
        setattr(fake_datasets, attr, object)
    fake_dotenv = types.ModuleType("dotenv")
    fake_dotenv.load_dotenv = lambda *a, **k: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets)
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv)
    from benchmarks.swe_bench import official

    official._harness_module("constants")  # the bare harness package
    monkeypatch.delitem(sys.modules, "swebench.harness.utils", raising=False)
    utils = official._harness_module("utils")
    monkeypatch.delitem(sys.modules, "swebench.harness.utils")
    return utils.make_test_spec


def record_5x(instance: dict, script: str, image: str = "") -> dict:
    """A swebench 5.x record: the instance plus image, eval_script, log_parser, eval_type."""
    return {
        **instance,
        "image": image,
        "eval_script": script,
        "log_parser": "parse_log_pytest",
        "eval_type": "pass_and_fail",
    }


def test_a_records_eval_script_is_run_as_swebench_writes_it_and_graded_as_swebench_grades(
    own, tmp_path, monkeypatch
):
    make_test_spec = swebench_make_test_spec(monkeypatch)
    instance = load_dataset(own["data"], ["uiri__toml-1"])[0]
    config = RunConfig(
        sandbox="local", images="local", specs=load_specs([own["specs"]]), repos_dir=own["mirrors"]
    )
    ours = resolve(instance, config).eval_script
    # A record whose eval script is our generated one plus a line of its own: what runs is
    # exactly the record's script, through swebench's TestSpec.
    script = ours.replace("set -uxo pipefail\n", "set -uxo pipefail\necho RECORD-SCRIPT-RAN\n")
    record = record_5x(instance, script)
    official_spec = make_test_spec(record)
    env = resolve(record, config)
    assert isinstance(env, InstanceEnv) and env.eval_script == official_spec.eval_script
    assert env.log_parser == official_spec.log_parser and env.eval_type == official_spec.eval_type

    pred = {
        "instance_id": record["instance_id"],
        "model_name_or_path": "m",
        "model_patch": record["patch"],
    }
    result = run_instance(record, pred, tmp_path / "log", config)
    assert result.status == "resolved", result.reason
    assert (tmp_path / "log" / "eval.sh").read_text() == official_spec.eval_script
    test_output = tmp_path / "log" / "test_output.txt"
    assert "RECORD-SCRIPT-RAN" in test_output.read_text()
    from benchmarks.swe_bench import official

    report = official.grading.get_eval_report(
        official_spec, pred, str(test_output), include_tests_status=True
    )
    assert report == json.loads((tmp_path / "log" / "report.json").read_text())


def test_a_generated_eval_script_has_swebench_s_shape(own):
    instance = load_dataset(own["data"], ["benjaminp__six-1"])[0]
    config = RunConfig(
        sandbox="local", images="local", specs=load_specs([own["specs"]]), repos_dir=own["mirrors"]
    )
    env = resolve(instance, config)
    lines = env.eval_script.splitlines()
    assert lines[:2] == ["#!/bin/bash", "set -uxo pipefail"]
    start = lines.index(": '>>>>> Start Test Output'")
    assert lines[start + 1] == "python -m pytest -rA -p no:cacheprovider test_ensure_binary.py"
    assert lines[start + 2] == "SWEBENCH_TEST_EXIT_CODE=$?"
    assert env.test_cmd == "python -m pytest -rA -p no:cacheprovider"
    assert env.how.startswith("the spec of benjaminp/six 1.16.0 (--specs ")


# -- a user's own dataset, through the CLI ----------------------------------------------


def test_your_own_repositories_gold_resolves_empty_and_wrong_do_not(own, tmp_path):
    runs = {}
    for name in ("gold", "empty", "wrong"):
        preds = "gold" if name == "gold" else str(own[name])
        proc = agents(
            "eval", "swe-bench", *dataset_flags(own), "-p", preds, "--sandbox", "local",
            "-o", str(tmp_path), "--run-id", name, cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        runs[name] = json.loads(Path(proc.stdout.strip().splitlines()[-1]).read_text())
    ids = [json.loads(line)["instance_id"] for line in own["data"].read_text().splitlines()]
    assert runs["gold"]["resolved_ids"] == sorted(ids)
    assert runs["empty"]["empty_patch_ids"] == sorted(ids) and runs["empty"]["resolved_ids"] == []
    assert runs["wrong"]["unresolved_ids"] == sorted(ids) and runs["wrong"]["error_ids"] == []
    log = (tmp_path / "gold" / "gold" / "uiri__toml-2" / "run_instance.log").read_text()
    assert "environment: the spec of uiri/toml 0.10.2 (--specs" in log


def test_validate_passes_a_sound_dataset_and_flags_a_broken_instance(own, tmp_path):
    rows = [json.loads(line) for line in own["data"].read_text().splitlines()]
    broken = next(r for r in rows if r["instance_id"] == "uiri__toml-1")
    # A FAIL_TO_PASS test that passes without the fix: the instance does not hold.
    broken["FAIL_TO_PASS"] = json.dumps(["tests/test_dump_bool.py::test_int"])
    data = tmp_path / "broken.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    flags = ["--specs", str(own["specs"]), "--repos-dir", str(own["mirrors"]), "--sandbox", "local"]
    sound = agents("eval", "swe-bench", "--validate", "-d", str(own["data"]), *flags,
                   "-o", str(tmp_path / "a"), cwd=tmp_path)  # fmt: skip
    assert sound.returncode == 0, sound.stderr
    assert "4 sound, 0 with problems" in sound.stderr
    bad = agents("eval", "swe-bench", "--validate", "-d", str(data), *flags,
                 "-o", str(tmp_path / "b"), cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 1, bad.stderr
    report = json.loads(Path(bad.stdout.strip().splitlines()[-1]).read_text())
    assert report["problem_ids"] == ["uiri__toml-1"]
    assert "FAIL_TO_PASS tests pass: tests/test_dump_bool.py::test_int" in " ".join(
        report["problems"]["uiri__toml-1"]
    )


def test_eval_without_a_spec_names_the_flag_and_the_format(own, tmp_path):
    proc = agents(
        "eval", "swe-bench", "-d", str(own["data"]), "--repos-dir", str(own["mirrors"]),
        "-p", "gold", "--sandbox", "local", "-o", str(tmp_path), cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(Path(proc.stdout.strip().splitlines()[-1]).read_text())
    assert report["error_instances"] == 4
    why = report["error_reasons"]["benjaminp__six-1"]
    assert "no environment spec for benjaminp/six version 1.16.0" in why
    assert "--specs FILE" in why and "MAP_REPO_VERSION_TO_SPECS" in why


def test_solve_reports_setup_failures_as_error_rows_and_exits_non_zero(own, tmp_path):
    from agents.llm import ScriptedLLM
    from benchmarks.swe_bench.solve import SETUP_EXIT, run_swe_bench
    from benchmarks.tasks import SolveOptions

    opts = SolveOptions(
        dataset=str(own["data"]), instances=("benjaminp__six-1",), sandbox="local",
        output=tmp_path / "run", repos_dir=own["mirrors"],
    )  # fmt: skip
    llm = ScriptedLLM(["THOUGHT: done\nACTION: finish"] * 4)
    summary = run_swe_bench(opts, llm=llm)
    assert summary["exit_code"] == SETUP_EXIT and summary["setup_failures"] == 1
    assert summary["with_patch"] == 0 and summary["resolved"] == 0 and not llm.calls
    row = json.loads((tmp_path / "run" / "solve.jsonl").read_text().splitlines()[-1])
    assert row["status"].startswith("error: environment: no environment spec for benjaminp/six")
    # With the spec, the rerun sets the instance up (a setup failure is not "done").
    from dataclasses import replace

    summary = run_swe_bench(replace(opts, specs=(own["specs"],)), llm=llm)
    assert summary["exit_code"] == 0 and summary["setup_failures"] == 0 and llm.calls
    assert summary["finished"] == 1 and summary["errors"] == 0


# -- official images (Docker) -----------------------------------------------------------

from sandbox_helpers import DOCKER  # noqa: E402


@pytest.fixture
def official_image(own):  # type: ignore[no-untyped-def]
    """toml-1's repository at base_commit in /testbed of an image tagged under the official
    instance-image name, with an activation script the eval script sources (as official
    images have conda's): made from our pytest environment image, removed afterwards."""
    import docker

    from benchmarks.swe_bench.environment import official_image_names
    from benchmarks.swe_bench.repos import materialize
    from benchmarks.swe_bench.specs import BUNDLED
    from sandboxes import engine, images

    client = docker.from_env()
    instance = load_dataset(own["data"], ["uiri__toml-1"])[0]
    env_image = images.ensure_env_image(engine.client(), BUNDLED["tkem/cachetools"]["5.3.3"].env())
    name = official_image_names(instance["instance_id"])[0]
    repo = materialize(instance, own["mirrors"].parent / "toml-1-tree", own["mirrors"])
    container = client.containers.create(env_image, command=["sleep", "infinity"])
    try:
        container.start()
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(str(repo), arcname="testbed")
            data = b"export AGENTS_TEST_MARK=active\n"
            info = tarfile.TarInfo("opt/activate")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        container.put_archive("/", buf.getvalue())
        container.commit(repository=name.split(":")[0], tag="latest")
    finally:
        container.remove(force=True)
    yield instance, name
    client.images.remove(name, force=True)


@pytest.mark.parametrize("kind", [DOCKER])
def test_an_image_present_under_the_official_name_is_used_as_is_by_eval_and_solve(
    kind, own, official_image, tmp_path, monkeypatch
):
    from benchmarks.swe_bench.environment import resolve
    from sandboxes import images

    instance, name = official_image
    config = RunConfig(sandbox="docker", specs=load_specs([]))  # no spec, no clone
    # The record's script, official-shaped: activation, cd /testbed, test files reset, test
    # patch, tests between the markers (they run only where the activation ran).
    ours = RunConfig(sandbox="local", images="local", specs=load_specs([own["specs"]]))
    generated = resolve(instance, ours).eval_script_list
    body = [ln for ln in generated if "Test Exit Code" not in ln and "TEST_EXIT_CODE=" not in ln]
    marked = 'test "$AGENTS_TEST_MARK" = active && python -m pytest'
    body = [ln.replace("python -m pytest", marked) for ln in body]
    script = (
        "\n".join(
            ["#!/bin/bash", "set -uxo pipefail", "source /opt/activate", "cd /testbed", *body]
        )
        + "\n"
    )
    record = record_5x(instance, script, image=name)
    built = []
    monkeypatch.setattr(images, "build_image", lambda *a, **k: built.append(a))
    monkeypatch.setattr(images, "ensure_env_image", lambda *a, **k: built.append(a))

    make_test_spec = swebench_make_test_spec(monkeypatch)
    env = resolve(record, config)
    assert env.image == name and env.how == f"image {name} (present locally)"
    assert env.prelude == "source /opt/activate"
    assert env.test_cmd == f"{marked} -rA -p no:cacheprovider"
    pred = {
        "instance_id": record["instance_id"],
        "model_name_or_path": "m",
        "model_patch": record["patch"],
    }
    result = run_instance(record, pred, tmp_path / "log", config)
    assert result.status == "resolved", result.reason
    assert (tmp_path / "log" / "eval.sh").read_text() == make_test_spec(record).eval_script
    log = (tmp_path / "log" / "run_instance.log").read_text()
    assert f"environment: image {name} (present locally)" in log
    empty = {**pred, "model_patch": ""}
    assert run_instance(record, empty, tmp_path / "empty", config).status == "unresolved"
    assert not built

    # The agent works in the same image: its run_tests has the activation before it.
    from agents.llm import ScriptedLLM
    from benchmarks.swe_bench.solve import run_swe_bench
    from benchmarks.tasks import SolveOptions

    data = tmp_path / "records.jsonl"
    data.write_text(json.dumps(record) + "\n")
    llm = ScriptedLLM(
        ["THOUGHT: t\nACTION: run_tests\ntarget: tests", "THOUGHT: done\nACTION: finish"]
    )
    summary = run_swe_bench(
        SolveOptions(dataset=str(data), limit=0, sandbox="docker", output=tmp_path / "run"), llm=llm
    )
    assert summary["exit_code"] == 0 and summary["setup_failures"] == 0
    traj = json.loads((tmp_path / "run" / "trajectories" / "uiri__toml-1.json").read_text())
    observed = str(traj["steps"][0].get("observation"))
    assert "passed" in observed or "failed" in observed, observed
    assert not built


@pytest.mark.parametrize("kind", [DOCKER])
def test_images_build_makes_the_records_image_from_a_task_repo(kind, own, tmp_path):
    import secrets
    import shutil

    import docker

    from benchmarks.swe_bench.repos import materialize
    from benchmarks.swe_bench.specs import BUNDLED
    from sandboxes import engine, images

    instance = load_dataset(own["data"], ["uiri__toml-2"])[0]
    env_image = images.ensure_env_image(engine.client(), BUNDLED["tkem/cachetools"]["5.3.3"].env())
    task = tmp_path / "task-repo" / "tasks" / instance["instance_id"]
    materialize(instance, task / "testbed", own["mirrors"])
    (task / "Dockerfile").write_text(f"FROM {env_image}\nCOPY testbed /testbed\n")
    ours = RunConfig(sandbox="local", images="local", specs=load_specs([own["specs"]]))
    body = resolve(instance, ours).eval_script_list
    script = "\n".join(["#!/bin/bash", "set -uxo pipefail", "cd /testbed", *body]) + "\n"
    name = f"agents-search-test/built-{secrets.token_hex(4)}:latest"
    record = record_5x(instance, script, image=name)
    config = RunConfig(sandbox="docker", images="build", task_repo=tmp_path / "task-repo")
    try:
        env = resolve(record, config)
        assert env.image == name and "built from" in env.how
        pred = {"instance_id": record["instance_id"], "model_name_or_path": "m"}
        gold = run_instance(
            record, {**pred, "model_patch": record["patch"]}, tmp_path / "g", config
        )
        assert gold.status == "resolved", gold.reason
        wrong = json.loads(own["wrong"].read_text().splitlines()[3])["model_patch"]
        assert (
            run_instance(record, {**pred, "model_patch": wrong}, tmp_path / "w", config).status
            == "unresolved"
        )
    finally:
        docker.from_env().images.remove(name, force=True)
    # Without the task repository, --images build says what it needs.
    shutil.rmtree(tmp_path / "task-repo")
    with pytest.raises(UserError, match=r"no image \(--images build\).*--task-repo"):
        resolve(record, RunConfig(sandbox="docker", images="build"))


@pytest.mark.parametrize("kind", [DOCKER])
def test_an_image_that_cannot_be_pulled_is_an_error_row_naming_it(kind, own, tmp_path):
    instance = load_dataset(own["data"], ["benjaminp__six-1"])[0]
    record = record_5x(instance, "#!/bin/bash\necho hi\n", image="127.0.0.1:9/nope/six:latest")
    pred = {"instance_id": record["instance_id"], "model_name_or_path": "m", "model_patch": "x"}
    pull = RunConfig(sandbox="docker", images="pull")
    result = run_instance(record, pred, tmp_path / "pull", pull)
    assert result.status == "error" and "127.0.0.1:9/nope/six:latest" in (result.reason or "")
    # auto falls back to our environment from a spec, and says why in the run log.
    auto = RunConfig(sandbox="docker", specs=load_specs([own["specs"]]), repos_dir=own["mirrors"])
    env = resolve(record, auto)
    assert env.image is None and env.how.startswith("the spec of benjaminp/six 1.16.0")
    assert "image was not used" in env.how and "127.0.0.1:9/nope/six:latest" in env.how
