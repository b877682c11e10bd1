"""Story evaluation for COS(M+O)S (ALGORITHMS.md section 6): write stories with and without
search, compare them pairwise with a judge model (each pair asked twice, positions
swapped; a win needs both orders to agree), and report surprisal statistics.

    run_story("a lighthouse keeper finds a door", "local:smollm2", "runs/story")
    compare(premises, system_a, system_b, judge) -> win rate of a over b
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.graphs.story import StoryAgent, StoryConfig, StoryResult, write_story
from agents.llm import BaseLLM

PREMISES = (
    "a lighthouse keeper finds a door that was not there yesterday",
    "a girl trades her shadow for a map of the city",
    "the last train of the night stops at a station that is not on any timetable",
    "a baker discovers that her bread makes people tell the truth",
    "two rival chess players are snowed in at the same mountain inn",
    "a robot gardener finds a seed it cannot identify",
)


def run_story(
    prompt: str, model: str | BaseLLM, out: str | Path, config: StoryConfig | None = None
) -> StoryResult:
    """Search a story for `prompt`, write story/tree/values/pairs under `out`."""
    from agents.llm import load_llm

    llm = load_llm(model) if isinstance(model, str) else model
    result = StoryAgent(llm, config).run(prompt)
    write_story(result, out)
    return result


def plain_story(llm: BaseLLM, prompt: str, config: StoryConfig | None = None) -> StoryResult:
    """The no-search baseline: one sampled plot step at a time, kept whatever it is."""
    c = config or StoryConfig()
    return StoryAgent(
        llm, StoryConfig(**{**asdict_shallow(c), "simulations": 1, "samples": 1})
    ).run(prompt)


def asdict_shallow(c: StoryConfig) -> dict[str, Any]:
    return {f: getattr(c, f) for f in c.__dataclass_fields__}


JUDGE = (
    "Premise: {premise}\n\nStory 1: {a}\n\nStory 2: {b}\n\n"
    "Which story has the more interesting plot that still makes sense? Answer 1 or 2."
)


def _pick(text: str) -> int | None:
    m = re.search(r"[12]", text)
    return None if m is None else int(m[0])


def judge_pair(judge: BaseLLM, premise: str, a: str, b: str) -> float:
    """1 if the judge prefers `a` in both orders, 0 if `b` in both, 0.5 otherwise."""
    first = _pick(
        judge.complete_sync(
            [{"role": "user", "content": JUDGE.format(premise=premise, a=a, b=b)}], max_tokens=4
        )[0].text
    )
    second = _pick(
        judge.complete_sync(
            [{"role": "user", "content": JUDGE.format(premise=premise, a=b, b=a)}], max_tokens=4
        )[0].text
    )
    if first == 1 and second == 2:
        return 1.0
    if first == 2 and second == 1:
        return 0.0
    return 0.5


@dataclass
class Comparison:
    system_a: str
    system_b: str
    premises: int
    win_rate_a: float
    """Wins of a plus half the undecided pairs, over all pairs."""
    decided: int
    surprisal_a: dict[str, float] = field(default_factory=dict)
    surprisal_b: dict[str, float] = field(default_factory=dict)
    stories: list[dict[str, Any]] = field(default_factory=list, repr=False)


def surprisal_stats(results: Sequence[StoryResult]) -> dict[str, float]:
    values = [s["surprisal"] for r in results for s in r.steps]
    if not values:
        return {}
    return {
        "mean": statistics.fmean(values),
        "stdev": statistics.pstdev(values),
        "incoherent_share": sum(s["incoherence"] >= 0.5 for r in results for s in r.steps)
        / len(values),
    }


def compare(
    premises: Sequence[str],
    system_a: tuple[str, Callable[[str], StoryResult]],
    system_b: tuple[str, Callable[[str], StoryResult]],
    judge: BaseLLM,
) -> Comparison:
    """Pairwise judge comparison of two story writers over `premises` (positions swapped)."""
    scores, stories, ra, rb = [], [], [], []
    for p in premises:
        a, b = system_a[1](p), system_b[1](p)
        ra.append(a)
        rb.append(b)
        s = judge_pair(judge, p, a.text, b.text)
        scores.append(s)
        stories.append({"premise": p, "a": a.text, "b": b.text, "score_a": s})
    return Comparison(
        system_a[0],
        system_b[0],
        len(premises),
        sum(scores) / len(scores),
        sum(s != 0.5 for s in scores),
        surprisal_stats(ra),
        surprisal_stats(rb),
        stories,
    )


def write_comparison(c: Comparison, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(asdict(c), indent=2) + "\n")


def solve_story(options: Any) -> dict[str, Any]:
    """`agents solve --task story --prompt "..."` (a `benchmarks.tasks.SolveOptions`; the
    premise comes from `options.extra["prompt"]`, plot steps from `options.max_iterations`)."""
    from agents.errors import UserError

    prompt = str((getattr(options, "extra", {}) or {}).get("prompt") or "")
    if not prompt.strip():
        raise UserError('the story prompt is empty: pass --prompt "a premise for the story"')
    out = Path(
        options.output or Path("runs") / "story" / options.model.replace(":", "_").replace("/", "_")
    )
    config = StoryConfig(steps=options.max_iterations or 5)
    result = run_story(prompt, options.model, out, config)
    lines = [f"{i + 1}. {s['text']}  [value {s['value']:+.3f}]" for i, s in enumerate(result.steps)]
    lines.append(
        f"story value {result.value:+.3f}; {result.llm_calls} LLM calls; wrote {out}/story.md, tree.html, pairs.jsonl"
    )
    return {"output": "\n".join(lines), "value": result.value, "steps": result.steps}
