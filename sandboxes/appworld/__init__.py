"""AppWorld (Trivedi et al., 2024) as an environment: its nine apps, driven by an agent's
Python through AppWorld's own `apis` object, in AppWorld's own venv.

    from sandboxes.appworld import AppWorldEnv, AppWorldTask

    with AppWorldEnv() as env:
        instruction = env.reset(task)     # a fresh world for `task` (an `AppWorldTask`)
        observation = env.execute(code)   # the agent's code, run by AppWorld.execute
        result = env.evaluate()           # the task's state-based checks (AppWorldResult)

`ensure_appworld()` builds the venv (once per machine, a few minutes; cached under
`$AGENTS_SEARCH_CACHE/appworld/`). See `env.py` (the protocol, the security model),
`processes.py` (the executor and the worker) and `install.py` (the build).
"""

from sandboxes.appworld.env import (
    DEFAULT_LIMITS,
    AppWorldEnv,
    AppWorldError,
    AppWorldResult,
    AppWorldTask,
    prepare_tasks,
)
from sandboxes.appworld.install import APPWORLD_VERSION, Installation, ensure_appworld

__all__ = [
    "APPWORLD_VERSION",
    "DEFAULT_LIMITS",
    "AppWorldEnv",
    "AppWorldError",
    "AppWorldResult",
    "AppWorldTask",
    "Installation",
    "ensure_appworld",
    "prepare_tasks",
]
