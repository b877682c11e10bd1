"""Prices and a token/dollar budget, enforced in one place.

The budget reserves a call's worst case (prompt estimate + n * max_tokens)
before sending and settles to the real usage after, so concurrent calls can
overshoot the cap by at most what one in-flight call under-estimated.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from agents.llm.errors import BudgetExceeded, LLMError, OutOfCalls
from agents.llm.types import LLM, Completion, Request, Usage, Wrapper
from foundation.budget import Budget, Spent


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float
    cached_input: float | None = None  # defaults to the input price

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached_tokens, usage.input_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        return (
            (usage.input_tokens - cached) * self.input
            + cached * cached_price
            + usage.output_tokens * self.output
        ) / 1e6


FREE = Price(0.0, 0.0)

# List prices (USD per 1M tokens) as published by the providers; override with
# AGENTS_PRICES=path.json ({"model": [input, output, cached_input]}) or --price.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "claude-3-5-sonnet": Price(3.00, 15.00, 0.30),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30),
    "claude-opus-4": Price(15.00, 75.00, 1.50),
}


def parse_price(text: str) -> Price:
    """'IN,OUT[,CACHED]' in dollars per million tokens."""
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (2, 3) or any(p < 0 for p in parts):
        raise LLMError(f"price {text!r}: expected 'INPUT,OUTPUT[,CACHED]' dollars per 1M tokens")
    return Price(*parts)


def load_price_table(path: str | os.PathLike[str] | None = None) -> dict[str, Price]:
    table = dict(DEFAULT_PRICES)
    path = path or os.environ.get("AGENTS_PRICES")
    if path:
        try:
            raw = json.loads(Path(path).read_text())
            table.update({k: Price(*v) for k, v in raw.items()})
        except (OSError, ValueError, TypeError) as exc:
            raise LLMError(f"price table {path}: {exc}") from exc
    return table


def price_for(model: str, table: dict[str, Price] | None = None) -> Price:
    """Exact model name first, then the longest known prefix (dated snapshots)."""
    table = table if table is not None else load_price_table()
    if model in table:
        return table[model]
    matches = [k for k in table if model.startswith(k)]
    return table[max(matches, key=len)] if matches else FREE


class PricedLLM(Wrapper):
    """Fills in each completion's cost from the price table."""

    def __init__(self, inner: LLM, price: Price):
        super().__init__(inner)
        self.price = price

    async def _complete(self, request: Request) -> list[Completion]:
        completions = await self.inner.complete_request(request)
        return [c.with_(usage=_with_cost(c.usage, self.price)) for c in completions]


def _with_cost(usage: Usage, price: Price) -> Usage:
    return Usage(usage.input_tokens, usage.output_tokens, usage.cached_tokens, price.cost(usage))


def estimate_prompt_tokens(request: Request) -> int:
    """A deliberately generous estimate (~3 characters a token) for reservations;
    tool schemas and tool calls are sent as input too."""
    chars = sum(len(str(m.get("content") or "")) + 8 for m in request.messages)
    chars += sum(len(json.dumps(m["tool_calls"])) for m in request.messages if m.get("tool_calls"))
    if request.tools:
        chars += len(json.dumps(request.tools))
    return chars // 3 + 1


class Account:
    """A run's spending against its `Budget`: what finished calls used (`spent`, `calls`)
    and what calls in flight reserved (their worst case). Thread-safe. One account can
    serve several `BudgetedLLM`s: on a Ray cluster it lives in one actor that every
    worker's model asks (`agents.llm.remote`), so the cap holds across workers."""

    def __init__(self, budget: Budget, spent: Usage | None = None) -> None:
        self.budget = budget
        self.spent = spent or Usage()
        self.calls = 0
        self._reserved = Spent()
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def used(self) -> Spent:
        return Spent(calls=self.calls, tokens=self.spent.total_tokens, dollars=self.spent.cost)

    def admit(self, worst: Spent, who: str = "", calibrating: bool = False) -> str | None:
        """Reserve `worst` for a call of `who`: None when reserved, "" when `who` should
        wait (`calibrating`, its first call, while another of its calls is in flight), or
        the refusal's message when the call would pass a cap."""
        with self._lock:
            if calibrating and self._in_flight.get(who, 0) > 0:
                return ""
            used = self.used()
            pending = self._reserved + worst
            cap = (used + pending).passes(self.budget)
            if cap is not None:
                return (
                    f"budget: this call could use up to ${worst.dollars:.4f} / {worst.tokens} "
                    f"tokens, which would pass the {cap} cap (spent {used.describe(self.budget)}); "
                    "raise the cap (--max-cost for dollars) or lower max_tokens"
                )
            self._reserved = pending
            self._in_flight[who] = self._in_flight.get(who, 0) + 1
            return None

    def settle(self, worst: Spent, actual: Usage, who: str = "") -> None:
        """A call admitted with `worst` came back having used `actual`."""
        with self._lock:
            self._reserved = self._reserved - worst
            self._in_flight[who] -= 1
            self.calls += 1
            self.spent = self.spent + actual


class BudgetedLLM(Wrapper):
    """Refuses (raises `BudgetExceeded`, a `BudgetExhausted`) any call whose worst case
    would pass a cap of `budget` (its calls, tokens and dollars; `spent`: what earlier
    sessions of the same run used). `spent` and `calls` are what this wrapper has counted
    since. `account`: a shared `Account` to reserve against instead of its own (calls
    and tokens are then the account's, over every model that shares it).

    The prompt's size is estimated from its characters, calibrated by the
    largest ratio of real to estimated prompt tokens seen so far. Until the
    first call has come back (no calibration yet) calls go one at a time, so
    an uncalibrated estimate can be wrong for one in-flight call only.
    """

    def __init__(
        self,
        inner: LLM,
        budget: Budget,
        price: Price,
        spent: Usage | None = None,
        account: Account | None = None,
    ):
        super().__init__(inner)
        self.budget = budget
        self.price = price
        self.spent = spent or Usage()
        self.calls = 0
        self.account = account or Account(budget, self.spent)
        self._lock = threading.Lock()  # held only for bookkeeping, never across an await
        self._ratio: float | None = None
        self._who = f"{os.getpid()}:{id(self)}"

    def _worst_case(self, request: Request) -> tuple[int, Spent]:
        estimate = estimate_prompt_tokens(request)
        prompt = int(estimate * (self._ratio or 1.0)) + 1
        output = request.n * request.max_tokens
        cost = self.price.cost(Usage(prompt, output))
        return estimate, Spent(calls=1, tokens=prompt + output, dollars=cost)

    async def _complete(self, request: Request) -> list[Completion]:
        while True:
            estimate, worst = self._worst_case(request)
            refusal = self.account.admit(worst, self._who, self._ratio is None)
            if refusal is None:
                break
            if refusal:
                raise BudgetExceeded(refusal, usage=self.spent)
            await asyncio.sleep(0.005)
        completions: list[Completion] = []
        try:
            completions = await self.inner.complete_request(request)
        finally:
            actual = sum((c.usage for c in completions), Usage())
            self.account.settle(worst, actual, self._who)
            with self._lock:
                self.calls += 1
                self.spent = self.spent + actual
                if completions:
                    ratio = actual.input_tokens / max(1, estimate)
                    self._ratio = max(self._ratio or 0.0, ratio, 1.0)
        return completions


class CallBudget(Wrapper):
    """A per-episode cap on calls (a planning instance's `max_calls`): once `max_calls`
    have been made, the next raises `OutOfCalls`, which the agent catches to end its
    episode as it stands. The run's caps (tokens, dollars) are `BudgetedLLM`'s."""

    def __init__(self, inner: LLM, max_calls: int | None) -> None:
        super().__init__(inner)
        self.max_calls = max_calls
        self.calls = 0

    async def _complete(self, request: Request) -> list[Completion]:
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise OutOfCalls(f"the budget of {self.max_calls} LLM calls is spent")
        self.calls += 1
        return await self.inner.complete_request(request)
