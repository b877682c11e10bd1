"""The LLM layer: one async protocol (`LLM`), many backends, wrappers for the rest.
Annotate with `LLM` where any model will do: every backend and wrapper satisfies it.

llm = load_llm("local:smollm2")            # or openai:gpt-4o-mini, anthropic:..., scripted:FILE
completions = await llm.complete([{"role": "user", "content": "Hi"}], n=2, temperature=0.7)
if llm.supports_tools:                     # native tool calling: see agents.llm.types
    [c] = await llm.complete(messages, tools=[{"name": ..., "parameters": {...}}])
    c.tool_calls                           # (ToolCall(id, name, arguments), ...)
"""

from agents.llm.budget import BudgetedLLM, Price
from agents.llm.cache import CachedLLM, ResponseCache
from agents.llm.concurrency import ConcurrencyLimitedLLM
from agents.llm.config import LLMConfig
from agents.llm.errors import (
    BadResponseError,
    BudgetExceeded,
    ConnectionFailed,
    LLMError,
    MissingKeyError,
    ModelSpecError,
    RateLimitError,
    RequestRejected,
    ServerError,
    TransientError,
)
from agents.llm.retry import RetryingLLM, RetryPolicy
from agents.llm.scripted import ScriptedLLM
from agents.llm.spec import load_llm, make_backend, parse_spec
from agents.llm.tools import assistant_message, tool_result
from agents.llm.types import (
    LLM,
    BaseLLM,
    Completion,
    Message,
    Request,
    TokenLogprob,
    ToolCall,
    Usage,
)
from agents.llm.usage import GLOBAL_METER, MeteredLLM, UsageMeter, UsageSummary

__all__ = [
    "GLOBAL_METER",
    "LLM",
    "BadResponseError",
    "BaseLLM",
    "BudgetExceeded",
    "BudgetedLLM",
    "CachedLLM",
    "Completion",
    "ConcurrencyLimitedLLM",
    "ConnectionFailed",
    "LLMConfig",
    "LLMError",
    "Message",
    "MeteredLLM",
    "MissingKeyError",
    "ModelSpecError",
    "Price",
    "RateLimitError",
    "Request",
    "RequestRejected",
    "ResponseCache",
    "RetryPolicy",
    "RetryingLLM",
    "ScriptedLLM",
    "ServerError",
    "TokenLogprob",
    "ToolCall",
    "TransientError",
    "Usage",
    "UsageMeter",
    "UsageSummary",
    "assistant_message",
    "load_llm",
    "make_backend",
    "parse_spec",
    "tool_result",
]
