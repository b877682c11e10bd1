"""phone-venmo-request: a Venmo payment request to every phone contact with the relationship
(more of them than one page of search results holds), to nobody else."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me, people_many

OTHER = ("neighbor", "classmate", "gym buddy")
MATCHING = 22  # more than the 20 a page holds at most


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    phone = world.account("phone")
    mine = world.account("venmo", venmo_balance=300.0)
    everyone = people_many(world, MATCHING + 4)
    plan = [[params["relationship"]]] * (MATCHING - 2) + [[OTHER[0], params["relationship"]]] * 2
    plan += [[OTHER[index % 3]] for index in range(4)]
    expected = []
    for person, relationships in zip(everyone, world.rng.sample(plan, len(plan)), strict=True):
        user = world.user("venmo", venmo_balance=50.0, **person)
        world.make(
            "phone",
            "Contact",
            user_id=phone.id,
            first_name=person["first_name"],
            last_name=person["last_name"],
            email=person["email"],
            phone_number=person["phone_number"],
            relationships=relationships,
        )
        if params["relationship"] in relationships:
            expected.append(user.id)
    return {
        "public": {
            "me": mine.id,
            "receivers": sorted(expected),
            "amount": params["amount"],
            "description": params["description"],
        },
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
    added, updated, removed = models.changed_records("venmo.PaymentRequest")
    with test("one request from me to each contact with the relationship, and to no one else"):
        test.case(
            sorted(request.receiver_id for request in added), "==", list(public_data.receivers)
        )
        test.case({request.sender_id for request in added}, "==", {public_data.me})
    with test("every request is for the amount, with the description"):
        test.case({request.amount for request in added}, "==", {public_data.amount})
        test.case({request.description for request in added}, "==", {public_data.description})
    with test("no earlier request changed or went away"):
        test.case(len(updated) + len(removed), "==", 0)
    check_changed_only(test, models, {"venmo.PaymentRequest", "venmo.Notification"})
    check_answer(test, models, ground_truth_answer)
