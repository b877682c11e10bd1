"""COS(M+O)S story search (Materzok, 2025; docs/methods.md section 6) as a LangGraph graph.

A node is a story so far; an action is one proposed plot step (`Expansion`), sampled
several at a time with token log-probabilities; siblings that nearly repeat each other
are dropped. MCTS with progressive widening (`search.MCTS`) searches, valued by
`search.curiosity` (inverted-U surprisal minus incoherence: a yes/no judge prompt plus a
test for empty or repeated steps). The best step is committed, the subtree is kept,
search goes on from there (graph: search -> commit -> search ... -> END). High- vs
low-value siblings become ORPO preference pairs (`search.preferences`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from agents.llm import LLM
from search import MCTS, Budget, MCTSConfig, Widening, tree_to_dict, trees_to_html
from search.curiosity import CuriosityEvaluator, CuriosityWeights, StepScore, step_value, surprisal
from search.preferences import ranked_siblings, sibling_pairs
from search.tree import Node


@dataclass(frozen=True)
class Expansion:
    """One plot step and what was measured about it."""

    text: str
    surprisal: float
    incoherence: float

    @property
    def score(self) -> StepScore:
        return StepScore(self.surprisal, self.incoherence)


@dataclass(frozen=True)
class StoryState:
    premise: str
    steps: tuple[Expansion, ...] = ()


@dataclass(frozen=True)
class StoryConfig:
    """All knobs of the story search; the value weights live in `weights`."""

    steps: int = 5
    """Plot steps in the finished story."""
    simulations: int = 6
    """MCTS simulations per committed step."""
    samples: int = 3
    """Plot steps sampled per proposal call (siblings)."""
    widening: Widening = field(default_factory=lambda: Widening(k=2.0, alpha=0.5))
    temperature: float = 1.0
    max_tokens: int = 48
    judge: bool = True
    """Ask the model whether a step follows from the story (else only the degenerate test)."""
    weights: CuriosityWeights = field(default_factory=CuriosityWeights)
    similar: float = 0.7
    """Word-overlap (Jaccard) above which a step counts as a repeat of a sibling or earlier step."""
    final: str = "visits"
    every_pair: bool = True
    """Mine every better-vs-worse sibling pair, not only best vs worst."""
    seed: int = 0


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def jaccard(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def clean_step(text: str) -> str:
    """The first one or two sentences of an answer, without list markers or quotes."""
    text = re.sub(r"^\s*(?:step\s*\d+[:.]|\d+[.)]|[-*])\s*", "", text.strip(), flags=re.I)
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return " ".join(sentences[:2]).strip(" \"'")


def propose_prompt(state: StoryState) -> str:
    """The prompt a plot step answers; also the `prompt` of the ORPO pairs."""
    so_far = "\n".join(f"{i + 1}. {e.text}" for i, e in enumerate(state.steps)) or "(nothing yet)"
    return (
        f"You are writing a short story, one plot step at a time.\nPremise: {state.premise}\n"
        f"Plot so far:\n{so_far}\nWrite the next plot step in one or two sentences."
    )


def judge_prompt(state: StoryState, text: str) -> str:
    so_far = " ".join(e.text for e in state.steps) or "(the story starts here)"
    return (
        f"Premise: {state.premise}\nStory so far: {so_far}\nNext step: {text}\n"
        "Does the next step follow from the story without contradicting it? Answer yes or no."
    )


class StoryProblem:
    """`search.Problem`: one player; terminal after `steps` plot steps; open actions."""

    def __init__(self, steps: int, evaluator: CuriosityEvaluator) -> None:
        self.steps, self.evaluator = steps, evaluator

    def num_players(self) -> int:
        return 1

    def current_player(self, state: StoryState) -> int:
        return 0

    def actions(self, state: StoryState) -> list[Expansion]:
        return []  # proposed by the policy

    def step(self, state: StoryState, action: Expansion) -> StoryState:
        return StoryState(state.premise, (*state.steps, action))

    def is_terminal(self, state: StoryState) -> bool:
        return len(state.steps) >= self.steps

    def returns(self, state: StoryState) -> list[float]:
        return [self.evaluator.value(state)]

    def chance_outcomes(self, state: StoryState) -> list[tuple[Any, float]]:
        return []


class StoryPolicy:
    """`search.Policy`: samples plot steps (with log-probs) and scores them as they arrive."""

    def __init__(self, llm: LLM, config: StoryConfig) -> None:
        self.llm, self.config = llm, config
        self.calls = 0
        self._found: dict[StoryState, list[Expansion]] = {}
        self._asked: dict[StoryState, int] = {}

    def propose(self, state: StoryState, k: int) -> list[tuple[Expansion, float]]:
        found = self._found.setdefault(state, [])
        asked = self._asked.get(state, 0)
        while len(found) < k and asked < k + 2:  # bounded: repeats may keep coming
            asked += 1
            self._sample(state, found, seed=self.config.seed + 1000 * asked + len(state.steps))
        self._asked[state] = asked
        return [(e, 1.0 / len(found)) for e in found[:k]]

    def _sample(self, state: StoryState, found: list[Expansion], seed: int) -> None:
        c = self.config
        self.calls += 1
        outs = self.llm.complete_sync(
            [{"role": "user", "content": propose_prompt(state)}],
            n=c.samples,
            temperature=c.temperature,
            max_tokens=c.max_tokens,
            logprobs=True,
            seed=seed,
        )
        for out in outs:
            text = clean_step(out.text)
            if any(jaccard(text, e.text) > c.similar for e in found):
                continue  # siblings must differ
            lps = [t.logprob for t in out.logprobs] if out.logprobs else []
            s = surprisal(lps) if lps else c.weights.peak  # no log-probs: neutral curiosity
            found.append(Expansion(text, s, self._incoherence(state, text)))

    def _incoherence(self, state: StoryState, text: str) -> float:
        if len(_words(text)) < 3 or any(
            jaccard(text, e.text) > self.config.similar for e in state.steps
        ):
            return 1.0  # empty or a repeat of an earlier step
        if not self.config.judge:
            return 0.0
        self.calls += 1
        answer = self.llm.complete_sync(
            [{"role": "user", "content": judge_prompt(state, text)}], max_tokens=4
        )[0].text.lower()
        return 0.0 if "yes" in answer else 1.0 if "no" in answer else 0.5


class StoryGraphState(TypedDict, total=False):
    story: StoryState
    root: Node | None
    trees: list[dict[str, Any]]
    pairs: list[dict[str, Any]]


@dataclass
class StoryResult:
    premise: str
    steps: list[dict[str, Any]]
    value: float
    llm_calls: int
    trees: list[dict[str, Any]] = field(repr=False, default_factory=list)
    pairs: list[dict[str, Any]] = field(repr=False, default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s["text"] for s in self.steps)


class StoryAgent:
    def __init__(self, llm: LLM, config: StoryConfig | None = None) -> None:
        self.config = c = config or StoryConfig()
        self.policy = StoryPolicy(llm, c)
        self.evaluator = CuriosityEvaluator(lambda s: [e.score for e in s.steps], c.weights)
        self.problem = StoryProblem(c.steps, self.evaluator)
        mcfg = MCTSConfig(
            budget=Budget(simulations=c.simulations),
            widening=c.widening,
            final="value" if c.final == "value" else "visits",
            seed=c.seed,
            c=1.0,
        )
        self.search = MCTS(self.problem, self.evaluator, mcfg, self.policy)
        g = StateGraph(StoryGraphState)
        g.add_node("search", self.search_step)
        g.add_edge(START, "search")
        g.add_conditional_edges(
            "search", lambda s: END if self.problem.is_terminal(s["story"]) else "search"
        )
        self.graph = g.compile()

    def search_step(self, state: StoryGraphState) -> StoryGraphState:
        """Search from the story so far, mine sibling pairs, commit the chosen step."""
        story = state["story"]
        result = self.search.search(story, root=state.get("root"))
        root = result.root
        pairs = [
            {
                "prompt": propose_prompt(p.parent_state),
                "chosen": p.chosen.text,
                "rejected": p.rejected.text,
                # Not rounded: siblings a hair apart would tie, and a pair must rank.
                "chosen_value": p.chosen_value,
                "rejected_value": p.rejected_value,
            }
            for p in sibling_pairs(root, every=self.config.every_pair)
        ]
        tree = tree_to_dict(
            root, label=lambda parent, n: "root" if parent is None else n.action.text
        )
        chosen = next(c for c in root.children if c.action == result.action)
        nxt = None if chosen.terminal else chosen  # keep the subtree for the next search
        if nxt is not None and nxt.state is None:
            nxt = None
        return {
            "story": self.problem.step(story, result.action),
            "root": nxt,
            "trees": [*state.get("trees", []), tree],
            "pairs": [*state.get("pairs", []), *pairs],
        }

    def run(self, premise: str, on_step: Callable[[int, int], None] | None = None) -> StoryResult:
        """Search the story step by step; `on_step(done, total)` after each committed plot
        step (progress)."""
        if not premise.strip():
            raise ValueError(
                "the story prompt is empty: give a premise, e.g. 'a lighthouse keeper finds a door'"
            )
        limit = 2 * self.config.steps + 5
        final: dict[str, Any] = {}
        for final in self.graph.stream(
            {"story": StoryState(premise.strip()), "root": None},
            {"recursion_limit": limit},
            stream_mode="values",
        ):
            if on_step is not None:
                on_step(len(final["story"].steps), self.config.steps)
        story: StoryState = final["story"]
        w = self.config.weights
        steps = [{**asdict(e), "value": round(step_value(e.score, w), 4)} for e in story.steps]
        return StoryResult(
            premise=story.premise,
            steps=steps,
            value=self.evaluator.value(story),
            llm_calls=self.policy.calls,
            trees=final.get("trees", []),
            pairs=final.get("pairs", []),
        )


def tree_html(trees: list[dict[str, Any]], title: str = "story search") -> str:
    """A self-contained HTML view: one collapsible tree per committed step (the saved
    `tree_to_dict` trees, whose node labels are the steps' texts)."""
    return trees_to_html([(f"step {i + 1}", t) for i, t in enumerate(trees)], title=title)


def write_story(result: StoryResult, out: str | Path) -> list[Path]:
    """story.md, story.json (steps with surprisal, incoherence, value), tree.json, tree.html,
    pairs.jsonl (prompt/chosen/rejected: the preference format ORPO trainers read)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# {result.premise}", ""] + [
        f"{i + 1}. {s['text']}  \n   *surprisal {s['surprisal']:.2f}, incoherence {s['incoherence']:.2f}, value {s['value']:+.3f}*"
        for i, s in enumerate(result.steps)
    ]
    files = {
        "story.md": "\n".join(md) + "\n",
        "story.json": json.dumps(
            {
                "premise": result.premise,
                "steps": result.steps,
                "value": result.value,
                "llm_calls": result.llm_calls,
            },
            indent=2,
        ),
        "tree.json": json.dumps(result.trees, indent=1),
        "tree.html": tree_html(result.trees, result.premise),
        "pairs.jsonl": "".join(json.dumps(p) + "\n" for p in result.pairs),
    }
    paths = []
    for name, text in files.items():
        (out / name).write_text(text)
        paths.append(out / name)
    return paths


def pairs_from_trees(
    premise: str, steps: list[str], trees: list[dict[str, Any]], every: bool = True
) -> list[dict[str, Any]]:
    """Preference pairs mined again from saved trees (tree.json) by the same miner as a live
    search (`search.preferences.ranked_siblings`): tree i was searched after the first i
    committed `steps`; node labels are the expansions' texts."""
    out: list[dict[str, Any]] = []
    for i, tree in enumerate(trees):
        for path, a, b in ranked_siblings(
            tree,
            lambda node: [k for k in node.get("children", []) if k["visits"] >= 1],
            lambda node: float(node["values"][0]),
            every=every,
        ):
            texts = [*steps[:i], *(n["action"] for n in path[1:])]
            state = StoryState(premise, tuple(Expansion(t, 0.0, 0.0) for t in texts))
            out.append(
                {
                    "prompt": propose_prompt(state),
                    "chosen": a["action"],
                    "rejected": b["action"],
                    "chosen_value": a["values"][0],
                    "rejected_value": b["values"][0],
                }
            )
    return out
