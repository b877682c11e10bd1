"""LangGraph agent graphs (README.md, Layout): ReAct, SWE-Search, RAFA, story, game player.

Import the submodule you need (`agents.graphs.react`, ...); nothing is imported here.
"""
