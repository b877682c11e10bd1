"""appworld-mini: our own AppWorld tasks over the real apps (the official task data needs the
internet, which this machine does not have).

Each `Template` is a task family: an instruction with parameters, a world (a file in
`worlds/`, built with the package's factories and checked AppWorld's way: the expected
changes happened, nothing else changed, the answer matches), a gold solution in the code an
AppWorld agent writes (`apis.<app>.<api>(...)`, logging in with the supervisor's passwords)
and a wrong but plausible one. `tasks()` draws each template's parameters from a RNG seeded
by the template's name and the task's index, so the suite is the same on every machine.

Levels, counted in API calls after logging in: 1 = one or two calls; 2 = three to ten;
3 = several apps, with loops and pagination. Splits are by template: training never sees a
dev or test template.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sandboxes.appworld import AppWorldTask

WORLDS = Path(__file__).with_name("worlds")
WORLDS_PACKAGE = "benchmarks.appworld.worlds"
SPLITS = ("train", "dev", "test")
LEVELS = (1, 2, 3)
TASKS_PER_TEMPLATE = 3

# How every solution starts: the supervisor's passwords and profile, then one login per app.
LOGIN = """\
passwords = {item["account_name"]: item["password"] for item in apis.supervisor.show_account_passwords()}
profile = apis.supervisor.show_profile()
"""


def login(app: str) -> str:
    """The line that logs in to `app` (the phone app logs in with the phone number)."""
    user = "phone_number" if app == "phone" else "email"
    return (
        f'{app}_token = apis.{app}.login(username=profile["{user}"], '
        f'password=passwords["{app}"])["access_token"]\n'
    )


@dataclass(frozen=True)
class Template:
    """A task family. `instruction` is a `string.Template` over the parameters; in `gold` and
    `wrong`, `$name` becomes the parameter's Python literal (`repr`)."""

    name: str
    level: int
    split: str
    apps: tuple[str, ...]
    instruction: str
    params: Callable[[random.Random], dict[str, Any]]
    gold: str
    wrong: str

    @property
    def world(self) -> str:
        """The dotted name of the template's world module (in `worlds/`)."""
        return f"{WORLDS_PACKAGE}.{self.name.replace('-', '_')}"

    def modules(self) -> tuple[tuple[str, str], ...]:
        """The world module and the one it imports, as (name, source) for the worker."""
        return tuple((name, _source(name)) for name in (f"{WORLDS_PACKAGE}.common", self.world))


@dataclass(frozen=True)
class MiniTask:
    """One task of the suite: the environment's task, its gold and wrong solutions."""

    template: Template
    index: int
    task: AppWorldTask
    gold: str
    wrong: str

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def level(self) -> int:
        return self.template.level

    @property
    def split(self) -> str:
        return self.template.split


def _source(module: str) -> str:
    return (WORLDS / f"{module.rsplit('.', 1)[1]}.py").read_text()


def _code(text: str, params: dict[str, Any]) -> str:
    return string.Template(text).substitute({key: repr(value) for key, value in params.items()})


def make_task(template: Template, index: int) -> MiniTask:
    """Task `index` of `template`: its parameters and world seed follow from the two."""
    key = f"{template.name}/{index}"
    params = template.params(random.Random(key))
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")
    text = {key: str(value) for key, value in params.items()}
    task = AppWorldTask.make(
        f"{template.name}-{index}",
        string.Template(template.instruction).substitute(text),
        template.modules(),
        params,
        seed=seed,
        difficulty=template.level,
    )
    return MiniTask(
        template, index, task, _code(template.gold, params), _code(template.wrong, params)
    )


def tasks(split: str | None = None, per_template: int = TASKS_PER_TEMPLATE) -> list[MiniTask]:
    """The suite (or one split of it): `per_template` tasks from every template."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    return [
        make_task(template, index)
        for template in templates()
        if split is None or template.split == split
        for index in range(per_template)
    ]


@cache
def templates() -> tuple[Template, ...]:
    from benchmarks.appworld.templates import TEMPLATES

    return TEMPLATES
