"""phone-text-contacts: one text to each contact with the relationship (also those with
other relationships besides it), to nobody else."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me, people

OTHER = ("friend", "neighbor", "classmate", "family", "coworker")


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    mine = world.account("phone")
    rel = params["relationship"]
    others = [other for other in OTHER if other != rel]
    plan = [[rel], [rel], [rel], [others[0], rel], [others[0]], [others[1]], [others[2]]]
    expected = []
    for person, relationships in zip(
        people(world, len(plan)), world.rng.sample(plan, len(plan)), strict=True
    ):
        user = world.user("phone", **person)
        world.make(
            "phone",
            "Contact",
            user_id=mine.id,
            first_name=person["first_name"],
            last_name=person["last_name"],
            email=person["email"],
            phone_number=person["phone_number"],
            relationships=relationships,
        )
        if rel in relationships:
            expected.append(user.id)
    return {
        "public": {"me": mine.id, "receivers": sorted(expected), "message": params["message"]},
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
    added, updated, removed = models.changed_records("phone.GlobalTextMessage")
    with test("one text from me to each contact with the relationship, and no other"):
        test.case(
            sorted(message.receiver_id for message in added), "==", list(public_data.receivers)
        )
        test.case({message.sender_id for message in added}, "==", {public_data.me})
    with test("every text says the message"):
        test.case({message.message for message in added}, "==", {public_data.message})
    with test("no earlier text changed or went away"):
        test.case(len(updated) + len(removed), "==", 0)
    check_changed_only(test, models, {"phone.GlobalTextMessage", "phone.UserTextMessage"})
    check_answer(test, models, ground_truth_answer)
