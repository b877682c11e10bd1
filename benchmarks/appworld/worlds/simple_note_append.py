"""simple-note-append: one line appended to one note (not prepended, no other note touched)."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me

OTHER_TITLES = ("Packing List", "Book Ideas", "Garden Plan", "Recipes To Try", "Weekly Goals")
LINES = (
    "Check the tyre pressure",
    "Ask about the warranty",
    "Pick up the dry cleaning",
    "Plan the menu",
)


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    user = world.account("simple_note")
    target = None
    titles = [params["title"], params["title"] + " (old)"]
    titles += [title for title in OTHER_TITLES if title != params["title"]][:3]
    for title in world.rng.sample(titles, len(titles)):
        lines = world.rng.sample(LINES, 2)
        note = world.make(
            "simple_note", "Note", user_id=user.id, title=title, content="\n".join(lines), tags=[]
        )
        if title == params["title"]:
            target = note
    assert target is not None
    return {
        "public": {"note_id": target.id, "line": params["line"]},
        "private": {"content": target.content},
        "answer": None,
    }


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    added, updated, removed = models.changed_records("simple_note.Note")
    with test("only the asked note was updated; none added or removed"):
        test.case([note.id for note in updated], "==", [public_data.note_id])
        test.case(len(added) + len(removed), "==", 0)
    with test("the line was added at the end, the old content kept before it"):
        test.case(updated[0].content, "==", private_data.content + "\n" + public_data.line)
    check_changed_only(test, models, {"simple_note.Note"})
    check_answer(test, models, ground_truth_answer)
