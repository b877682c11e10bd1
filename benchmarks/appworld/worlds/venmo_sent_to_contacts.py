"""venmo-sent-to-contacts: a question: the total I sent on Venmo to my phone contacts with
the relationship (more transactions than one page holds; money received does not count)."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me, people_many

OTHER = ("neighbor", "classmate")


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    from appworld.common.datetime import DateTime

    me(world)
    phone = world.account("phone")
    mine = world.account("venmo", venmo_balance=500.0)
    everyone = people_many(world, 10)
    relevant, others = everyone[:4], everyone[4:]
    emails, users = set(), {}
    for index, person in enumerate(everyone):
        relationships = [params["relationship"]] if index < 4 else [OTHER[index % 2]]
        if index < 8:  # two people are not in the contacts at all
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
        if index < 4:
            emails.add(person["email"])
        users[person["email"]] = world.user("venmo", venmo_balance=80.0, **person)
    # 26 payments I sent, relevant ones among the first and the last six; 4 I received
    receivers = [relevant[i % 4] if i % 3 == 0 else others[i % 6] for i in range(26)]
    receivers[1], receivers[24] = relevant[1], relevant[2]
    total = 0.0
    for index, person in enumerate(receivers):
        amount = world.rng.randint(500, 9000) / 100
        world.make(
            "venmo",
            "Transaction",
            sender_id=mine.id,
            receiver_id=users[person["email"]].id,
            amount=amount,
            description="Thanks!",
            private=False,
            like_count=0,
            created_at=DateTime(2023, 4, 1).add(hours=7 * index),
            payment_card_digits=None,
        )
        if person["email"] in emails:
            total += amount
    for index, person in enumerate(relevant):
        world.make(
            "venmo",
            "Transaction",
            sender_id=users[person["email"]].id,
            receiver_id=mine.id,
            amount=world.rng.randint(500, 9000) / 100,
            description="Back to you",
            private=False,
            like_count=0,
            created_at=DateTime(2023, 5, 1).add(hours=index),
            payment_card_digits=None,
        )
    return {"answer": round(total, 2)}


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
