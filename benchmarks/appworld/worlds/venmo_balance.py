"""venmo-balance: a question; the answer is the balance, and nothing may change."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me, people


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    world.account("venmo", venmo_balance=params["balance"])
    for person in people(world, 3):
        world.user("venmo", venmo_balance=float(world.rng.randint(20, 900)), **person)
    return {"answer": params["balance"]}


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
