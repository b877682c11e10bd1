"""todoist-open-tasks: a question; the answer counts the project's unfinished tasks only."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me

OTHER_PROJECTS = ("Home Renovation", "Conference Prep", "Garden Season", "Tax Return", "Moving Out")
TITLES = (
    "Call the contractor",
    "Book the venue",
    "Order supplies",
    "Compare quotes",
    "Sign the form",
    "Pay the deposit",
    "Print the badges",
    "Buy seeds",
    "Collect receipts",
    "Pack the kitchen",
)


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    user = world.account("todoist")
    others = [name for name in OTHER_PROJECTS if name != params["project"]]
    names = [params["project"], *others[:2]]
    for name in world.rng.sample(names, len(names)):
        project = world.make("todoist", "Project", user_id=user.id, name=name, is_inbox=False)
        world.make("todoist", "ProjectCollaboratorLink", project_id=project.id, user_id=user.id)
        if name == params["project"]:
            open_, done = params["open"], params["done"]
        else:
            open_, done = world.rng.randint(1, 4), world.rng.randint(0, 3)
        flags = [False] * open_ + [True] * done
        for index, completed in enumerate(world.rng.sample(flags, len(flags))):
            world.make(
                "todoist",
                "Task",
                project_id=project.id,
                user_id=user.id,
                title=world.rng.choice(TITLES),
                is_completed=completed,
                order_index=index,
                section_id=None,
                assignee_id=None,
                assigner_id=None,
            )
    return {"answer": params["open"]}


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    check_changed_only(test, models, set())
    check_answer(test, models, ground_truth_answer)
