"""The linear ReAct agent (the SWE-Search paper's baseline) as a LangGraph graph.

    act --(action)--> tool --(not done)--> act
     |  \\--(parse error, retries left)--> act
     \\--(limit / unparsable)--> END      tool --(finish/reject)--> END

State is plain JSON (steps, the working-tree diff, status, patch), checkpointed after
every node, so a killed run resumes: the runner re-applies the checkpointed diff to a
fresh sandbox and continues the thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from agents.swe.env import UNPARSABLE, AgentEnv

if TYPE_CHECKING:  # langgraph is imported when a graph is built
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Checkpointer


class ReactState(TypedDict, total=False):
    steps: list[dict[str, Any]]
    diff: str
    status: str | None  # finished | rejected | max iterations | max calls | error: ...
    patch: str | None
    bad: int  # consecutive unparsable answers
    pending: dict[str, Any] | None  # the parsed action waiting for the tool node


def build_react_graph(
    env: AgentEnv, checkpointer: Checkpointer = None
) -> CompiledStateGraph[ReactState, None, ReactState, ReactState]:
    from langgraph.graph import END, StateGraph

    cfg = env.config

    def act(state: ReactState) -> ReactState:
        steps = state.get("steps", [])
        done = sum(1 for s in steps if "observation" in s)
        if done >= cfg.max_iterations:
            return {"status": "max iterations", "patch": state.get("diff", "")}
        if cfg.max_calls is not None and env.stats.llm_calls >= cfg.max_calls:
            return {"status": "max calls", "patch": state.get("diff", "")}
        step = env.ask(steps)
        if "error" in step:
            bad = state.get("bad", 0) + 1
            out: ReactState = {"steps": [*steps, step], "bad": bad, "pending": None}
            if bad >= cfg.max_parse_errors:
                out.update({"status": UNPARSABLE, "patch": None})
            return out
        return {"pending": step, "bad": 0}

    def tool(state: ReactState) -> ReactState:
        step = env.execute(state["pending"] or {})
        obs = step["observation"]
        out: ReactState = {"steps": [*state.get("steps", []), step], "pending": None}
        out["diff"] = env.diff()
        tool_name = step["action"]["tool"]
        if tool_name == "finish":
            out.update({"status": "finished", "patch": obs["patch"] or ""})
        elif tool_name == "reject":
            out.update({"status": "rejected", "patch": ""})
        return out

    def after_act(state: ReactState) -> str:
        if state.get("status"):
            return END
        return "tool" if state.get("pending") else "act"

    def after_tool(state: ReactState) -> str:
        return END if state.get("status") else "act"

    g = StateGraph(ReactState)
    g.add_node("act", act)
    g.add_node("tool", tool)
    g.set_entry_point("act")
    g.add_conditional_edges("act", after_act, {"tool": "tool", "act": "act", END: END})
    g.add_conditional_edges("tool", after_tool, {"act": "act", END: END})
    return g.compile(checkpointer=checkpointer)
