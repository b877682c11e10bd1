"""Prompts of the repository agent: short, because the embedded model reads 8k tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from agents.swe.actions import TOOLS, action_format_help

SYSTEM = (
    "You fix a bug in a Python repository. Look at the code, edit it, run the tests, "
    "then call finish. One action per answer.\n\n"
)
RECENT = 6  # steps shown in full; older ones as one line each
CUE = (
    "\n\nNext: THOUGHT: <one line>, then ACTION: <tool> (one of: "
    + ", ".join(t.name for t in TOOLS)
    + ") and its arguments."
)
"""Ends the last user turn: without it the 135M model discusses the issue in prose or
invents a tool named after the issue (`ACTION: remove_least_recently_used_key`)."""
# Worked exchanges: small models copy the form of earlier assistant turns (two different
# tools, so that the first action is not always copied verbatim).
EXAMPLE = [
    {"role": "user", "content": "Issue (example):\nStack.pop returns the first item." + CUE},
    {"role": "assistant", "content": "THOUGHT: find the class\nACTION: find_class\nname: Stack"},
    {"role": "user", "content": "Observation:\nstack.py:3:class Stack:" + CUE},
    {
        "role": "assistant",
        "content": "THOUGHT: read the class\nACTION: view_file\npath: stack.py\nstart: 3",
    },
    {"role": "user", "content": "Observation:\n3 class Stack:\n(end of example)"},
]


def action_messages(
    instance: dict[str, Any],
    steps: list[dict[str, Any]],
    feedback: list[str] | None = None,
    tail: int = RECENT,
) -> list[dict[str, Any]]:
    """The chat for the next action: task, then the trajectory as assistant/user turns."""
    msgs: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM + action_format_help()},
        *EXAMPLE,
    ]
    first = _task_and_older_steps(msgs, instance, steps, tail)
    for i, s in enumerate(steps[first:], start=first):
        msgs.append({"role": "assistant", "content": s.get("answer", "")})
        msgs.append({"role": "user", "content": _observation(s, steps[:i])})
    if feedback:
        msgs.append(_feedback_turn(feedback))
    msgs[-1] = {**msgs[-1], "content": msgs[-1]["content"] + CUE}
    return msgs


TOOLS_SYSTEM = (
    "You fix a bug in a Python repository. Look at the code, edit it, run the tests, "
    "then call finish. Call exactly one tool per answer; say why in one line of text."
)


def tool_messages(
    instance: dict[str, Any],
    steps: list[dict[str, Any]],
    feedback: list[str] | None = None,
    tail: int = RECENT,
) -> list[dict[str, Any]]:
    """The chat for the next action of a model with native tool calling: each recent step
    is an assistant turn with its tool call, then the tool's result (neutral form, see
    agents.llm.types). A step without a stored call (a search node) gets one from its
    action; an answer without a call is shown as text, followed by its error."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": TOOLS_SYSTEM}]
    first = _task_and_older_steps(msgs, instance, steps, tail)
    for i, s in enumerate(steps[first:], start=first):
        call = s.get("tool_call")
        if call is None and "action" in s:
            a = s["action"]
            call = {"id": f"call_step{i}", "name": a["tool"], "arguments": a["args"]}
        text = s.get("answer", "")
        if call is None:
            msgs.append({"role": "assistant", "content": text or "(no tool call)"})
            msgs.append({"role": "user", "content": f"Invalid answer: {s['error']}"})
            continue
        msgs.append({"role": "assistant", "content": text, "tool_calls": [call]})
        result: dict[str, Any]
        if "error" in s:
            result = {"content": f"Invalid call: {s['error']}", "is_error": True}
        else:
            result = {"content": s["observation"]["text"]}
        if s.get("ignored_calls"):
            result["content"] += f"\n(only your first tool call ran; {s['ignored_calls']} ignored)"
        msgs.append({"role": "tool", "tool_call_id": call["id"], **result})
    if feedback:
        msgs.append(_feedback_turn(feedback))
    return msgs


def _task_and_older_steps(
    msgs: list[dict[str, Any]], instance: dict[str, Any], steps: list[dict[str, Any]], tail: int
) -> int:
    """Append the issue and a one-line summary of the steps before the last `tail`; return
    the index of the first step to show in full (tail 0: none)."""
    task = instance["problem_statement"].strip()[:2500]
    msgs.append({"role": "user", "content": f"Issue:\n{task}"})
    old = steps[:-tail] if tail else steps
    if old and tail:
        lines = [f"- {_short(s)}" for s in old]
        msgs.append({"role": "user", "content": "Earlier steps:\n" + "\n".join(lines)})
    return len(old) if tail else len(steps)


def _feedback_turn(feedback: list[str]) -> dict[str, str]:
    """SWE-Search: the judged siblings of this node, so the model tries something else."""
    notes = "\n".join(f"- {f}" for f in feedback)
    return {
        "role": "user",
        "content": f"Other attempts from this point were judged:\n{notes}\nTry something different.",
    }


def _short(step: dict[str, Any]) -> str:
    if "error" in step:
        return f"invalid action ({step['error'][:60]})"
    first = (str(step["observation"]["text"]).splitlines() or [""])[0][:80]
    return f"{step['action']['tool']}: {first}"


_HIT = re.compile(r"^([\w./-]+\.py):(\d+):", re.M)


def _observation(step: dict[str, Any], earlier: Sequence[dict[str, Any]] = ()) -> str:
    """The tool's output, plus two nudges a small model needs: that an action was a repeat,
    and, after a find tool located code, the view_file call that reads it."""
    if "error" in step:
        return f"Invalid action: {step['error']}\nAnswer again in the format."
    output: str = step["observation"]["text"]
    text = "Observation:\n" + output
    act = step["action"]
    same = [e for e in earlier if "observation" in e and _call(e["action"]) == _call(act)]
    if same:
        text += "\n(You already ran this action: its result is the same. Do something else.)"
    hit = _HIT.search(output)
    if act["tool"] in ("find_class", "find_function", "find_code", "search") and hit:
        start = max(1, int(hit.group(2)) - 5)
        text += (
            f"\nTo read that code, answer:\nACTION: view_file\npath: {hit.group(1)}\nstart: {start}"
        )
    return text


def _call(action: dict[str, Any]) -> tuple[str, str]:
    return str(action["tool"]), json.dumps(action.get("args", {}), sort_keys=True)


JUDGE = (
    "You review an agent fixing a bug. Read the issue and the agent's steps and rate "
    "how close it is to a correct fix. Answer with JSON only: "
    '{"explanation": "...", "feedback": "advice for another attempt", "value": N} '
    "with N from -100 (wrong or harmful) to 100 (certainly fixed)."
)


def judge_messages(
    instance: dict[str, Any], steps: list[dict[str, Any]], diff: str
) -> list[dict[str, str]]:
    lines = []
    for s in steps[-8:]:
        if "error" in s:
            continue
        first = "\n".join(s["observation"]["text"].splitlines()[:6])
        lines.append(
            f"ACTION {s['action']['tool']} {json.dumps(s['action']['args'])[:300]}\n{first}"
        )
    body = (
        f"Issue:\n{instance['problem_statement'].strip()[:1500]}\n\nSteps:\n"
        + "\n\n".join(lines)
        + f"\n\nCurrent diff:\n{diff[:2000] or '(none)'}"
    )
    return [{"role": "system", "content": JUDGE}, {"role": "user", "content": body}]


_VALUE = re.compile(r'"?value"?\s*[:=]\s*(-?\d+(?:\.\d+)?)', re.I)


def parse_judgement(text: str) -> dict[str, Any] | None:
    """{explanation, feedback, value} from a judge answer: strict JSON first, then the
    first JSON object in the text, then a bare `value: N`; None when there is no value."""
    candidates = [text]
    m = re.search(r"\{.*\}", text, re.S)
    if m:
        candidates.append(m.group(0))
    for c in candidates:
        try:
            data = json.loads(c)
        except ValueError:
            continue
        if isinstance(data, dict) and "value" in data:
            try:
                value = float(data["value"])
            except (TypeError, ValueError):
                continue
            return {
                "explanation": str(data.get("explanation", "")),
                "feedback": str(data.get("feedback", "")),
                "value": max(-100.0, min(100.0, value)),
            }
    vm = _VALUE.search(text)
    if vm:
        return {
            "explanation": text.strip()[:300],
            "feedback": "",
            "value": max(-100.0, min(100.0, float(vm.group(1)))),
        }
    return None
