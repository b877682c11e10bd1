"""One planning agent (RAFA, ToT, noplan, ReAct) on one environment: the unit of work of
every planning run (`agents solve --task game24|blocksworld|tictactoe`)."""

from __future__ import annotations

from agents.graphs.env import Env
from agents.graphs.rafa import PRESETS, Episode, RAFAAgent, RAFAConfig
from agents.graphs.react_planning import ReActAgent, ReActConfig
from agents.llm import LLM, MeteredLLM, UsageMeter
from agents.llm.budget import CallBudget

AGENTS = ("rafa", "tot", "react", "noplan")


def run_episode(
    llm: LLM,
    env: Env,
    agent: str,
    config: RAFAConfig | None = None,
    max_calls: int | None = None,
) -> Episode:
    """`agent` on `env` with a fresh call budget (`max_calls`, ending the episode as it
    stands) and usage meter; the episode carries its calls, tokens and cost."""
    meter = UsageMeter()
    metered = MeteredLLM(CallBudget(llm, max_calls), meter)
    if agent == "react":
        episode = ReActAgent(metered, env, ReActConfig(max_calls=max_calls)).run()
    else:
        episode = RAFAAgent(metered, env, config or PRESETS[agent]).run()
    used = meter.summary()
    episode.calls = used.calls
    episode.tokens = used.input_tokens + used.output_tokens
    episode.cost = used.cost
    return episode
