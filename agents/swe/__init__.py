"""The repository agent's parts: tools run in a sandbox, the action format,
prompts, SWE-Search's Problem/Policy/Evaluator, and the per-instance runner.
The LangGraph graphs that drive them live in `agents/graphs/`."""
