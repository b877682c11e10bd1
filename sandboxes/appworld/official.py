"""The official AppWorld data (`appworld download data`) behind our environment, and the
smallest folder in its layout we can build offline (from appworld-mini-style worlds).

The official layout, as appworld 0.1.3.post1 reads it (`appworld.task.Task.load`,
`load_task_ids`, `GroundTruth.load`, `evaluator.evaluate_task`), under the root DIR:

    data/datasets/<split>.txt           task ids, one a line (<scenario>_<n>, maybe ":tag")
    data/base_dbs/<app>.db              every app's base database
    data/api_docs/standard/<app>.json   the API docs
    data/tasks/<id>/specs.json          instruction, supervisor, datetime, db_version
    data/tasks/<id>/dbs/<app>.jsonl     the task's world as changes over the base
    data/tasks/<id>/ground_truth/       evaluation.py (evaluate(test, public_data, ...)),
                                        public_data.json, private_data.json, answer.json,
                                        test_data.json, metadata.json (difficulty, mode);
                                        mode "full" adds solution.py, compiled_solution.py ...

`prepare(data, tasks)` makes a view of it for our environment (`AppWorldEnv(installation=
...)`) under the AppWorld cache: base databases and API docs (hard links, else copies), each
task's specs.json and dbs (what the agent's executor may see), and its ground truth in the
view's truth/ (mode 0700, hidden from the executor), which the trusted worker grades with:
the task's own evaluation.py and test_data, AppWorld's TestTracker, the attempt's end state
replayed under the worker's guards. The view is per data folder (by its real path).

`build_mini_data(DIR)` writes that layout from our own worlds (the package's factories):
base databases and API docs as our installation built them, each task's world, and a ground
truth whose evaluation.py is the world's checks, with test_data from running the no-op and
the gold solution. It proves the path end to end; it is not the official data.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation.errors import UserError
from sandboxes.appworld.env import AppWorldTask
from sandboxes.appworld.install import INSTALL_FORMAT, Installation, ensure_appworld
from sandboxes.cache import build_lock

if TYPE_CHECKING:
    from collections.abc import Sequence

OFFICIAL_SPLITS = ("train", "dev", "test_normal", "test_challenge")
HOW_TO_GET = (
    "get it with `appworld download data --root DIR` (AppWorld's CLI; needs the internet; "
    "AppWorld's venv here has it: {venv}/bin/appworld), then pass --appworld-data DIR"
)
TASK_ID = re.compile(r"[A-Za-z0-9]{1,64}_[0-9]{1,6}")
GROUND_TRUTH_FILES = (
    "evaluation.py",
    "public_data.json",
    "private_data.json",
    "answer.json",
    "test_data.json",
    "metadata.json",
)
DATA_FORMAT = 1  # bump when the view's layout changes


def _how() -> str:
    """How to get the data, naming AppWorld's venv on this machine when it can (no build)."""
    from sandboxes.appworld.install import install_path

    venv = "<AppWorld's venv>"
    with contextlib.suppress(Exception):
        venv = str(install_path() / "venv")
    return HOW_TO_GET.format(venv=venv)


def data_dir(directory: Path) -> Path:
    """The official `data/` folder: `directory` itself or its `data/` (the root `appworld
    download data --root` fills); a one-line `UserError` saying how to get it otherwise."""
    directory = Path(directory).expanduser()
    for candidate in (directory / "data", directory):
        if (candidate / "tasks").is_dir() and (candidate / "datasets").is_dir():
            missing = [
                name
                for name in ("base_dbs", "api_docs/standard")
                if not (candidate / name).is_dir()
            ]
            if missing:
                raise UserError(
                    f"--appworld-data {directory}: the data has no {', '.join(missing)}; " + _how()
                )
            return candidate.resolve()
    what = "does not exist" if not directory.exists() else "has no AppWorld data/ (tasks, datasets)"
    raise UserError(f"--appworld-data {directory} {what}; {_how()}")


@dataclass(frozen=True)
class OfficialTask(AppWorldTask):
    """An official task: its world is the data's (nothing to build), its id AppWorld's."""

    task_id: str = ""
    scenario: str = ""

    @property
    def world_id(self) -> str:
        return self.task_id


def check_task_id(task_id: str) -> str:
    """An official task id (`<scenario>_<n>`), safe as a directory name."""
    if not TASK_ID.fullmatch(task_id):
        raise UserError(f"{task_id!r} is not an AppWorld task id (<scenario>_<number>)")
    return task_id


def load_split(data: Path, split: str) -> list[OfficialTask]:
    """The tasks of `split` (`data/datasets/<split>.txt`), each checked to exist."""
    if split not in OFFICIAL_SPLITS:
        raise UserError(f"unknown split {split!r}; one of {', '.join(OFFICIAL_SPLITS)}")
    listing = data / "datasets" / f"{split}.txt"
    if not listing.is_file():
        raise UserError(f"the AppWorld data {data} has no split {split} ({listing}); {_how()}")
    tasks = []
    for line in listing.read_text().splitlines():
        task_id = line.strip().split(":")[0].strip()
        if not task_id:
            continue
        check_task_id(task_id)
        folder = data / "tasks" / task_id
        try:
            specs = json.loads((folder / "specs.json").read_text())
            instruction = str(specs["instruction"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"the AppWorld task {task_id} in {data} is unreadable: {exc}") from None
        difficulty = 1
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            metadata = json.loads((folder / "ground_truth" / "metadata.json").read_text())
            difficulty = int(metadata["difficulty"])
        tasks.append(
            OfficialTask(
                name=task_id.replace("_", "-"),
                instruction=instruction,
                modules=(),
                difficulty=difficulty,
                datetime=str(specs.get("datetime", "")),
                task_id=task_id,
                scenario=task_id.split("_")[0],
            )
        )
    if not tasks:
        raise UserError(f"the split {split} of {data} lists no tasks")
    return tasks


# -- the view our environment runs on ------------------------------------------------------


@dataclass(frozen=True)
class OfficialInstallation(Installation):
    """AppWorld's venv (`base`'s) with the official data's view as its root: data/, truth/,
    bin/ and home/ are the view's; the worker runs with APPWORLD_ROOT at the view."""

    base: Path = Path()

    @property
    def venv(self) -> Path:
        return self.base / "venv"

    @property
    def log(self) -> Path:
        return self.root / "view.log"


def view_path(data: Path, inst: Installation) -> Path:
    key = json.dumps([str(data.resolve()), DATA_FORMAT, INSTALL_FORMAT])
    return inst.root / "official" / hashlib.sha256(key.encode()).hexdigest()[:16]


def _link_or_copy(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (a copy across file systems), readable by all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()
    try:
        os.link(source, staging)
        if not os.stat(staging).st_mode & 0o004:
            staging.unlink()
            raise OSError("not world-readable")
    except OSError:
        shutil.copyfile(source, staging)
        staging.chmod(0o644)
    os.replace(staging, target)


def _same(source: Path, target: Path) -> bool:
    try:
        a, b = source.stat(), target.stat()
    except OSError:
        return False
    return (a.st_ino == b.st_ino and a.st_dev == b.st_dev) or (
        a.st_size == b.st_size and source.read_bytes() == target.read_bytes()
    )


def _mirror(source: Path, target: Path) -> None:
    """`target` holds `source`'s regular files (links or copies); nothing else is kept."""
    target.mkdir(parents=True, exist_ok=True, mode=0o755)
    wanted = set()
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue
        wanted.add(relative)
        if path.is_dir():
            (target / relative).mkdir(parents=True, exist_ok=True, mode=0o755)
        elif not _same(path, target / relative):
            _link_or_copy(path, target / relative)
    for path in sorted(target.rglob("*"), reverse=True):
        if path.relative_to(target) not in wanted:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def prepare(
    data: Path, tasks: Sequence[OfficialTask], inst: Installation | None = None
) -> OfficialInstallation:
    """The view of `data` for `tasks` (made or brought up to date), as an installation for
    `AppWorldEnv(installation=...)` and its grading."""
    base = inst or ensure_appworld()
    root = view_path(data, base)
    view = OfficialInstallation(root, base=base.root)
    with build_lock(f"appworld-official-{root.name}"):
        for directory in (root, root / "home", root / "bin"):
            directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        root.chmod(0o755)
        view.truth.mkdir(exist_ok=True, mode=0o700)
        view.truth.chmod(0o700)
        _mirror(data / "base_dbs", view.data / "base_dbs")
        _mirror(data / "api_docs", view.data / "api_docs")
        for task in tasks:
            task_id = check_task_id(task.task_id)
            source = data / "tasks" / task_id
            world = view.data / "tasks" / task_id
            _mirror(source / "dbs", world / "dbs")
            if not _same(source / "specs.json", world / "specs.json"):
                _link_or_copy(source / "specs.json", world / "specs.json")
            truth = view.truth / task_id
            truth.mkdir(exist_ok=True, mode=0o700)
            for name in GROUND_TRUTH_FILES:
                path = source / "ground_truth" / name
                if not path.is_file():
                    raise UserError(f"the AppWorld task {task_id} has no ground_truth/{name}")
                if not _same(path, truth / name):
                    shutil.copyfile(path, truth / name)
    return view


def gold_code(data: Path, task_id: str) -> str | None:
    """The body of the ground truth's `solution(apis, requester)` (compiled_solution.py,
    else solution.py) as code an agent runs, or None (minimal ground truth: test splits)."""
    folder = data / "tasks" / check_task_id(task_id) / "ground_truth"
    for name in ("compiled_solution.py", "solution.py"):
        try:
            source = (folder / name).read_text()
            tree = ast.parse(source)
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "solution" and node.body:
                lines = source.splitlines()
                first = node.body[0]
                start = (
                    first.lineno - 1
                    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant))
                    else first.end_lineno or first.lineno
                )
                end = node.body[-1].end_lineno or len(lines)
                body = textwrap.dedent("\n".join(lines[start:end]))
                if body.strip():
                    return body
    return None


# -- a data folder in the official layout, built offline -------------------------------------


def _evaluation_source(task: AppWorldTask) -> str:
    """One evaluation.py from a task's modules (the last defines `evaluate`): the modules'
    sources in order, with imports of each other removed (their names are then defined)."""
    names = [name for name, _ in task.modules]
    parts = []
    for name, source in task.modules:
        kept = [
            line
            for line in source.splitlines()
            if not any(re.match(rf"\s*from\s+{re.escape(n)}\s+import\b", line) for n in names)
        ]
        parts.append(f"# --- {name}\n" + "\n".join(kept))
    # Lines after the last check: AppWorld's build_fail_trace reads the lines after a failed
    # check's line and breaks (UnboundLocalError) when that line is the file's last.
    return "\n\n".join(parts) + "\n\n\n# (end of the evaluation)\n"


def build_mini_data(
    destination: Path,
    splits: dict[str, Sequence[tuple[AppWorldTask, str]]],
    inst: Installation | None = None,
) -> Path:
    """Write the official layout under `destination` (the root; returns its data/) for
    `splits`: split name -> [(task, gold code)]. Each task's world is built with our worker,
    its test_data found by grading the no-op and the gold solution (the gold must pass), and
    its ground truth written in "full" mode with the gold as the solution."""
    from sandboxes.appworld.env import AppWorldEnv, prepare_tasks

    base = inst or ensure_appworld()
    every = [task for pairs in splits.values() for task, _ in pairs]
    prepare_tasks(every, base)
    data = Path(destination) / "data"
    _mirror(base.data / "base_dbs", data / "base_dbs")
    _mirror(base.data / "api_docs", data / "api_docs")
    (data / "datasets").mkdir(parents=True, exist_ok=True)
    numbers: dict[str, int] = {}
    with AppWorldEnv(installation=base) as env:
        for split, pairs in splits.items():
            ids = []
            for task, gold in pairs:
                scenario = hashlib.sha256(task.name.rsplit("-", 1)[0].encode()).hexdigest()[:7]
                numbers[scenario] = numbers.get(scenario, 0) + 1
                task_id = f"{scenario}_{numbers[scenario]}"
                env.reset(task)
                no_op = env.evaluate()
                env.reset(task)
                env.execute(gold)
                solved = env.evaluate()
                if not solved.success:
                    raise RuntimeError(f"the gold solution of {task.name} fails its checks")
                full = not split.startswith("test")  # the official test splits: minimal
                folder = data / "tasks" / task_id
                _write_task(base, folder, task, gold, no_op.passes, solved, full)
                ids.append(task_id)
            (data / "datasets" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    return data


def _write_task(
    base: Installation,
    folder: Path,
    task: AppWorldTask,
    gold: str,
    no_op_passes: tuple[str, ...],
    solved: Any,
    full: bool,
) -> None:
    world = base.data / "tasks" / task.world_id
    truth = base.truth / task.world_id
    shutil.rmtree(folder, ignore_errors=True)
    _mirror(world / "dbs", folder / "dbs")
    shutil.copyfile(world / "specs.json", folder / "specs.json")
    ground = folder / "ground_truth"
    ground.mkdir(parents=True)
    passes = set(no_op_passes)
    test_data = [
        {"requirement": r, "label": "no_op_pass" if r in passes else "no_op_fail"}
        for r in solved.passes
    ]
    solution = (
        "def solution(apis, requester) -> None:\n" + textwrap.indent(gold.strip(), "    ") + "\n"
    )
    apps = sorted(set(re.findall(r"apis\.(\w+)\.", gold)) - {"supervisor", "api_docs"})
    # The statistics AppWorld would otherwise compute with black (not in its venv).
    metadata = {
        "difficulty": task.difficulty,
        "mode": "full" if full else "minimal",
        "num_apps": len(apps),
        "num_apis": len(set(re.findall(r"apis\.(\w+\.\w+)", gold))),
        "num_api_calls": 0,
        "num_solution_code_lines": len(gold.strip().splitlines()),
    }
    files: dict[str, Any] = {
        "public_data.json": json.loads((truth / "public_data.json").read_text()),
        "private_data.json": json.loads((truth / "private_data.json").read_text()),
        "test_data.json": test_data,
        "metadata.json": metadata,
    }
    if full:
        files.update({"required_apps.json": apps, "api_calls.json": []})
        (ground / "solution.py").write_text(solution)
        (ground / "compiled_solution.py").write_text(solution)
        (ground / "generator.py").write_text("")
    for name, value in files.items():
        (ground / name).write_text(json.dumps(value, indent=1))
    (ground / "answer.json").write_text((truth / "answer.json").read_text())
    (ground / "evaluation.py").write_text(_evaluation_source(task))
