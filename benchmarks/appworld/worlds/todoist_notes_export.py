"""todoist-notes-export: one note per unfinished task of the project (title: the task's
title; content: its description), none for finished ones or other projects."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me

TASKS = (
    ("Book flights", "Compare prices for the 12th and the 14th."),
    ("Renew passport", "Photos are in the top drawer."),
    ("Reserve hotel", "Something close to the old town."),
    ("Buy adapters", "Two of the European kind."),
    ("Plan day trips", "The coast, and the vineyards if there is time."),
    ("Notify the bank", "Travel notice for both cards."),
    ("Arrange pet sitter", "Ask Jo first, then the agency."),
)
OTHER_PROJECTS = ("Errands", "Work", "Reading", "Fitness", "Garden", "Finances", "Car")


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    user = world.account("todoist")
    world.account("simple_note")
    names = [*OTHER_PROJECTS[:3], params["project"], *OTHER_PROJECTS[3:]]
    expected = {}
    for name in names:
        project = world.make("todoist", "Project", user_id=user.id, name=name, is_inbox=False)
        world.make("todoist", "ProjectCollaboratorLink", project_id=project.id, user_id=user.id)
        if name == params["project"]:
            chosen = world.rng.sample(TASKS, params["open"] + 2)
            done = {title for title, _ in chosen[:2]}
        else:
            chosen, done = world.rng.sample(TASKS, 2), set()
        for index, (title, description) in enumerate(chosen):
            world.make(
                "todoist",
                "Task",
                project_id=project.id,
                user_id=user.id,
                title=title,
                description=description,
                is_completed=title in done,
                order_index=index,
                section_id=None,
                assignee_id=None,
                assigner_id=None,
            )
            if name == params["project"] and title not in done:
                expected[title] = description
    return {"public": {"notes": expected}, "answer": None}


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    added, updated, removed = models.changed_records("simple_note.Note")
    with test("one note per unfinished task of the project, and no other note"):
        test.case(sorted(note.title for note in added), "==", sorted(public_data.notes))
        test.case(len(updated) + len(removed), "==", 0)
    with test("each note holds its task's description"):
        for note in added:
            test.case(note.content.strip(), "==", public_data.notes.get(note.title))
    check_changed_only(test, models, {"simple_note.Note"})
    check_answer(test, models, ground_truth_answer)
