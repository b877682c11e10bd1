"""The agent's side of an AppWorld task: the prompt, the code a completion carries, and the
observation that goes back. Shared by the ReAct agent (`agents/graphs/appworld.py`) and
LOOP's rollouts, so both speak to the world the same way.

    messages = first_messages(instruction, supervisor="Ann Lee (ann@example.com)")
    code = extract_code(completion)                # the first ```python block, or None
    observation = env.execute(code)                # run where AppWorld runs it
    messages += [{"role": "assistant", "content": completion}, observation_message(observation)]

Messages are plain `{"role": ..., "content": ...}` dicts (sandboxes do not import
agents.llm). The APIs named in the prompt are the ones appworld 0.1.3.post1 defines: the
`api_docs` app (`show_app_descriptions`, `show_api_descriptions(app_name)`,
`show_api_doc(app_name, api_name)`) and the `supervisor` app (`show_account_passwords`,
`show_profile`, `complete_task(answer=..., status=...)`).
"""

from __future__ import annotations

import re

SYSTEM_PROMPT = """\
You are an agent that completes tasks for a user (your supervisor) in a world of apps \
(spotify, gmail, venmo, splitwise, simple_note, todoist, amazon, file_system, phone). \
You act by writing Python. Every turn, write exactly one ```python code block; it runs \
in a persistent interpreter (variables stay defined between turns) and what it prints \
comes back to you. Print what you need to see.

In that interpreter, the object `apis` calls the apps: `apis.<app>.<api>(...)`, with \
keyword arguments, e.g. `apis.spotify.show_song(song_id=12)`.
- Which apps exist: `print(apis.api_docs.show_app_descriptions())`
- Which APIs an app has: `print(apis.api_docs.show_api_descriptions(app_name="spotify"))`
- One API's parameters and response: \
`print(apis.api_docs.show_api_doc(app_name="spotify", api_name="login"))`
Read an API's doc before calling it for the first time.

Most apps need a login: get your passwords with \
`apis.supervisor.show_account_passwords()`, then call `apis.<app>.login(username=<your \
email or phone number, as the app's doc says>, password=...)` and pass the \
`access_token` it returns to the app's other APIs. Your own details: \
`apis.supervisor.show_profile()`. Lists come in pages (`page_index`, `page_limit`): \
loop until a page comes back empty.

Change only what the task asks for; anything else changed in the apps fails the task. \
When the task is done, call `apis.supervisor.complete_task()`; if the task asks a \
question, pass the answer alone, as briefly as possible (a number, a name, yes/no): \
`apis.supervisor.complete_task(answer=42)`. That call ends the task.
"""

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
TRUNCATED = "\n[... {dropped} characters omitted ...]\n"


def first_messages(
    instruction: str, supervisor: str = "", demo: str | None = None
) -> list[dict[str, str]]:
    """The system and user messages that open a task: `supervisor` names the user the agent
    acts for; `demo` (e.g. `demonstration(...)` of a solved train task) comes first."""
    parts = []
    if demo:
        parts.append(f"Here is an example of a task solved well:\n\n{demo.strip()}\n\nNow yours.")
    if supervisor:
        parts.append(f"I am your supervisor: {supervisor.strip()}.")
    parts.append(f"Task: {instruction.strip()}")
    parts.append("Write your first ```python code block.")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def extract_code(completion: str) -> str | None:
    """The code of the first fenced Python block of `completion` (a fence without a language
    counts; an unclosed last fence runs to the end), or None when there is none or it is
    empty."""
    found = _FENCE.search(completion)
    if found is None:
        return None
    code = found.group(1).strip("\n")
    return code if code.strip() else None


def truncate(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters: its head and tail, with a marker between."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    dropped = len(text) - head - tail
    return text[:head] + TRUNCATED.format(dropped=dropped) + (text[-tail:] if tail else "")


def observation_message(output: str, limit: int = 3000) -> dict[str, str]:
    """The execution's output as the next user message (cut to `limit` characters)."""
    shown = truncate(output, limit) if output.strip() else "(no output; print what you need)"
    return {"role": "user", "content": f"Output:\n```\n{shown}\n```"}


NO_CODE = (
    "Your answer had no ```python code block, so nothing ran. Write exactly one ```python "
    "block; end the task with apis.supervisor.complete_task()."
)


def no_code_message() -> dict[str, str]:
    """The corrective observation for a completion without a code block."""
    return {"role": "user", "content": NO_CODE}


def demonstration(instruction: str, code: str) -> str:
    """A solved example as text for `first_messages(demo=...)`: the task and its code."""
    return f"Task: {instruction.strip()}\n\n```python\n{code.strip()}\n```"


def completes_task(code: str) -> bool:
    """Whether `code` mentions the completion call (a hint only: the world tells for sure)."""
    return "complete_task" in code
