"""simple-note-tag: a tag added to every note whose title holds the word; their other tags
kept; a note with the word in its text only, and the others, untouched."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me

TAGS = ("home", "work", "ideas", "family", "travel", "health")


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    user = world.account("simple_note")
    word = params["word"]
    titles = [f"{word} checklist", f"Notes on the {word.lower()}", f"Old {word} plans"]
    others = ["Grocery list", "Meeting notes", "Reading list"]
    expected = {}
    for title in world.rng.sample(titles + others, len(titles + others)):
        tags = world.rng.sample(
            [tag for tag in TAGS if tag != params["tag"]], world.rng.randint(1, 2)
        )
        note = world.make(
            "simple_note",
            "Note",
            user_id=user.id,
            title=title,
            tags=tags,
            content=f"Some thoughts about the {word.lower()}."
            if title == "Meeting notes"
            else "...",
        )
        if title in titles:
            expected[str(note.id)] = [*tags, params["tag"]]
    return {"public": {"tags": expected}, "answer": None}


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    added, updated, removed = models.changed_records("simple_note.Note")
    with test("exactly the notes whose title holds the word were updated"):
        test.case(sorted(str(note.id) for note in updated), "==", sorted(public_data.tags))
        test.case(len(added) + len(removed), "==", 0)
    with test("each keeps its tags and has the new one"):
        for note in updated:
            test.case(sorted(note.tags), "==", sorted(public_data.tags[str(note.id)]))
    check_changed_only(test, models, {"simple_note.Note"})
    check_answer(test, models, ground_truth_answer)
