"""Prompts of the repository agent: short, because the embedded model reads 8k tokens."""

from __future__ import annotations

import json
import re
from typing import Any

from agents.swe.actions import action_format_help

SYSTEM = (
    "You fix a bug in a Python repository. Look at the code, edit it, run the tests, "
    "then call finish. One action per answer.\n\n"
)
RECENT = 6  # steps shown in full; older ones as one line each
# One worked exchange: small models copy the form of earlier assistant turns.
EXAMPLE = [
    {"role": "user", "content": "Issue (example):\nStack.pop returns the first item."},
    {"role": "assistant", "content": "THOUGHT: find the class\nACTION: find_class\nname: Stack"},
    {"role": "user", "content": "Observation:\nstack.py:3:class Stack:\n(end of example)"},
]


def action_messages(
    instance: dict, steps: list[dict], feedback: list[str] | None = None, tail: int = RECENT
) -> list[dict[str, str]]:
    """The chat for the next action: task, then the trajectory as assistant/user turns."""
    task = instance["problem_statement"].strip()[:2500]
    msgs = [
        {"role": "system", "content": SYSTEM + action_format_help()},
        *EXAMPLE,
        {"role": "user", "content": f"Issue:\n{task}"},
    ]
    old = steps[:-tail] if tail else steps
    if old and tail:
        lines = [f"- {_short(s)}" for s in old]
        msgs.append({"role": "user", "content": "Earlier steps:\n" + "\n".join(lines)})
    for s in steps[-tail:] if tail else []:
        msgs.append({"role": "assistant", "content": s.get("answer", "")})
        msgs.append({"role": "user", "content": _observation(s)})
    if feedback:
        notes = "\n".join(f"- {f}" for f in feedback)
        msgs.append(
            {
                "role": "user",
                "content": "Other attempts from this point were judged:\n"
                f"{notes}\nTry something different.",
            }
        )
    return msgs


def _short(step: dict) -> str:
    if "error" in step:
        return f"invalid action ({step['error'][:60]})"
    first = (step["observation"]["text"].splitlines() or [""])[0][:80]
    return f"{step['action']['tool']}: {first}"


def _observation(step: dict) -> str:
    if "error" in step:
        return f"Invalid action: {step['error']}\nAnswer again in the format."
    return "Observation:\n" + step["observation"]["text"]


JUDGE = (
    "You review an agent fixing a bug. Read the issue and the agent's steps and rate "
    "how close it is to a correct fix. Answer with JSON only: "
    '{"explanation": "...", "feedback": "advice for another attempt", "value": N} '
    "with N from -100 (wrong or harmful) to 100 (certainly fixed)."
)


def judge_messages(instance: dict, steps: list[dict], diff: str) -> list[dict[str, str]]:
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
