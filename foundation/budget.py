"""The one way a budget ends work: `BudgetExhausted`. Every cap (LLM calls, tokens, dollars,
search simulations or seconds, sandbox seconds) raises it, or a subclass, when reached;
the run loop (`foundation.runs.run_units`) catches it and ends the run with what finished
(`stopped="budget"`), the unit that was cut short left for a rerun to redo."""

from __future__ import annotations


class BudgetExhausted(Exception):
    """A budget was reached; the message names it and the flag that raises it."""
