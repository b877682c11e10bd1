"""phone-alarm: one alarm at the asked (24-hour) time with the asked label."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    user = world.account("phone")
    for time, label in (("06:30", "Wake up"), ("07:15", "Gym"), ("22:45", "Bedtime")):
        world.make(
            "phone",
            "Alarm",
            user_id=user.id,
            time=time,
            label=label,
            enabled=True,
            repeat_days=["monday", "tuesday", "wednesday", "thursday", "friday"],
        )
    return {"public": {"time": params["time"], "label": params["label"]}, "answer": None}


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    added, updated, removed = models.changed_records("phone.Alarm")
    with test("exactly one alarm was added; none changed or removed"):
        test.case(len(added), "==", 1)
        test.case(len(updated) + len(removed), "==", 0)
    with test("the alarm rings at the asked time, with the asked label, and is on"):
        alarm = added[0]
        test.case(alarm.time, "==", public_data.time)
        test.case(alarm.label, "==", public_data.label)
        test.case(alarm.enabled, "==", True)
    check_changed_only(test, models, {"phone.Alarm"})
    check_answer(test, models, ground_truth_answer)
