"""SWE-Search (Antoniades et al., 2024) as a LangGraph graph: search -> discriminate.

`search` runs the core's MCTS (`search.MCTS`, progressive widening, UCT) over
`agents.swe.search_problem.SweSearch` until the simulation budget or enough finished
candidates; `discriminate` picks the final patch among the finished nodes by best mean
value (docs/methods.md section 3). Both nodes are checkpointed: a kill after the search
resumes at the pick. A kill during the search reruns the search node over the search's
journal (`journal_path`, see agents.swe.search_problem): the finished part of the tree is
replayed from it (no model call, no tool run) and the search continues where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from agents.swe.env import UNPARSABLE, AgentEnv
from agents.swe.search_problem import SweEvaluator, SweSearch, SweState
from search import Node, tree_to_html

if TYPE_CHECKING:  # langgraph is imported when the graph is built
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer


class SearchState(TypedDict, total=False):
    candidates: list[dict[str, Any]]  # finished nodes: sid, patch, mean value, visits, steps
    fallback: dict[str, Any] | None  # the best unfinished node with a diff
    status: str | None
    patch: str | None
    steps: list[dict[str, Any]]
    diff: str
    bad: int
    replayed_llm_calls: int  # model answers taken from the journal after a kill


def run_search(
    env: AgentEnv,
    tree_path: Path | None = None,
    journal_path: Path | None = None,
    swe: SweSearch | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """MCTS over the instance; returns (finished candidates, best unfinished node).
    `journal_path`: the search's log, replayed if it exists (resume). The core stops the
    search: after `max_iterations` simulations, once `max_finished` episodes ended with a
    patch, or when the model proposes nothing new at the root."""
    from search import MCTS, Budget, MCTSConfig, NoActionsError, Widening

    cfg = env.config
    settings = cfg.search
    swe = swe or SweSearch.build(env, journal_path)
    mcts = MCTS(
        swe.problem,
        swe.evaluator,
        MCTSConfig(
            budget=Budget(simulations=cfg.max_iterations), c=settings.c,
            widening=Widening(settings.widening_k, settings.widening_alpha), seed=settings.seed,
        ),
        policy=swe.policy,
    )  # fmt: skip
    state = swe.problem.root()
    root = mcts.new_root(state)
    finished = 0

    def enough(root: Node, path: Sequence[Node]) -> bool:
        nonlocal finished
        leaf = path[-1]
        if leaf.visits == 1 and leaf.terminal and leaf.state.status == "finished":
            finished += bool(leaf.state.patch)  # a new episode that ended with a patch
        calls = env.stats.llm_calls + swe.replayed_llm_calls  # answers of a resumed search too
        return finished >= settings.max_finished or (
            cfg.max_calls is not None and calls >= cfg.max_calls
        )

    try:
        mcts.search(state, root=root, stop=enough)
    except NoActionsError:
        pass  # the model proposed nothing: reported below
    finally:
        if tree_path is not None:
            save_tree(root, swe.evaluator, tree_path)
    nodes = list(_walk(root))
    done = [n for n in nodes if n.state is not None and n.state.status == "finished"]
    candidates = [
        {
            "sid": n.state.sid,
            "patch": n.state.patch,
            "value": n.mean(0),
            "visits": n.visits,
            "steps": list(n.state.steps),
        }
        for n in done
        if n.state.patch
    ]
    open_nodes = [n for n in nodes if n.state is not None and n.state.diff and n.visits]
    fallback = None
    if open_nodes:
        best = max(open_nodes, key=lambda n: n.mean(0))
        fallback = {"sid": best.state.sid, "patch": best.state.diff, "value": best.mean(0),
                    "steps": list(best.state.steps)}  # fmt: skip
    if not candidates and not fallback and swe.policy.parse_errors and not root.children:
        raise _Unparsable
    return candidates, fallback


class _Unparsable(Exception):
    pass


SELECT_RULES = ("value", "visits")


def pick_candidate(candidates: Sequence[Mapping[str, Any]], rule: str) -> Mapping[str, Any]:
    """The final patch among finished episodes: by best mean value ("value", ties to the
    most visited) or by most visits ("visits", ties to the best value). Ties left after
    that go to the episode found first (the candidates come in tree order)."""
    if rule == "value":
        return max(candidates, key=lambda c: (c["value"], c["visits"]))
    if rule == "visits":
        return max(candidates, key=lambda c: (c["visits"], c["value"]))
    raise ValueError(f"unknown selection rule {rule!r}: one of {', '.join(SELECT_RULES)}")


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for c in node.children:
        yield from _walk(c)


def build_swe_search_graph(
    env: AgentEnv,
    checkpointer: Checkpointer = None,
    tree_path: Path | None = None,
    journal_path: Path | None = None,
) -> CompiledStateGraph[SearchState, None, SearchState, SearchState]:
    from langgraph.graph import END, StateGraph

    def search_node(state: SearchState) -> SearchState:
        swe = SweSearch.build(env, journal_path)
        try:
            candidates, fallback = run_search(env, tree_path, swe=swe)
        except _Unparsable:
            return {
                "status": UNPARSABLE, "patch": None, "candidates": [], "fallback": None,
                "replayed_llm_calls": swe.replayed_llm_calls,
            }  # fmt: skip
        return {
            "candidates": candidates, "fallback": fallback,
            "replayed_llm_calls": swe.replayed_llm_calls,
        }  # fmt: skip

    def discriminate(state: SearchState) -> SearchState:
        if state.get("status"):
            return {}
        cands = state.get("candidates") or []
        if cands:
            best = pick_candidate(cands, env.config.search.select)
            return {"status": "finished", "patch": best["patch"], "steps": best["steps"]}
        fb = state.get("fallback")
        if fb:
            return {"status": "max iterations", "patch": fb["patch"], "steps": fb["steps"]}
        return {"status": "max iterations", "patch": "", "steps": []}

    g = StateGraph(SearchState)
    g.add_node("search", search_node)
    g.add_node("discriminate", discriminate)
    g.set_entry_point("search")
    g.add_edge("search", "discriminate")
    g.add_edge("discriminate", END)
    return g.compile(checkpointer=checkpointer)


# ------------------------------------------------------------------ tree export


def tree_dict(node: Node, evaluator: SweEvaluator, parent: Node | None = None) -> dict[str, Any]:
    """The tree as JSON (trees/ID.json): per node its action and thought, visits, mean
    value, and once reached its state's id, status, last observation and judgement."""
    st: SweState | None = node.state
    out: dict[str, Any] = {
        "action": "root" if parent is None else node.action.short(),
        "thought": "" if parent is None else node.action.thought,
        "visits": node.visits,
        "value": round(node.mean(0), 4),
    }
    if st is not None:
        out["sid"] = st.sid
        out["status"] = st.status
        if st.steps:
            out["observation"] = st.steps[-1]["observation"]["text"][:500]
        if st.sid in evaluator.judgements:
            out["judge"] = evaluator.judgements[st.sid]
    kids = [c for c in node.children if c.state is not None]
    if kids:
        out["children"] = [tree_dict(c, evaluator, node) for c in kids]
    return out


def tree_html(tree: dict[str, Any]) -> str:
    """The HTML view of a `tree_dict` (trees/ID.html): the judge's verdict and the last
    observation under each node."""

    def note(parent: Mapping[str, Any] | None, n: Mapping[str, Any]) -> str:
        status = f" {n['status']}" if n.get("status") else ""
        return f"N={n['visits']} Q={n['value']:+.2f}{status}"

    def details(parent: Mapping[str, Any] | None, n: Mapping[str, Any]) -> list[str]:
        out = []
        judge = n.get("judge") or {}
        if judge:
            explanation = str(judge.get("explanation", ""))[:300]
            feedback = str(judge.get("feedback", ""))[:300]
            out.append(f"judge {judge.get('value')}: {explanation}\nfeedback: {feedback}")
        if n.get("observation"):
            out.append(str(n["observation"]))
        return out

    return tree_to_html(tree, details=details, note=note, title="SWE-Search tree")


def save_tree(root: Node, evaluator: SweEvaluator, path: Path) -> None:
    """trees/ID.json and trees/ID.html for `path` trees/ID."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = tree_dict(root, evaluator)
    (path.parent / f"{path.name}.json").write_text(json.dumps(tree, indent=2, default=str) + "\n")
    (path.parent / f"{path.name}.html").write_text(tree_html(tree))
