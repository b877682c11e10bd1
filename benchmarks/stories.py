"""Story evaluation for COS(M+O)S (docs/methods.md section 6): write stories with and without
search, compare them pairwise with a judge model (each pair asked twice, positions
swapped; a win needs both orders to agree), and report surprisal statistics.

    run_story("a lighthouse keeper finds a door", "local:smollm2", "runs/story")
    compare(premises, system_a, system_b, judge) -> win rate of a over b

The outer loop that trains the writer (search -> pairs -> ORPO) is benchmarks/cosmos.py.
"""

from __future__ import annotations

import functools
import json
import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.graphs.story import (
    Expansion,
    StoryAgent,
    StoryConfig,
    StoryResult,
    StoryState,
    write_story,
)
from agents.llm import BaseLLM, Completion
from benchmarks import cosmos
from search.curiosity import step_value

PREMISES = (
    "a lighthouse keeper finds a door that was not there yesterday",
    "a girl trades her shadow for a map of the city",
    "the last train of the night stops at a station that is not on any timetable",
    "a baker discovers that her bread makes people tell the truth",
    "two rival chess players are snowed in at the same mountain inn",
    "a robot gardener finds a seed it cannot identify",
)


def run_story(
    prompt: str,
    model: str | BaseLLM,
    out: str | Path,
    config: StoryConfig | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> StoryResult:
    """Search a story for `prompt`, write story/tree/values/pairs under `out`;
    `on_step(done, total)` after each plot step."""
    from agents.llm import load_llm

    llm = load_llm(model) if isinstance(model, str) else model
    result = StoryAgent(llm, config).run(prompt, on_step)
    write_story(result, out)
    return result


def plain_story(llm: BaseLLM, prompt: str, config: StoryConfig | None = None) -> StoryResult:
    """The no-search baseline: one sampled plot step at a time, kept whatever it is."""
    c = StoryConfig(**{**asdict_shallow(config or StoryConfig()), "samples": 1})
    agent = StoryAgent(llm, c)  # its policy samples and scores steps as the search would
    if not prompt.strip():
        raise ValueError("the story prompt is empty: give a premise")
    state = StoryState(prompt.strip())
    for i in range(c.steps):
        found: list[Expansion] = []
        agent.policy._sample(state, found, seed=c.seed + 1000 + i)
        state = agent.problem.step(state, found[0])
    w = c.weights
    steps = [{**asdict(e), "value": round(step_value(e.score, w), 4)} for e in state.steps]
    return StoryResult(state.premise, steps, agent.evaluator.value(state), agent.policy.calls)


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
    """1 if the judge prefers `a`, 0 if `b`, 0.5 if undecided (see `judge_pair_detail`)."""
    return judge_pair_detail(judge, premise, a, b)[0]


def _answer_logprobs(c: Completion) -> tuple[float, float] | None:
    """(log P("1"), log P("2")) at the first answer token whose top alternatives hold either
    (a digit missing from the list gets the list's lowest log-prob); None without them."""
    for t in c.logprobs or ():
        if not t.top_logprobs:
            return None
        found: dict[str, float] = {}
        for alt in t.top_logprobs:
            d = alt.token.strip()
            if d in ("1", "2"):  # "1" and " 1" are the same answer
                found[d] = (
                    math.log(math.exp(found[d]) + math.exp(alt.logprob))
                    if d in found
                    else alt.logprob
                )
        if found:
            floor = min(alt.logprob for alt in t.top_logprobs)
            return found.get("1", floor), found.get("2", floor)
    return None


def judge_pair_detail(
    judge: BaseLLM, premise: str, a: str, b: str
) -> tuple[float, int | None, int | None, float | None]:
    """(score of `a`, the position picked with `a` first, the position picked with `b` first,
    P(a better)). The judge is asked in both orders. With answer log-probs (a backend that
    gives `top_logprobs`), P(a better) is the mean over the two orders of the probability of
    a's position, normalised over the answers "1" and "2"; a constant preference for one
    position cancels out, and `a` wins when it is over 1/2. Without log-probs, `a` wins only
    when the answers pick it in both orders; the same position twice is position bias, 0.5."""

    def ask(x: str, y: str) -> Completion:
        content = JUDGE.format(premise=premise, a=x, b=y)
        return judge.complete_sync(
            [{"role": "user", "content": content}], max_tokens=4, logprobs=True, top_logprobs=10
        )[0]

    one, two = ask(a, b), ask(b, a)
    first, second = _pick(one.text), _pick(two.text)
    lp1, lp2 = _answer_logprobs(one), _answer_logprobs(two)
    if lp1 is not None and lp2 is not None:
        # P("1" | a first) and P("2" | b first), each over {"1", "2"}
        p = (1 / (1 + math.exp(lp1[1] - lp1[0])) + 1 / (1 + math.exp(lp2[0] - lp2[1]))) / 2
        score = 1.0 if p > 0.5 + 1e-6 else 0.0 if p < 0.5 - 1e-6 else 0.5
        return score, first, second, p
    if first == 1 and second == 2:
        return 1.0, first, second, None
    if first == 2 and second == 1:
        return 0.0, first, second, None
    return 0.5, first, second, None


@dataclass
class Comparison:
    system_a: str
    system_b: str
    premises: int
    win_rate_a: float
    """Wins of a plus half the undecided pairs, over all pairs."""
    decided: int
    same_position: int = 0
    """Pairs where the judge picked the same position in both orders (position bias)."""
    unparsed: int = 0
    """Judge answers with no 1 or 2 in them."""
    judge: str = ""
    by_logprobs: int = 0
    """Pairs decided from the judge's answer log-probs (both orders averaged), not its text."""
    p_a: float | None = None
    """Mean P(a better) over the pairs judged by log-probs."""
    surprisal_a: dict[str, float] = field(default_factory=dict)
    surprisal_b: dict[str, float] = field(default_factory=dict)
    stories: list[dict[str, Any]] = field(default_factory=list, repr=False)


def surprisal_stats(results: Sequence[StoryResult]) -> dict[str, float]:
    """Per-step surprisal (nats/token) mean and spread, the mean story value, and the share
    of steps judged incoherent."""
    values = [s["surprisal"] for r in results for s in r.steps]
    if not values:
        return {}
    return {
        "mean": statistics.fmean(values),
        "stdev": statistics.pstdev(values),
        "story_value": statistics.fmean(r.value for r in results),
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
    ra = [system_a[1](p) for p in premises]
    rb = [system_b[1](p) for p in premises]
    return compare_results(system_a[0], ra, system_b[0], rb, judge)


def compare_results(
    name_a: str,
    results_a: Sequence[StoryResult],
    name_b: str,
    results_b: Sequence[StoryResult],
    judge: BaseLLM,
) -> Comparison:
    """Judge stories already written, premise by premise (positions swapped)."""
    if len(results_a) != len(results_b) or not results_a:
        raise ValueError("compare needs the same (non-zero) number of stories from both systems")
    scores, stories, same, unparsed, probs = [], [], 0, 0, []
    for a, b in zip(results_a, results_b, strict=True):
        s, first, second, p = judge_pair_detail(judge, a.premise, a.text, b.text)
        scores.append(s)
        if p is not None:
            probs.append(p)
        same += first is not None and first == second
        unparsed += (first is None) + (second is None)
        stories.append(
            {
                "premise": a.premise,
                "a": a.text,
                "b": b.text,
                "value_a": round(a.value, 4),
                "value_b": round(b.value, 4),
                "score_a": s,
                "picks": [first, second],
                "p_a": None if p is None else round(p, 4),
            }
        )
    return Comparison(
        name_a,
        name_b,
        len(scores),
        sum(scores) / len(scores),
        sum(s != 0.5 for s in scores),
        same,
        unparsed,
        getattr(judge, "name", type(judge).__name__),
        len(probs),
        statistics.fmean(probs) if probs else None,
        surprisal_stats(results_a),
        surprisal_stats(results_b),
        stories,
    )


def default_output(model: str) -> Path:
    """Where `agents solve --task story` writes a model's run without `-o`."""
    return Path("runs") / "story" / model.replace(":", "_").replace("/", "_")


def solve_story(options: Any) -> dict[str, Any]:
    """`agents solve --task story --prompt "..."` (a `benchmarks.tasks.SolveOptions`; the
    premise comes from `options.extra["prompt"]`, plot steps from `options.max_iterations`)."""
    from foundation.errors import UserError

    prompt = str((getattr(options, "extra", {}) or {}).get("prompt") or "")
    if not prompt.strip():
        raise UserError('the story prompt is empty: pass --prompt "a premise for the story"')
    out = Path(options.output or default_output(options.model))
    config = StoryConfig(steps=options.max_iterations or 5)
    from benchmarks.progress import work_bar

    with work_bar("story search (plot steps)") as update:
        result = run_story(
            prompt, options.model, out, config, lambda done, total: update(None, done, total)
        )
    from benchmarks.report import write_report

    write_report(out)  # the run's page (agents report RUN_DIR)
    lines = [f"{i + 1}. {s['text']}  [value {s['value']:+.3f}]" for i, s in enumerate(result.steps)]
    lines.append(
        f"story value {result.value:+.3f}; {result.llm_calls} LLM calls; wrote {out}/story.md, tree.html, pairs.jsonl, report.html"
    )
    return {"output": "\n".join(lines), "value": result.value, "steps": result.steps}


def load_premises(
    path: str | Path = Path(__file__).with_name("story_premises.txt"),
) -> tuple[str, ...]:
    """Premises from a text file: one per line; blank lines and `#` comments skipped."""
    lines = (line.strip() for line in Path(path).read_text().splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


TRAIN_PREMISES = load_premises()
"""Premises the outer loop mines ORPO pairs from; disjoint from the evaluation `PREMISES`."""
if set(TRAIN_PREMISES) & set(PREMISES):
    raise RuntimeError("story_premises.txt repeats an evaluation premise (benchmarks.protocol)")

BENCH_STORY = StoryConfig(steps=5, simulations=4, samples=3, max_tokens=32, judge=False)
"""The story search the embedded-model benchmark runs: SmolLM2-135M answered "no" to the
coherence judge prompt for every step it was shown (benchmarks/results/story_smollm2), so the
judge only cost calls; the incoherence penalty is the empty/repeat test here."""


@dataclass
class StoryBench:
    """Everything `agents bench stories` measured; `lines()` is its summary."""

    model: str
    judge: str
    config: dict[str, Any]
    seconds: dict[str, float]
    orpo: dict[str, Any]
    comparisons: list[Comparison]
    pairs: int

    def lines(self) -> list[str]:
        out = [f"stories by {self.model}, judged by {self.judge} (both orders asked)"]
        for c in self.comparisons:
            how = (
                f"{c.by_logprobs} by answer log-probs, mean P(first better) {c.p_a:.3f}; "
                if c.by_logprobs and c.p_a is not None
                else ""
            )
            out.append(
                f"{c.system_a} vs {c.system_b}: win rate {c.win_rate_a:.2f} over {c.premises} "
                f"premises ({c.decided} decided; {how}judge answered the same position in both "
                f"orders {c.same_position}/{c.premises}); mean surprisal "
                f"{c.surprisal_a.get('mean', 0):.2f} vs {c.surprisal_b.get('mean', 0):.2f}, "
                f"story value {c.surprisal_a.get('story_value', 0):+.3f} vs "
                f"{c.surprisal_b.get('story_value', 0):+.3f}"
            )
        if self.orpo:
            o = self.orpo
            out.append(
                f"ORPO on {o['train_pairs']} pairs ({o['steps']} steps, {o['seconds']:.0f}s): "
                f"held-out margin {o['heldout_margin_before']:+.3f} -> "
                f"{o['heldout_margin_after']:+.3f}, rose on {o['heldout_rose']}/{o['heldout_pairs']}"
            )
        out.append(
            "seconds in this run (cached stories cost 0): "
            + ", ".join(f"{k} {v:.0f}" for k, v in self.seconds.items())
        )
        return out


def bench_stories(
    model: str,
    judge: str,
    premises: Sequence[str],
    work: Path,
    story: StoryConfig = BENCH_STORY,
    orpo: Any = None,
    train_premises: Sequence[str] = (),
    progress: Callable[[str], None] = lambda s: None,
) -> StoryBench:
    """Search vs no search (plain_story) on `premises`; with `orpo` (an ORPOConfig) also one
    outer-loop round on `train_premises` and ORPO-trained vs untrained search on `premises`.
    Every story is cached under `work` (resumable); the judge sees each pair in both orders."""
    import time

    from agents.llm import load_llm

    seconds: dict[str, float] = {}
    base = load_llm(model, cache=False)
    judge_llm = base if judge == model else load_llm(judge, cache=False)

    def stories(name: str, make: Callable[[str], StoryResult]) -> list[StoryResult]:
        start = time.perf_counter()
        out = []
        for p in premises:
            path = work / name / f"{cosmos.slug(p)}.json"
            out.append(cosmos.cached(path, functools.partial(make, p)))
            progress(f"{name}: {p} (value {out[-1].value:+.3f})")
        seconds[name] = time.perf_counter() - start
        return out

    searched = stories("search", lambda p: StoryAgent(base, story).run(p))
    plain = stories("plain", lambda p: plain_story(base, p, story))
    start = time.perf_counter()
    comparisons = [compare_results("search", searched, "no search", plain, judge_llm)]
    seconds["judge"] = time.perf_counter() - start
    report: dict[str, Any] = {}
    pairs = 0
    if orpo is not None:
        spec, report, pairs, spent = cosmos.outer_loop(
            model, train_premises, work, story, orpo, progress
        )
        seconds.update(spent)
        trained = load_llm(spec, cache=False)
        after = stories("search-orpo", lambda p: StoryAgent(trained, story).run(p))
        start = time.perf_counter()
        comparisons.append(
            compare_results("ORPO-trained search", after, "untrained search", searched, judge_llm)
        )
        seconds["judge"] += time.perf_counter() - start
    return StoryBench(model, judge, _config_dict(story), seconds, report, comparisons, pairs)


def _config_dict(c: StoryConfig) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(asdict(c), default=str))
    return out


def write_bench(bench: StoryBench, out: str | Path) -> list[Path]:
    """OUT.json (everything, stories included), OUT.md (the summary and the stories), OUT.png."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    md = [
        "# Story search benchmark (COS(M+O)S)",
        "",
        f"![Judge win rates and surprisal]({out.name}.png)",
        "",
    ]
    from benchmarks.protocol import STORIES

    md += [STORIES, ""]
    md += [f"- {line}" for line in bench.lines()]
    md += [
        "",
        "Win rate: wins of the first system plus half of the undecided pairs. The judge is",
        "asked in both orders. With its answer log-probs, P(first better) is the probability",
        "of the first story's position (over the answers 1 and 2) averaged over the two",
        "orders, so a constant position preference cancels; the first story wins when it is",
        "over 1/2. Without log-probs a pair is decided only when the judge's answers pick the",
        "same story in both orders; the same position both times is position bias (0.5).",
    ]
    for c in bench.comparisons:
        md += ["", f"## {c.system_a} vs {c.system_b}", ""]
        for s in c.stories:
            md += [
                f"### {s['premise']}",
                "",
                f"**{c.system_a}** (value {s['value_a']:+.3f}): {s['a']}",
                "",
                f"**{c.system_b}** (value {s['value_b']:+.3f}): {s['b']}",
                "",
                f"judge picks (a first, b first): {s['picks']} -> score {s['score_a']}",
                "",
            ]
    from benchmarks import plots

    paths = [out.with_suffix(".json"), out.with_suffix(".md"), out.with_suffix(".png")]
    paths[0].write_text(json.dumps(asdict(bench), indent=1, default=str) + "\n")
    paths[1].write_text("\n".join(md) + "\n")
    plots.stories(json.loads(paths[0].read_text()), paths[2])
    return paths
