"""Map the OpenAI/Anthropic SDK exceptions (same shape in both) to our typed errors."""

from __future__ import annotations

import email.utils
import time
from types import ModuleType

from agents.llm.errors import (
    BadResponseError,
    ConnectionFailed,
    LLMError,
    RateLimitError,
    RequestRejected,
    ServerError,
    TimeoutError_,
)


def retry_after_seconds(headers: object) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def map_sdk_error(exc: Exception, sdk: ModuleType, where: str) -> LLMError:
    """One typed error, with a message that says what happened and where."""
    if isinstance(exc, sdk.APITimeoutError):
        return TimeoutError_(f"{where}: request timed out")
    if isinstance(exc, sdk.APIConnectionError):
        return ConnectionFailed(
            f"{where}: cannot connect ({exc.__cause__ or exc}); is the server up?"
        )
    if isinstance(exc, sdk.APIResponseValidationError):
        return BadResponseError(f"{where}: malformed response body ({exc})")
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        detail = _short(getattr(exc, "message", "") or str(exc))
        retry_after = retry_after_seconds(exc.response.headers)
        if status == 429:
            return RateLimitError(
                f"{where}: rate limited (429): {detail}", retry_after=retry_after, status=status
            )
        if status >= 500 or status in (408, 409):
            return ServerError(
                f"{where}: server error {status}: {detail}", retry_after=retry_after, status=status
            )
        if status in (401, 403):
            return RequestRejected(f"{where}: the API key was refused ({status}): {detail}")
        return RequestRejected(f"{where}: request rejected ({status}): {detail}")
    return BadResponseError(f"{where}: {type(exc).__name__}: {_short(str(exc))}")


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
