"""RAFA, "Reason for Future, Act for Now" (Liu et al., 2023; docs/methods.md section 5), as a
LangGraph graph: learner -> planner -> act (the FIRST move only) -> observe -> repeat.

- learner: from the memory buffer the model reflects and rewrites its belief about the
  environment (text the planner's prompts condition on);
- planner: the search core (`search.beam_search` or `search.MCTS`) over model-proposed
  moves (`LLMPolicy`) scored by model value estimates (`LLMEvaluator`), stepping through
  the task's `Problem` model; at an opponent's turn the model predicts the reply;
- act: execute only the plan's first move, observe what happened, remember it;
- switching: a prediction that the world contradicts (an opponent's unexpected reply)
  marks a surprise; with `replan="on_surprise"` the rest of the plan is kept otherwise.

Tree of Thoughts and the no-planning ablation are presets of the same graph (`PRESETS`).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.graphs.env import Env
from agents.graphs.llm_search import (
    LLMEvaluator,
    LLMPolicy,
    SearchPrompts,
    first_legal,
    header,
    user,
)
from agents.llm import LLM
from agents.llm.errors import OutOfCalls
from search import (
    MCTS,
    BeamConfig,
    Budget,
    MCTSConfig,
    NoActionsError,
    Node,
    Widening,
    beam_search,
)


@dataclass(frozen=True)
class RAFAConfig:
    """One agent's knobs; equal budgets across agents come from `max_calls`."""

    planner: Literal["beam", "mcts", "none"] = "beam"
    """"none" acts on the model's first proposal: the no-planning ablation."""
    width: int = 3
    """Beam: plans kept per layer (ToT's breadth)."""
    depth: int = 3
    """Beam: lookahead in moves (opponent replies count)."""
    proposals: int = 3
    """Moves asked for per state."""
    simulations: int = 24
    """MCTS: simulations per decision (children arrive by progressive widening)."""
    replan: Literal["always", "on_surprise"] = "always"
    reflect: Literal["always", "on_surprise", "never"] = "on_surprise"
    fallback: Literal["fail", "random"] = "fail"
    """When the model offers no usable move: end the episode, or play a random legal move."""
    max_steps: int = 30
    max_calls: int | None = 60
    """LLM calls per episode; spending them ends the episode as it stands."""
    prompts: SearchPrompts = field(default_factory=SearchPrompts)
    seed: int = 0


PRESETS: dict[str, RAFAConfig] = {
    "rafa": RAFAConfig(),
    "tot": RAFAConfig(replan="on_surprise", reflect="never"),
    "noplan": RAFAConfig(planner="none"),
}


class RAFAState(TypedDict, total=False):
    belief: str
    plan: list[Any]
    surprise: bool
    memory: list[dict[str, Any]]
    ended_by: str


@dataclass
class Episode:
    """What one run of an agent on one instance did."""

    success: bool
    steps: int
    ended_by: str
    """"done", "max_steps", "out_of_calls" or "no_move"."""
    trajectory: list[dict[str, Any]]
    outcome: dict[str, Any]
    belief: str = ""
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    """Diagnostics: answer lines that were moves / unparsable / invalid, unusable value
    answers, and `judged` (model value, exact value) pairs where the task knows them."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


REFLECT = (
    "Here is what happened so far:\n{history}\n"
    "In one or two sentences, state what you have learned about this environment "
    "(how the other side plays, which moves failed) that should change your next plans."
)


def _history(env: Env, memory: list[dict[str, Any]], last: int = 6) -> str:
    lines = []
    for m in memory[-last:]:
        tail = " (not what you expected)" if m["surprise"] else ""
        lines.append(f"- {m['state']}\n  you played {m['action']}; then: {m['happened']}{tail}")
    return "\n".join(lines)


class RAFAAgent:
    """Builds and runs the graph for one environment instance."""

    def __init__(self, llm: LLM, env: Env, config: RAFAConfig | None = None) -> None:
        self.llm, self.env = llm, env
        self.config = config or RAFAConfig()
        self.rng = random.Random(self.config.seed)
        self.stats: Counter[str] = Counter()
        self.judged: list[tuple[float, float]] = []
        self.graph = self._build()

    def _build(self) -> CompiledStateGraph[RAFAState, None, RAFAState, RAFAState]:
        g = StateGraph(RAFAState)
        g.add_node("learner", self.learner)
        g.add_node("planner", self.planner)
        g.add_node("act", self.act)
        g.add_edge(START, "learner")
        g.add_edge("learner", "planner")
        g.add_conditional_edges("planner", lambda state: END if state.get("ended_by") else "act")
        g.add_conditional_edges("act", self.route)
        return g.compile()

    # -------------------------------------------------------------- nodes

    def learner(self, state: RAFAState) -> RAFAState:
        memory = state.get("memory", [])
        mode = self.config.reflect
        if not memory or mode == "never" or (mode == "on_surprise" and not state.get("surprise")):
            return {}
        prompt = f"{header('reflect', self.env, state.get('belief', ''))}\n"
        prompt += REFLECT.format(history=_history(self.env, memory))
        text = self.llm.complete_sync(user(prompt), max_tokens=80)[0].text.strip()
        return {"belief": " ".join(text.split())[:400]}

    def planner(self, state: RAFAState) -> RAFAState:
        c = self.config
        if state.get("plan") and c.replan == "on_surprise" and not state.get("surprise"):
            return {}  # the world went as predicted: keep acting on the plan
        belief = state.get("belief", "")
        policy = LLMPolicy(self.llm, self.env, belief, c.prompts)
        evaluator = LLMEvaluator(self.llm, self.env, belief, c.prompts)
        now = self.env.state
        plan: list[Any] = []
        try:
            if c.planner == "none":
                plan = [a for a, _ in policy.propose(now, 1)][:1]
            elif c.planner == "beam":
                cfg = BeamConfig(width=c.width, depth=c.depth, proposals=c.proposals)
                result = beam_search(self.env.problem, now, evaluator, cfg, policy)
                plan = list(result.best.actions)
            else:
                mcfg = MCTSConfig(
                    budget=Budget(simulations=c.simulations),
                    widening=Widening(k=1.0, alpha=0.5),
                    seed=c.seed,
                )
                search = MCTS(self.env.problem, evaluator, mcfg, policy)
                plan = _principal_variation(search.search(now).root)
        except NoActionsError:
            plan = []
        finally:
            self.stats.update(policy.stats)
            self.stats.update(evaluator.stats)
            self.judged.extend(evaluator.judged)
        if not plan and c.fallback == "random":
            move = first_legal(self.env, now, self.rng)
            plan = [] if move is None else [move]
        if not plan:
            return {"plan": [], "ended_by": "no_move"}
        return {"plan": plan, "surprise": False}

    def act(self, state: RAFAState) -> RAFAState:
        env = self.env
        plan = state["plan"]
        before = env.state
        texts = []
        now = before
        for a in plan:  # the plan's moves as text, for the record
            texts.append(env.action_text(now, a))
            try:
                now = env.problem.step(now, a)
            except Exception:
                break
        shown = env.render(before)
        action_text = env.action_text(before, plan[0])
        happened = list(env.act(plan[0]))
        # Only what the plan predicted can surprise: a one-move plan says nothing about
        # the opponent's reply.
        overlap = min(len(happened), len(plan))
        surprise = happened[:overlap] != list(plan[:overlap])
        now, seen = before, []
        for a in happened:
            seen.append(env.action_text(now, a))
            now = env.problem.step(now, a)
        record = {
            "step": env.steps,
            "state": shown,
            "plan": texts,
            "action": action_text,
            "happened": ", ".join(seen),
            "surprise": surprise,
            "belief": state.get("belief", ""),
        }
        rest = [] if surprise else list(plan[len(happened) :])
        return {"plan": rest, "surprise": surprise, "memory": [*state.get("memory", []), record]}

    def route(self, state: RAFAState) -> str:
        if self.env.done() or self.env.steps >= self.config.max_steps:
            return END
        return "learner"

    # ---------------------------------------------------------------- run

    def run(self) -> Episode:
        """Play the episode to the end (or until a budget ends it); never raises OutOfCalls."""
        final, ended_by = play_to_end(
            self.graph, {"memory": [], "belief": ""}, 4 * self.config.max_steps + 10, self.env
        )
        return Episode(
            success=self.env.success(),
            steps=self.env.steps,
            ended_by=ended_by,
            trajectory=final.get("memory", []),
            outcome=self.env.summary(),
            belief=final.get("belief", ""),
            stats={**self.stats, "judged": self.judged},
        )


def play_to_end(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    start: dict[str, Any],
    recursion_limit: int,
    env: Env,
) -> tuple[dict[str, Any], str]:
    """Stream a planning graph to its end: its last state and why the episode ended (the
    state's `ended_by`, else out_of_calls, else max_steps if the task is not done, else done)."""
    final: dict[str, Any] = {"memory": []}
    ended_by = "done"
    try:
        for update in graph.stream(
            start, {"recursion_limit": recursion_limit}, stream_mode="values"
        ):
            final = update
    except OutOfCalls:
        ended_by = "out_of_calls"
    ended_by = final.get("ended_by") or ended_by
    if ended_by == "done" and not env.done():
        ended_by = "max_steps"
    return final, ended_by


def _principal_variation(root: Node) -> list[Any]:
    """The most-visited path from the root: MCTS's plan."""
    plan = []
    node = root
    while node.children:
        node = max(node.children, key=lambda c: c.visits)
        if not node.visits:
            break
        plan.append(node.action)
    return plan


def preset(name: str, **overrides: Any) -> RAFAConfig:
    return replace(PRESETS[name], **overrides)
