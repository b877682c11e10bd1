"""The trusted side of AppWorld: builds worlds and grades attempts. Runs inside AppWorld's own
venv (it imports `appworld`, which the project's venv does not have), never imported by us.

No agent code ever runs in this process: the agent's code runs in the executor (`_server.py`),
a separate, unprivileged process. What this process reads from an attempt is the executor's
saved end state (AppWorld's "changes" files: SQL statements replayed on the base databases),
replayed with ATTACH, DETACH, PRAGMA and file functions denied.

    python _worker.py build-base        # base databases and API docs into $APPWORLD_ROOT/data
    python _worker.py serve             # JSON requests, one a line, on stdin; answers on stdout

Requests: {"cmd": "ping"}, {"cmd": "build", "task": {...}} (see `build_task`),
{"cmd": "evaluate", "task_id": ..., "end": <dir of the attempt's end-state dbs>}.
Answers: {"ok": true, ...} or {"ok": false, "error": "one line"}.
"""

import contextlib
import json
import os
import random
import re
import shutil
import sqlite3
import sys
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(os.environ.get("APPWORLD_ROOT") or os.getcwd())
DATA = ROOT / "data"
TRUTH = ROOT / "truth"
BUILD_DATETIME = "2023-05-18T12:00:00"
# An attempt's end state larger than this is not replayed (a flood of statements).
MAX_CHANGES_BYTES = 64 << 20


def _apps() -> list[str]:
    from appworld.apps import get_all_apps

    return list(get_all_apps())


# -- the base: empty databases (API docs filled in) ---------------------------------------


def build_base() -> None:
    """`data/base_dbs/<app>.db` (every app's schema; the api_docs app's rows) and
    `data/api_docs/standard/<app>.json`, which `AppWorld` reads for every task."""
    from appworld.apps.api_docs import models as api_doc_models
    from appworld.apps.api_lib import save_local_dbs, set_local_date_and_time, set_local_dbs
    from appworld.collections.api_docs import ApiDocCollection
    from appworld.common.constants import CANARY_STRING
    from appworld.common.datetime import DateTime

    apps = _apps()
    freezer = set_local_date_and_time(DateTime.fromisoformat(BUILD_DATETIME))
    try:
        set_local_dbs(":memory:base", ":memory:base", apps, create=True)
        docs = ApiDocCollection.build(tuple(app for app in apps if app != "admin"))
        standard = DATA / "api_docs" / "standard"
        standard.mkdir(parents=True, exist_ok=True)
        rows = []
        for app, name_to_doc in docs.items():
            marked = {
                name: dict(doc, canary_string=CANARY_STRING) for name, doc in name_to_doc.items()
            }
            (standard / f"{app}.json").write_text(json.dumps(marked, indent=1, default=str))
            for name, doc in name_to_doc.items():
                rows.append(
                    api_doc_models.ApiDoc(
                        app_name_=app,
                        api_name=name,
                        path=doc["path"],
                        method=doc["method"],
                        description=doc["description"],
                        parameters=doc["parameters"],
                        response_schemas=doc["response_schemas"],
                    )
                )
        api_doc_models.ApiDoc.save_all(rows)
        save_local_dbs(
            ":memory:base",
            str(DATA / "base_dbs"),
            format="full",
            app_names=apps,
            delete_if_exists=True,
        )
    finally:
        freezer.stop()
    (DATA / "tasks").mkdir(exist_ok=True)
    TRUTH.mkdir(mode=0o700, exist_ok=True)


# -- worlds --------------------------------------------------------------------------------


class World:
    """What a task's `build(world, params)` is given: a seeded RNG, the task's frozen clock,
    the package's models and factories (`make` builds a record with the app's factory, fields
    given override the factory's), and the people of the world: the supervisor (the user the
    agent acts for) and their accounts, whose passwords `apis.supervisor` shows."""

    def __init__(self, seed: int) -> None:
        from appworld.common.datetime import DateTime

        self.rng = random.Random(seed)
        self.now = DateTime.now()
        self.me: Any = None  # the supervisor's admin.MainUser
        self._supervisor: Any = None

    def models(self, app: str) -> ModuleType:
        from appworld.common.utils import import_models_module

        module: ModuleType = import_models_module(app)
        return module

    def make(self, app: str, model: str, **fields: Any) -> Any:
        """A record of `app`'s `model`, built by the package's factory and saved."""
        from appworld.common.utils import import_factories_module

        factory = getattr(import_factories_module(app), f"{model}Factory")
        record = factory.build(**fields)
        record.save()
        return record

    def supervisor(
        self,
        first_name: str,
        last_name: str,
        email: str,
        phone_number: str,
        birthday: str = "1990-06-15",
    ) -> Any:
        """The task's supervisor (app `supervisor`) and the same person as admin's MainUser."""
        person = {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "phone_number": phone_number,
            "birthday": birthday,
        }
        self._supervisor = self.make("supervisor", "Supervisor", **person)
        self.me = self.make("admin", "MainUser", **person)
        return self._supervisor

    def password(self) -> str:
        letters = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        return "".join(self.rng.choice(letters) for _ in range(12))

    def account(self, app: str, **fields: Any) -> Any:
        """The supervisor's verified account in `app` (its password in the supervisor's list)."""
        if self._supervisor is None:
            raise RuntimeError("world.supervisor(...) must come before world.account(...)")
        password = self.password()
        self.make(
            "supervisor",
            "AccountPassword",
            supervisor_id=self._supervisor.id,
            account_name=app,
            password=password,
        )
        return self.user(
            app,
            first_name=self._supervisor.first_name,
            last_name=self._supervisor.last_name,
            email=self._supervisor.email,
            phone_number=self._supervisor.phone_number,
            password=password,
            **fields,
        )

    def user(self, app: str, **fields: Any) -> Any:
        """Somebody's verified account in `app`, logged in last at the task's time (so that a
        login, which stamps that time, changes nothing)."""
        known = set(self.models(app).User.__fields__)
        fields = {key: value for key, value in fields.items() if key in known}
        fields.setdefault("password", self.password())
        for key, value in (("verified", True), ("last_logged_in", self.now)):
            if key in known:
                fields.setdefault(key, value)
        return self.make(app, "User", **fields)


@contextlib.contextmanager
def _loaded(modules: list[list[str]]) -> Iterator[ModuleType]:
    """The task's Python modules ([dotted name, source], ...), importable by those names
    while the block runs (missing parent packages are made empty); yields the last one,
    which defines `build` and `evaluate`."""
    added: list[str] = []
    try:
        module = ModuleType("_")
        for name, source in modules:
            parts = name.split(".")
            for depth in range(1, len(parts)):
                parent = ".".join(parts[:depth])
                if parent not in sys.modules:
                    package = ModuleType(parent)
                    package.__path__ = []
                    sys.modules[parent] = package
                    added.append(parent)
            module = ModuleType(name)
            module.__file__ = f"<{name}>"
            sys.modules[name] = module
            added.append(name)
            exec(compile(source, f"<{name}>", "exec"), module.__dict__)
        yield module
    finally:
        for name in added:
            sys.modules.pop(name, None)


def build_task(task: dict[str, Any]) -> dict[str, Any]:
    """`data/tasks/<id>/` (specs.json and the world as changes over the base) and
    `truth/<id>/` (answer, data and the checks), made in temporary directories and renamed
    into place, so a half-built task is never seen. `task`: id, instruction, modules ([name,
    source], ...: the last defines `build(world, params) -> {"public": {}, "private": {},
    "answer": ...}` and `evaluate(...)`), params, seed, datetime, difficulty."""
    from appworld.apps.api_lib import save_local_dbs, set_local_date_and_time
    from appworld.apps.model_lib import CachedDBHandler
    from appworld.collections.models import ModelCollection
    from appworld.common.constants import CANARY_STRING, DB_VERSION
    from appworld.common.datetime import DateTime
    from appworld.common.random import set_random_seed

    task_id = task["id"]
    final, truth = DATA / "tasks" / task_id, TRUTH / task_id
    if final.exists() and truth.exists():
        return {"built": False}
    staging = DATA / "tasks" / f".{task_id}.{os.getpid()}"
    truth_staging = TRUTH / f".{task_id}.{os.getpid()}"
    for path in (staging, truth_staging):
        shutil.rmtree(path, ignore_errors=True)
    memory = f":memory:build-{task_id}"
    apps = _apps()
    freezer = set_local_date_and_time(DateTime.fromisoformat(task["datetime"]))
    try:
        ModelCollection.load(
            to_db_home_path=memory, from_db_home_path=str(DATA / "base_dbs"), load_apps=apps
        )
        set_random_seed(task["seed"], python=True, faker_=True, model_factory=True)
        world = World(task["seed"])
        with _loaded(task["modules"]) as module:
            built = module.build(world, task["params"]) or {}
        if world._supervisor is None:
            raise RuntimeError("build() made no supervisor (world.supervisor(...))")
        # The active task as AppWorld starts one: no status, no answer yet.
        world.models("supervisor").Task(
            supervisor_id=world._supervisor.id, instruction=task["instruction"]
        ).save()
        save_local_dbs(
            memory,
            str(staging / "dbs"),
            format="changes",
            app_names=apps,
            delete_if_exists=True,
            save_model_hashes=True,
        )
        supervisor = world._supervisor
        specs = {
            "instruction": task["instruction"],
            "supervisor": {
                "first_name": supervisor.first_name,
                "last_name": supervisor.last_name,
                "email": supervisor.email,
                "phone_number": supervisor.phone_number,
            },
            "datetime": task["datetime"],
            "db_version": DB_VERSION,
            "canary_string": CANARY_STRING,
        }
        (staging / "specs.json").write_text(json.dumps(specs, indent=1))
        truth_staging.mkdir(mode=0o700)
        files = {
            "modules.json": task["modules"],
            "public_data.json": built.get("public", {}),
            "private_data.json": built.get("private", {}),
            "answer.json": built.get("answer"),
            "metadata.json": {"difficulty": task["difficulty"], "params": task["params"]},
        }
        for name, value in files.items():
            (truth_staging / name).write_text(json.dumps(value, indent=1, default=str))
    except BaseException:
        for path in (staging, truth_staging):
            shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        freezer.stop()
        CachedDBHandler.reset(memory)
    for path in staging.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    staging.chmod(0o755)
    with contextlib.suppress(FileExistsError, OSError):
        truth_staging.rename(truth)
    with contextlib.suppress(FileExistsError, OSError):
        staging.rename(final)
    for path in (staging, truth_staging):
        shutil.rmtree(path, ignore_errors=True)
    return {"built": True}


# -- grading -------------------------------------------------------------------------------

# sqlite3 authorizer action codes that an attempt's replayed statements may not use.
_DENIED_ACTIONS = {24, 25}  # SQLITE_ATTACH, SQLITE_DETACH
_SQLITE_PRAGMA = 19
_ALLOWED_PRAGMAS = {"data_version"}  # what SQLite's full-text search asks itself
_SQLITE_FUNCTION = 31
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
_STATEMENT_HEADS = ("INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REPLACE")


def _guarded_apply(original: Callable[..., Any]) -> Callable[..., Any]:
    """AppWorld's `apply_db_changes` for untrusted changes files: size-capped, only data
    statements, and an authorizer that refuses to reach outside the in-memory database."""

    def authorize(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
        if action in _DENIED_ACTIONS:
            return sqlite3.SQLITE_DENY
        if action == _SQLITE_PRAGMA and (arg1 or "").lower() not in _ALLOWED_PRAGMAS:
            return sqlite3.SQLITE_DENY
        if action == _SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def apply(connection: sqlite3.Connection, changes_file_path: str | None) -> Any:
        if changes_file_path and os.path.exists(changes_file_path):
            if os.path.getsize(changes_file_path) > MAX_CHANGES_BYTES:
                raise ValueError(f"the end state {changes_file_path} is too large to replay")
            with open(changes_file_path) as handle:
                for line in handle:
                    if line.strip():
                        statement = json.loads(line)[0]
                        if not str(statement).lstrip().upper().startswith(_STATEMENT_HEADS):
                            raise ValueError(
                                "the end state holds a statement that is not a data change"
                            )
        connection.set_authorizer(authorize)
        try:
            return original(connection, changes_file_path)
        finally:
            connection.set_authorizer(None)

    return apply


_TABLE = re.compile(
    r"\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)"
    r"\s+[\"`\[]?(\w+)",
    re.IGNORECASE,
)


def _touched_tables(start: Path, end: Path) -> set[str] | None:
    """The tables the attempt wrote to, read off its changes file (the start's statements,
    then the attempt's); None when that file does not begin with the start's statements."""
    try:
        if end.stat().st_size > MAX_CHANGES_BYTES:
            return None
        before = [json.loads(line) for line in start.read_text().splitlines() if line.strip()]
        after = [json.loads(line) for line in end.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    if after[: len(before)] != before:
        return None
    touched = set()
    for statement, *_ in after[len(before) :]:
        found = _TABLE.match(str(statement))
        if found is None:
            return None
        touched.add(found.group(1))
    return touched


def _trusted_model_hashes(models_start: Any, models_end: Any, start: Path, end: Path) -> None:
    """The end state's model hashes (AppWorld's shortcut: an equal hash means an unchanged
    table) computed here instead of read from the attempt's `model_hashes.json`: a table
    the attempt wrote to never counts as unchanged without a record-by-record comparison."""
    from appworld.apps.model_lib import ModelHashHandler

    for app in models_end.app_names:
        touched = _touched_tables(start / f"{app}.jsonl", end / f"{app}.jsonl")
        start_hashes = ModelHashHandler.data[models_start.to_db_home_path][app]
        hashes: defaultdict[str, int] = defaultdict(lambda: -1)
        for name, model in models_end[app].SQLModel.names_and_models():
            if touched is not None and model.__tablename__ not in touched:
                hashes[name] = start_hashes[name]
        ModelHashHandler.data[models_end.to_db_home_path][app] = hashes


def evaluate(task_id: str, end: str) -> dict[str, Any]:
    """AppWorld's `evaluate_task`, with the end state read from `end` and our truth files:
    the task's `evaluate(test, public_data, private_data, main_user, models,
    ground_truth_answer)` against the start world and the attempt's end world."""
    from appworld.apps import model_lib
    from appworld.apps.api_lib import set_local_date_and_time
    from appworld.apps.model_lib import CachedDBHandler, ModelHashHandler, get_db_home_path
    from appworld.collections.models import ModelCollection, ModelCollectionPair
    from appworld.evaluator import TestTracker
    from appworld.task import Task
    from munch import munchify

    truth = TRUTH / task_id
    if not truth.is_dir() or not (Path(end) / "supervisor.jsonl").exists():
        raise FileNotFoundError(f"no task {task_id} or no end state in {end}")

    def read(name: str) -> Any:
        return json.loads((truth / name).read_text())

    task = Task.load(task_id=task_id, load_ground_truth=False)
    freezer = set_local_date_and_time(task.datetime)
    original = model_lib.apply_db_changes
    model_lib.apply_db_changes = _guarded_apply(original)
    try:
        models_start = task.model_collection
        end_memory = get_db_home_path(storage_type="memory", type="task_output", task_id=task_id)
        models_end = ModelCollection.load(
            to_db_home_path=end_memory, from_db_home_path=end, load_apps=task.allowed_apps
        )
        _trusted_model_hashes(models_start, models_end, DATA / "tasks" / task_id / "dbs", Path(end))
        models = ModelCollectionPair(
            start_db_home_path=models_start.from_db_home_path,
            start_model_collection=models_start,
            end_db_home_path=end_memory,
            end_model_collection=models_end,
        )
        main_user = models.start.admin.MainUser.find_one(**task.supervisor)
        metadata = read("metadata.json")
        # An official task (sandboxes/appworld/official.py): its own evaluation.py and tests.
        official = (truth / "evaluation.py").is_file()
        tracker = TestTracker(
            test_data=read("test_data.json") if official else None,
            difficulty=metadata["difficulty"],
            suppress_errors=True,
        )
        modules = (
            [["_appworld_evaluation", (truth / "evaluation.py").read_text()]]
            if official
            else read("modules.json")
        )
        with _loaded(modules) as module:
            module.evaluate(
                test=tracker,
                public_data=munchify(read("public_data.json")),
                private_data=munchify(read("private_data.json")),
                main_user=main_user,
                models=models,
                ground_truth_answer=read("answer.json"),
            )
        tasks = models.end.supervisor.Task.all()
        answer = None
        if tasks:
            try:
                answer = json.loads(tasks[0].answer)
            except ValueError:
                answer = tasks[0].answer
        status = tasks[0].status if tasks else None
        result = tracker.to_dict(stats_only=False)
        return dict(result, answer=answer, status=status, ground_truth_answer=read("answer.json"))
    finally:
        model_lib.apply_db_changes = original
        freezer.stop()
        task.close()
        CachedDBHandler.reset()
        ModelHashHandler.reset()


# -- the loop ------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:2000]


def serve() -> None:
    """Answer requests from stdin until it closes (the parent ended: so does this process)."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # AppWorld prints; only answers go to the parent
    sys.stdout = sys.stderr
    handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "ping": lambda request: {"pid": os.getpid()},
        "build": lambda request: build_task(request["task"]),
        "evaluate": lambda request: evaluate(request["task_id"], request["end"]),
    }
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            answer = {"ok": True, **handlers[request["cmd"]](request)}
        except Exception as exc:
            traceback.print_exc()
            answer = {"ok": False, "error": _one_line(exc)}
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


def main() -> None:
    os.chdir(ROOT)  # AppWorld reads a .env from the working directory
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "build-base":
        build_base()
    elif command == "serve":
        serve()
    else:
        sys.exit(f"usage: {sys.argv[0]} build-base|serve")


if __name__ == "__main__":
    main()
