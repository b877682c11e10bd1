"""notes-to-files: every note with the tag saved as ~/notes/<title>.txt holding its content
(more tagged notes than one page of search results holds); nothing else written."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me

TOPICS = (
    "Apples",
    "Bridges",
    "Castles",
    "Deserts",
    "Engines",
    "Forests",
    "Glaciers",
    "Harbors",
    "Islands",
    "Jungles",
    "Kites",
    "Lighthouses",
    "Meadows",
    "Nebulas",
    "Oceans",
    "Pyramids",
    "Quarries",
    "Rivers",
    "Satellites",
    "Tundras",
    "Volcanoes",
    "Windmills",
    "Yachts",
    "Zeppelins",
)
TAGGED = 22  # more than the 20 a page holds at most


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    notes_user = world.account("simple_note")
    files_user = world.account("file_system")
    home = f"/home/{files_user.first_name.lower()}/"
    for path in ("/", "/home/", home, home + "notes/", home + "documents/"):
        world.make(
            "file_system",
            "Directory",
            user_id=files_user.id,
            path=path,
            created_at=world.now,
            updated_at=world.now,
        )
    world.make(
        "file_system",
        "File",
        user_id=files_user.id,
        path=home + "documents/todo.txt",
        content="water the plants",
        created_at=world.now,
        updated_at=world.now,
    )
    expected = {}
    for index, topic in enumerate(world.rng.sample(TOPICS, TAGGED + 2)):
        tags = [params["tag"]] if index < TAGGED else ["misc"]
        title = f"{topic} {params['tag'].title()}" if index < TAGGED else f"{topic} Misc"
        content = f"Facts about {topic.lower()}: {world.rng.randint(2, 99)} of them."
        world.make(
            "simple_note", "Note", user_id=notes_user.id, title=title, content=content, tags=tags
        )
        if index < TAGGED:
            expected[f"{home}notes/{title}.txt"] = content
    return {"public": {"files": expected}, "answer": None}


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    added, updated, removed = models.changed_records("file_system.File")
    with test("one file per tagged note, at ~/notes/<title>.txt, and no other file"):
        test.case(sorted(file.path for file in added), "==", sorted(public_data.files))
        test.case(len(updated) + len(removed), "==", 0)
    with test("each file holds its note's content"):
        for file in added:
            test.case(file.content, "==", public_data.files.get(file.path))
    check_changed_only(test, models, {"file_system.File"})
    check_answer(test, models, ground_truth_answer)
