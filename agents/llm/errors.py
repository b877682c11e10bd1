"""Typed LLM errors: callers catch these, the CLI prints them in one line."""

from __future__ import annotations

from foundation.budget import BudgetExhausted


class LLMError(Exception):
    """Base of every error the LLM layer raises on purpose."""


class ModelSpecError(LLMError):
    """The model spec string is malformed or names an unknown provider/model."""


class MissingKeyError(LLMError):
    """A hosted backend's API key is not in the environment."""


class TransientError(LLMError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class RateLimitError(TransientError):
    """HTTP 429."""


class ServerError(TransientError):
    """HTTP 5xx."""


class TimeoutError_(TransientError):
    """The request did not answer in time."""


class ConnectionFailed(TransientError):
    """The server could not be reached."""


class BadResponseError(LLMError):
    """The server answered, but not in the expected wire format."""


class RequestRejected(LLMError):
    """A 4xx other than 429: bad request, auth failure, unknown model."""


class BudgetExceeded(LLMError, BudgetExhausted):
    """A call would exceed the token or dollar cap; the call was not made."""

    def __init__(self, message: str, *, usage: object | None = None):
        super().__init__(message)
        self.usage = usage


class OutOfCalls(RuntimeError):
    """An episode's LLM-call cap (`CallBudget`) is spent: the agent ends the episode as it
    stands. Not a `BudgetExhausted`: it ends one instance, not the run."""
