"""A cap on calls in flight, shared by every task of the process."""

from __future__ import annotations

import asyncio
import threading
import weakref

from agents.llm.types import LLM, Completion, Request, Wrapper


class ConcurrencyLimitedLLM(Wrapper):
    """At most `limit` calls reach the inner LLM at once (per event loop)."""

    def __init__(self, inner: LLM, limit: int):
        super().__init__(inner)
        if limit < 1:
            raise ValueError("concurrency limit must be >= 1")
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _semaphore(self) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; `complete_sync` makes a new loop per call.
        loop = asyncio.get_running_loop()
        with self._lock:
            sem = self._semaphores.get(loop)
            if sem is None:
                sem = self._semaphores[loop] = asyncio.Semaphore(self.limit)
            return sem

    async def _complete(self, request: Request) -> list[Completion]:
        async with self._semaphore():
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                return await self.inner.complete_request(request)
            finally:
                self.in_flight -= 1
