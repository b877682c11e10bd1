"""Leaf evaluators and the wrappers around them (the `Evaluator` seam of search/problem.py).

`RandomRollout` plays uniformly random moves to the end through the `Problem`
(pure Python; native games use OpenSpiel's C++ rollouts from `games/`).
Caching and batching wrap any evaluator instead of living inside each one.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from search.problem import CHANCE, Evaluator, Problem, Values


class RandomRollout:
    """Mean returns of `rollouts` uniformly random playouts (chance moves by probability)."""

    def __init__(self, problem: Problem[Any, Any], rollouts: int = 1, seed: int = 0) -> None:
        self.problem = problem
        self.rollouts = rollouts
        self.rng = random.Random(seed)

    def evaluate(self, states: Sequence[Any]) -> list[Values]:
        return [self._one(s) for s in states]

    def _one(self, state: Any) -> Values:
        p = self.problem
        total = [0.0] * p.num_players()
        for _ in range(self.rollouts):
            s = state
            while not p.is_terminal(s):
                if p.current_player(s) == CHANCE:
                    outcomes = p.chance_outcomes(s)
                    actions = [a for a, _ in outcomes]
                    weights = [w for _, w in outcomes]
                    a = self.rng.choices(actions, weights)[0]
                else:
                    a = self.rng.choice(list(p.actions(s)))
                s = p.step(s, a)
            for i, r in enumerate(p.returns(s)):
                total[i] += r
        return [t / self.rollouts for t in total]


class CachedEvaluator:
    """Remembers values by `key(state)` (LRU, at most `maxsize` entries); counts hits."""

    def __init__(
        self,
        inner: Evaluator[Any],
        key: Callable[[Any], Hashable] = lambda s: s,
        maxsize: int = 100_000,
    ) -> None:
        self.inner = inner
        self.key = key
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[Hashable, Values] = OrderedDict()

    def evaluate(self, states: Sequence[Any]) -> list[Values]:
        keys = [self.key(s) for s in states]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        self.hits += len(states) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = self.inner.evaluate([states[i] for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                self._cache[keys[i]] = v
        out = []
        for k in keys:
            self._cache.move_to_end(k)
            out.append(self._cache[k])
        while len(self._cache) > self.maxsize:
            self._cache.popitem(last=False)
        return out


class BatchingEvaluator:
    """Collects concurrent `evaluate_async` calls into batches of at most `max_batch` states.

    A batch is sent when it is full or when every waiting coroutine has queued
    its request (one event-loop turn), so an async search with W workers makes
    about one `inner.evaluate` call per W leaves. `batch_sizes` records each call.
    """

    def __init__(self, inner: Evaluator[Any], max_batch: int = 16) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self.batch_sizes: list[int] = []
        self._queue: list[tuple[Any, asyncio.Future[Values]]] = []
        self._flush_scheduled = False

    def evaluate(self, states: Sequence[Any]) -> list[Values]:
        self.batch_sizes.append(len(states))
        return self.inner.evaluate(states)

    async def evaluate_async(self, states: Sequence[Any]) -> list[Values]:
        loop = asyncio.get_running_loop()
        futures = []
        for s in states:
            fut: asyncio.Future[Values] = loop.create_future()
            self._queue.append((s, fut))
            futures.append(fut)
        if len(self._queue) >= self.max_batch:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return list(await asyncio.gather(*futures))

    def _flush(self) -> None:
        self._flush_scheduled = False
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                values = self.evaluate([s for s, _ in batch])
            except Exception as exc:  # hand the failure to every waiter
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), v in zip(batch, values, strict=True):
                if not fut.done():
                    fut.set_result(v)
