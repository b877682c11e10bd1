"""todoist-complete-due: the project's unfinished tasks due strictly before the date are
marked complete; the one due on the date, the others and other projects stay as they were."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me

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
    from appworld.common.datetime import DateTime

    me(world)
    user = world.account("todoist")
    cutoff = DateTime.fromisoformat(params["date"] + "T00:00:00")
    project = world.make(
        "todoist", "Project", user_id=user.id, name=params["project"], is_inbox=False
    )
    other = world.make("todoist", "Project", user_id=user.id, name="Errands", is_inbox=False)
    for each in (project, other):
        world.make("todoist", "ProjectCollaboratorLink", project_id=each.id, user_id=user.id)
    # (days from the cutoff, completed): before it, on it, after it, done already, undated
    plan = [
        (-4, False),
        (-2, False),
        (-1, False),
        (0, False),
        (2, False),
        (-3, True),
        (None, False),
    ]
    expected = []
    for index, (days, completed) in enumerate(world.rng.sample(plan, len(plan))):
        due = None if days is None else cutoff.add(days=days, hours=world.rng.randint(9, 17))
        task = world.make(
            "todoist",
            "Task",
            project_id=project.id,
            user_id=user.id,
            title=TITLES[index],
            is_completed=completed,
            due_date=due,
            order_index=index,
            section_id=None,
            assignee_id=None,
            assigner_id=None,
        )
        if days is not None and days < 0 and not completed:
            expected.append(task.id)
    for index in range(3):
        world.make(
            "todoist",
            "Task",
            project_id=other.id,
            user_id=user.id,
            title=TITLES[7 + index],
            is_completed=False,
            due_date=cutoff.add(days=-5),
            order_index=index,
            section_id=None,
            assignee_id=None,
            assigner_id=None,
        )
    return {"public": {"task_ids": sorted(expected)}, "answer": None}


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    added, updated, removed = models.changed_records("todoist.Task")
    with test("exactly the project's unfinished tasks due before the date were updated"):
        test.case(sorted(task.id for task in updated), "==", list(public_data.task_ids))
        test.case(len(added) + len(removed), "==", 0)
    with test("they are marked complete, and nothing else about them changed"):
        for task in updated:
            test.case(task.is_completed, "==", True)
            test.case(models.changed_field_names("todoist.Task", task.id), "==", {"is_completed"})
    check_changed_only(test, models, {"todoist.Task"})
    check_answer(test, models, ground_truth_answer)
