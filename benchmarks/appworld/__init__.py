"""appworld-mini: 45 tasks (15 templates x 3) over AppWorld's real apps, with gold and wrong
solutions and AppWorld-style state checks. See `suite.py` and README.md.

    from benchmarks.appworld import tasks
    from sandboxes.appworld import AppWorldEnv

    with AppWorldEnv() as env:
        for mini in tasks("dev"):
            env.reset(mini.task)
            env.execute(mini.gold)
            assert env.evaluate().success
"""

from benchmarks.appworld.suite import (
    LEVELS,
    SPLITS,
    TASKS_PER_TEMPLATE,
    MiniTask,
    Template,
    make_task,
    tasks,
    templates,
)

__all__ = [
    "LEVELS",
    "SPLITS",
    "TASKS_PER_TEMPLATE",
    "MiniTask",
    "Template",
    "make_task",
    "tasks",
    "templates",
]
