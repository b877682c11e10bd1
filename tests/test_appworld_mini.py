"""appworld-mini (benchmarks/appworld): the suite's shape and splits, its worlds deterministic
by seed, and, in the real apps, every gold solution passing its checks while every wrong one
(and doing nothing, and collateral damage) fails them.

Needs AppWorld's venv (built on first use, cached; see tests/test_appworld_env.py). The whole
sweep (45 tasks, gold, wrong and no-op each) takes about a minute once the worlds are built."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.appworld import LEVELS, SPLITS, MiniTask, tasks, templates
from sandboxes.appworld import AppWorldEnv, Installation, ensure_appworld, prepare_tasks
from sandboxes.appworld.install import appworld_python
from sandboxes.appworld.processes import shared_worker
from sandboxes.base import BuildError

ALL = tasks()
BY_NAME = {mini.name: mini for mini in ALL}


@pytest.fixture(scope="module")
def installation() -> Installation:
    try:
        appworld_python()
    except BuildError as exc:
        pytest.skip(str(exc))
    inst = ensure_appworld()
    prepare_tasks([mini.task for mini in ALL], inst)
    return inst


@pytest.fixture(scope="module")
def env(installation: Installation) -> Iterator[AppWorldEnv]:
    with AppWorldEnv() as opened:
        yield opened


# -- the suite --------------------------------------------------------------------------------


def test_the_suite_has_the_promised_shape() -> None:
    assert len(ALL) >= 40
    apps = Counter(app for template in templates() for app in template.apps)
    assert len(apps) >= 6 and "supervisor" not in apps
    assert len({mini.name for mini in ALL}) == len(ALL)
    assert len({mini.task.world_id for mini in ALL}) == len(ALL)
    for split in SPLITS:
        assert {mini.level for mini in tasks(split)} == set(LEVELS)
    for template in templates():
        if template.level == 3:
            assert len(template.apps) >= 2  # level 3 crosses apps
        assert template.level in LEVELS and template.split in SPLITS


def test_splits_are_by_template() -> None:
    split_of: dict[str, set[str]] = {}
    for mini in ALL:
        split_of.setdefault(mini.template.name, set()).add(mini.split)
    assert all(len(splits) == 1 for splits in split_of.values())
    names = [{mini.template.name for mini in tasks(split)} for split in SPLITS]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert sum(len(tasks(split)) for split in SPLITS) == len(ALL)
    with pytest.raises(ValueError):
        tasks("validation")


def test_the_suite_is_the_same_every_time() -> None:
    again = tasks()
    assert [mini.task for mini in again] == [mini.task for mini in ALL]
    assert [mini.task.world_id for mini in again] == [mini.task.world_id for mini in ALL]
    assert [mini.gold for mini in again] == [mini.gold for mini in ALL]
    assert len({mini.task.seed for mini in ALL}) == len(ALL)


def test_solutions_are_written_as_appworld_agents_write_them() -> None:
    for mini in ALL:
        assert "$" not in mini.gold and "$" not in mini.wrong  # every parameter filled in
        assert mini.gold != mini.wrong
        for code in (mini.gold, mini.wrong):
            compile(code, mini.name, "exec")
            assert "apis.supervisor.show_account_passwords()" in code
            assert "apis.supervisor.complete_task(" in code
            for app in mini.template.apps:
                assert f"apis.{app}.login(" in code
            assert set(re.findall(r"apis\.(\w+)\.", code)) <= {"supervisor", *mini.template.apps}


def test_world_modules_import_without_appworld() -> None:
    for template in templates():
        module = importlib.import_module(template.world)
        assert callable(module.build) and callable(module.evaluate)
        assert [name for name, _ in template.modules()][-1] == template.world


# -- in the real apps -------------------------------------------------------------------------


@pytest.mark.parametrize("mini", ALL, ids=[mini.name for mini in ALL])
def test_gold_passes_while_wrong_and_doing_nothing_fail(env: AppWorldEnv, mini: MiniTask) -> None:
    assert env.reset(mini.task) == mini.task.instruction
    output = env.execute(mini.gold)
    assert "Execution failed" not in output, output
    result = env.evaluate()
    assert result.success, result.failures
    assert result.num_tests >= 2 and env.completed

    env.reset(mini.task)
    output = env.execute(mini.wrong)
    assert "Execution failed" not in output, output  # plausible: it runs, it is just wrong
    result = env.evaluate()
    assert not result.success
    assert 0 < len(result.passes) < result.num_tests

    env.reset(mini.task)
    assert not env.evaluate().success


def test_collateral_damage_fails_the_task(env: AppWorldEnv) -> None:
    mini = BY_NAME["todoist-open-tasks-0"]
    env.reset(mini.task)
    extra = "apis.todoist.create_project(name='Scratch', access_token=todoist_token)\n"
    env.execute(
        mini.gold.replace("apis.supervisor.complete_task", extra + "apis.supervisor.complete_task")
    )
    result = env.evaluate()
    assert not result.success
    assert [name for name, _ in result.failures] == ["no data changed beyond the task's (nothing)"]
    assert result.answer == result.ground_truth_answer  # the answer itself was right


def test_a_wrong_answer_fails_only_the_answer_check(env: AppWorldEnv) -> None:
    mini = BY_NAME["venmo-sent-to-contacts-0"]
    env.reset(mini.task)
    env.execute(mini.gold.replace("answer=round(total, 2)", "answer=round(total + 1, 2)"))
    result = env.evaluate()
    assert not result.success
    assert len(result.failures) == 1 and "right answer" in result.failures[0][0]


def test_worlds_are_deterministic_by_seed(installation: Installation) -> None:
    original = BY_NAME["phone-venmo-request-0"].task
    copy = dataclasses.replace(original, name=original.name + "-again")
    built = [installation.data / "tasks" / copy.world_id, installation.truth / copy.world_id]
    for path in built:
        shutil.rmtree(path, ignore_errors=True)
    try:
        shared_worker(installation).close()  # a fresh process builds the copy
        prepare_tasks([copy], installation)
        first, second = (installation.data / "tasks" / t.world_id / "dbs" for t in (original, copy))
        files = sorted(path.name for path in first.iterdir())
        assert files == sorted(path.name for path in second.iterdir())
        assert "venmo.jsonl" in files and len((first / "venmo.jsonl").read_text()) > 1000
        for name in files:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
        for name in ("public_data.json", "private_data.json", "answer.json"):
            truths = [installation.truth / t.world_id / name for t in (original, copy)]
            assert json.loads(truths[0].read_text()) == json.loads(truths[1].read_text())
    finally:
        for path in built:
            shutil.rmtree(path, ignore_errors=True)
    other = BY_NAME["phone-venmo-request-1"].task.world_id
    assert (installation.data / "tasks" / other / "dbs" / "venmo.jsonl").read_bytes() != (
        first / "venmo.jsonl"
    ).read_bytes()


def test_every_world_is_built_and_kept(installation: Installation) -> None:
    for mini in ALL:
        assert (installation.data / "tasks" / mini.task.world_id / "specs.json").exists()
        assert Path(installation.truth / mini.task.world_id / "modules.json").exists()
