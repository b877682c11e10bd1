"""What every appworld-mini world shares. Runs inside AppWorld's venv, in the namespace of
each world (this source first, then the world's own): never imported by the project.

A world's `build(world, params)` fills the databases (`world` is `_worker.World`: a seeded
RNG, `make(app, model, **fields)` with the package's factories, the supervisor and their
accounts); its `evaluate(test, public_data, private_data, main_user, models,
ground_truth_answer)` checks the end state AppWorld's way: `models.changed_records(...)`,
`models.changed_model_names()`, `test.answer(...)`.
"""

import json
from typing import Any

FIRST_NAMES = tuple(
    [
        "Avery",
        "Blake",
        "Carmen",
        "Dario",
        "Elena",
        "Farid",
        "Greta",
        "Hiro",
        "Imani",
        "Jonas",
        "Kira",
        "Luca",
        "Mira",
        "Nadia",
        "Omar",
        "Priya",
        "Quinn",
        "Rosa",
        "Soren",
        "Talia",
        "Umar",
        "Vera",
        "Wes",
        "Xenia",
        "Yusuf",
        "Zora",
    ]
)
LAST_NAMES = tuple(
    [
        "Abbott",
        "Banerjee",
        "Castillo",
        "Dubois",
        "Eriksen",
        "Fujita",
        "Grant",
        "Hoffman",
        "Ibarra",
        "Jensen",
        "Kowalski",
        "Lindqvist",
        "Moreau",
        "Novak",
        "Okafor",
        "Petrov",
        "Quintero",
        "Rossi",
        "Schneider",
        "Takahashi",
        "Uddin",
        "Varga",
        "Weiss",
        "Young",
    ]
)
SUPERVISORS = (
    ("Nora", "Whitfield"),
    ("Malik", "Okonjo"),
    ("Ingrid", "Halvorsen"),
    ("Tomas", "Ferreira"),
    ("Leah", "Goldberg"),
    ("Rafael", "Moreno"),
    ("Yuki", "Sato"),
    ("Amara", "Diallo"),
)


def email_of(first_name: str, last_name: str) -> str:
    return f"{first_name}.{last_name}@gmail.com".lower()


def phone_of(world: Any) -> str:
    return "".join(str(world.rng.randint(0, 9)) for _ in range(10)).replace("0", "5", 1)


def me(world: Any) -> Any:
    """The supervisor: the person the agent acts for (a name drawn by the world's RNG)."""
    first_name, last_name = world.rng.choice(SUPERVISORS)
    return world.supervisor(first_name, last_name, email_of(first_name, last_name), phone_of(world))


def people(world: Any, count: int, avoid: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """`count` other people, first names distinct and not in `avoid`, with emails and phones."""
    firsts = world.rng.sample([name for name in FIRST_NAMES if name not in avoid], count)
    return [
        {
            "first_name": first_name,
            "last_name": last_name,
            "email": email_of(first_name, last_name),
            "phone_number": phone_of(world),
        }
        for first_name, last_name in zip(firsts, world.rng.sample(LAST_NAMES, count), strict=True)
    ]


def people_many(world: Any, count: int) -> list[dict[str, str]]:
    """`count` other people with distinct full names (first names may repeat)."""
    names = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    return [
        {
            "first_name": first_name,
            "last_name": last_name,
            "email": email_of(first_name, last_name),
            "phone_number": phone_of(world),
        }
        for first_name, last_name in world.rng.sample(names, count)
    ]


def given_answer(models: Any) -> Any:
    """What the agent passed to `apis.supervisor.complete_task(answer=...)`."""
    tasks = models.end.supervisor.Task.all()
    return json.loads(tasks[0].answer) if tasks else None


def check_answer(test: Any, models: Any, ground_truth_answer: Any) -> None:
    """The task was marked complete, with the right answer (None for tasks that ask for none)."""
    with test("the task is marked complete with the right answer (none if none is asked for)"):
        test.answer(given_answer(models), ground_truth_answer)


def check_changed_only(test: Any, models: Any, expected: set[str]) -> None:
    """Collateral damage fails the task: no table changed but the expected ones."""
    changed = ", ".join(sorted(expected)) or "nothing"
    with test(f"no data changed beyond the task's ({changed})"):
        test.case(models.changed_model_names(), "==", set(expected))
