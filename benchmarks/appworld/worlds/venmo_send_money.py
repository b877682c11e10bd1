"""venmo-send-money: two payments (not payment requests) to two friends, with the note."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, email_of, me, people


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    mine = world.account("venmo", venmo_balance=2500.0)
    payees = [
        {"first_name": params["first1"], "last_name": params["last1"]},
        {"first_name": params["first2"], "last_name": params["last2"]},
    ]
    for person in payees:
        person["email"] = email_of(person["first_name"], person["last_name"])
    avoid = (params["first1"], params["first2"])
    friends = payees + people(world, 3, avoid)
    users = []
    for person in friends:
        user = world.user("venmo", venmo_balance=float(world.rng.randint(20, 900)), **person)
        world.make("venmo", "Friendship", user_id=mine.id, friend_id=user.id)
        world.make("venmo", "Friendship", user_id=user.id, friend_id=mine.id)
        users.append(user)
    return {
        "public": {
            "me": mine.id,
            "payments": sorted(
                [[users[0].id, params["amount1"]], [users[1].id, params["amount2"]]]
            ),
            "note": params["note"],
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
    added, updated, removed = models.changed_records("venmo.Transaction")
    with test("two payments from me: the asked amounts to the asked friends"):
        test.case(
            sorted([record.receiver_id, record.amount] for record in added),
            "==",
            [list(payment) for payment in public_data.payments],
        )
        test.case({record.sender_id for record in added}, "==", {public_data.me})
    with test("both payments carry the note"):
        test.case({record.description for record in added}, "==", {public_data.note})
    with test("no earlier transaction changed"):
        test.case(len(updated) + len(removed), "==", 0)
    check_changed_only(test, models, {"venmo.Transaction", "venmo.User", "venmo.Notification"})
    check_answer(test, models, ground_truth_answer)
