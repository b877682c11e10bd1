"""The noisy oracle's bash dialect: it drives mini-swe-agent (text-based actions).

    agents serve -m "oracle:swe,p=0.7,q=0.1,seed=0" --served-name oracle --port 8000
    python -m benchmarks.mini_swe.run --model "oracle:swe,p=0.7,q=0.1,seed=0"

mini-swe-agent (2.x, its `swebench_backticks.yaml` config with the `litellm_textbased`
model) sends a system message that asks for exactly one fenced ```` ```mswea_bash_command ````
block, then the task message with the issue in `<pr_description>`, then after each command
an observation `<returncode>N</returncode><output>...</output>` (or a format error). The
oracle (benchmarks/swe_bench/noisy_oracle.py) answers that prompt with the same plan and
the same p semantics as for our agents, each of its actions rendered as ONE shell command:

- view_file -> `sed -n 'A,Bp' FILE` (fails with exit 2 when FILE does not exist);
- str_replace -> a `python3 - <<'ORACLE_EOF'` script that replaces the exact old text,
  which must occur once in the file, else it exits 1 and changes nothing;
- create_file -> `mkdir -p DIR && cat <<'ORACLE_EOF' > FILE`;
- finish -> mini's submission: `git diff` of the work tree (new files included) into
  patch.txt, then `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt` (mini's
  LocalEnvironment submits when the output's first line is that marker and exit 0).

State: as in the other dialect, each answer ends its THOUGHT with the state tag `[oracle
s=STEP st=REGIONS/VIEWED]` of the repository before its command. The next answer finds
the last tagged answer, recognises its command among the actions the oracle could have
taken from that state (it renders each and compares), and applies it unless the next
message reports a failure (a returncode other than 0, an exception, a format error). mini
keeps the whole conversation, so the state is always known.

Determinism: each sample's randomness is a hash of (seed, instance id, "bash", steps so
far, sample index, temperature, the conversation after the task message: the task may
name the work directory, which must not change the answers).
"""

from __future__ import annotations

import random
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agents.llm import LLMError
from agents.swe.actions import Action

if TYPE_CHECKING:
    from benchmarks.swe_bench.noisy_oracle import GoldScript, NoisySweOracle, OracleState

BLOCK = "mswea_bash_command"
"""The fence language of mini-swe-agent 2.x's text-based action regex."""
SUBMIT = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
PATCH_FILE = "patch.txt"
"""Where mini's swebench config has the agent write its patch before submitting."""
DELIMITER = "ORACLE_EOF"
TASK_OPEN = "<pr_description>"
_FENCE = re.compile(r"```" + BLOCK + r"\s*\n(.*?)\n```", re.DOTALL)
_RETURNCODE = re.compile(r"<returncode>(-?\d+)</returncode>")
VIEW_LINES = 100


# ---------------------------------------------------------------- recognition


def is_bash_prompt(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Whether this is mini-swe-agent's text-based prompt: a system message that asks for
    a ```mswea_bash_command block, and a task message after it."""
    if len(messages) < 2 or messages[0].get("role") != "system":
        return False
    return "```" + BLOCK in str(messages[0].get("content") or "")


def task_index(messages: Sequence[Mapping[str, Any]]) -> int:
    """The index of the task message (the first user message after the system one)."""
    for k, m in enumerate(messages):
        if k and m.get("role") == "user":
            return k
    raise LLMError("mini-swe-agent's prompt has no task message")


def instance_of(oracle: NoisySweOracle, messages: Sequence[Mapping[str, Any]]) -> str:
    """The instance whose problem statement the task message quotes (the longest match)."""
    content = str(messages[task_index(messages)].get("content") or "")
    task = content.split(TASK_OPEN, 1)[1] if TASK_OPEN in content else content
    found = [iid for iid, text in oracle._issues.items() if text and text in task]
    if not found:
        raise LLMError(f"{oracle.name}: the task quotes no issue of a known instance")
    return max(found, key=lambda iid: (len(oracle._issues[iid]), iid))


def steps_so_far(messages: Sequence[Mapping[str, Any]]) -> int:
    """The assistant turns after the task message."""
    start = task_index(messages)
    return sum(1 for m in messages[start:] if m.get("role") == "assistant")


def failed(observation: str) -> bool:
    """Whether mini's message after a command says it failed: a non-zero returncode, an
    exception, or no returncode at all (a format error: the command did not run)."""
    m = _RETURNCODE.search(observation)
    return m is None or int(m.group(1)) != 0 or "<exception>" in observation


def command_of(text: str) -> str | None:
    """The one bash command of an answer, as mini's regex extracts it."""
    found = [c.strip() for c in _FENCE.findall(text)]
    return found[0] if len(found) == 1 else None


# ------------------------------------------------------------------ rendering


def _delimiter(text: str) -> str:
    """A here-document delimiter that is no line of `text`."""
    lines = set(text.splitlines())
    k, word = 0, DELIMITER
    while word in lines:
        k += 1
        word = f"{DELIMITER}_{k}"
    return word


def _python(script: str) -> str:
    word = _delimiter(script)
    return f"python3 - <<'{word}'\n{script}\n{word}"


def render(action: Action) -> str:
    """One oracle action as one shell command (module docstring)."""
    path = str(action.arg("path", ""))
    if action.tool == "view_file":
        start = int(action.arg("start", 1))
        end = int(action.arg("end", start + VIEW_LINES - 1))
        return f"sed -n '{start},{end}p' {shlex.quote(path)}"
    if action.tool == "str_replace":
        old, new = str(action.arg("old")), str(action.arg("new"))
        return _python(
            "import pathlib, sys\n"
            f"path = pathlib.Path({path!r})\n"
            f"old = {old!r}\n"
            f"new = {new!r}\n"
            "with open(path, encoding='utf-8', newline='') as f:\n"
            "    text = f.read()\n"
            "n = text.count(old)\n"
            "if n != 1:\n"
            "    sys.exit(f'str_replace: the old text occurs {n} times in {path}, not once')\n"
            "with open(path, 'w', encoding='utf-8', newline='') as f:\n"
            "    f.write(text.replace(old, new, 1))\n"
            "print(f'edited {path}')"
        )
    if action.tool == "create_file":
        content = str(action.arg("content", "")).rstrip("\n") + "\n"
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        mkdir = f"mkdir -p {shlex.quote(parent)} && " if parent else ""
        if "\n```" in "\n" + content:  # a fence in the file would end mini's block early
            return _python(
                "import pathlib\n"
                f"path = pathlib.Path({path!r})\n"
                "path.parent.mkdir(parents=True, exist_ok=True)\n"
                f"path.write_text({content!r}, encoding='utf-8')\n"
                "print(f'created {path}')"
            )
        word = _delimiter(content)
        return f"{mkdir}cat <<'{word}' > {shlex.quote(path)}\n{content}{word}"
    if action.tool == "finish":
        return (
            f"git add -N . && git diff --no-color HEAD -- . ':(exclude){PATCH_FILE}' ':(exclude)*.pyc' "
            f"> {PATCH_FILE} && echo {SUBMIT} && cat {PATCH_FILE}"
        )
    raise LLMError(f"the bash dialect cannot render {action.tool}")


def format_answer(action: Action) -> str:
    return f"THOUGHT: {action.thought}\n\n```{BLOCK}\n{render(action)}\n```"


# -------------------------------------------------------------------- answers


def _candidates(script: GoldScript, state: OracleState) -> list[Action]:
    out = [script.correct(state)]
    for actions in script.wrong(state).values():
        out.extend(actions)
    return out


def state_of(script: GoldScript, messages: Sequence[Mapping[str, Any]]) -> OracleState:
    """The repository's state now: the last tagged answer's state, advanced by its command
    unless the message after it says that the command failed."""
    from benchmarks.swe_bench.noisy_oracle import last_tagged

    found = last_tagged(script, messages)
    if found is None:
        return script.initial()
    state, text, nxt = found
    command = command_of(text)
    if command is None or failed(nxt):
        return state
    for action in _candidates(script, state):
        if render(action) == command:
            return script.after(state, action)
    return state  # not a command of ours: the state is as it was


def propose(
    oracle: NoisySweOracle,
    messages: Sequence[Mapping[str, Any]],
    index: int = 0,
    temperature: float = 0.0,
) -> tuple[Action, bool]:
    """The action of sample `index` for mini's prompt, and whether it is correct."""
    from benchmarks.swe_bench.noisy_oracle import _digest, _thought

    iid = instance_of(oracle, messages)
    script = oracle.script(iid)
    state = state_of(script, messages)
    step = steps_so_far(messages)
    # The conversation after the task message: the task may name the work directory,
    # which must not change the answers.
    convo = [(m.get("role"), m.get("content")) for m in messages[task_index(messages) + 1 :]]
    rng = random.Random(
        _digest(oracle.config.seed, iid, "bash", step, index, round(temperature, 3), convo)
    )
    good, correct = script.correct(state), True
    action = good
    if rng.random() >= oracle.config.p:
        wrong = script.wrong(state)
        if wrong:
            action = rng.choice(wrong[rng.choice(sorted(wrong))])
            correct = False
    thought = f"{_thought(action)} {state.tag(step)}"
    return Action(action.tool, action.args, thought), correct


def answer(
    oracle: NoisySweOracle,
    messages: Sequence[Mapping[str, Any]],
    index: int = 0,
    temperature: float = 0.0,
) -> str:
    """The oracle's answer to mini's prompt: THOUGHT, then one ```mswea_bash_command block."""
    return format_answer(propose(oracle, messages, index, temperature)[0])
