"""Retries with exponential backoff and jitter on transient failures (429, 5xx,
timeouts, dropped connections), honouring the server's Retry-After."""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from agents.llm.errors import TransientError
from agents.llm.types import LLM, Completion, Request, Wrapper


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    initial_wait: float = 0.5  # seconds; doubles each attempt, with full jitter
    max_wait: float = 30.0  # cap on one wait, Retry-After included


class RetryingLLM(Wrapper):
    """Retries `TransientError`s; the last one propagates with its message intact."""

    def __init__(self, inner: LLM, policy: RetryPolicy | None = None):
        super().__init__(inner)
        self.policy = policy or RetryPolicy()
        self.attempts = 0  # total attempts made, for tests and summaries
        jitter = wait_random_exponential(
            multiplier=self.policy.initial_wait, max=self.policy.max_wait
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TransientError) and exc.retry_after is not None:
                return min(max(exc.retry_after, 0.0), self.policy.max_wait)
            return float(jitter(state))

        self._wait = wait

    async def _complete(self, request: Request) -> list[Completion]:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            reraise=True,
        ):
            with attempt:
                self.attempts += 1
                return await self.inner.complete_request(request)
        raise AssertionError("unreachable")  # pragma: no cover
