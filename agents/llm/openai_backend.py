"""OpenAI chat completions, and every server that speaks that wire format
(vLLM, llama.cpp server, Ollama, SGLang) through `base_url`."""

from __future__ import annotations

import os
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from agents.llm.errors import BadResponseError, LLMError, MissingKeyError
from agents.llm.http_errors import map_sdk_error
from agents.llm.openai_wire import openai_tools, to_openai
from agents.llm.tools import parse_arguments
from agents.llm.types import BaseLLM, Completion, Request, TokenLogprob, ToolCall, Usage

OFFICIAL_HOST = "api.openai.com"
NATIVE_TOOLS_ENV = "AGENTS_NATIVE_TOOLS"


def native_tools_default(base_url: str | None) -> bool:
    """api.openai.com has tool calling; other compatible servers often need it switched
    on (vLLM --enable-auto-tool-choice, llama.cpp --jinja), so they get it only when
    AGENTS_NATIVE_TOOLS=1 (or LLMConfig.native_tools) says so."""
    env = os.environ.get(NATIVE_TOOLS_ENV, "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    return base_url is None or OFFICIAL_HOST in base_url


class OpenAILLM(BaseLLM):
    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        native_tools: bool | None = None,
    ):
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.name = f"openai:{model}"
        self.supports_tools = (
            native_tools_default(self.base_url) if native_tools is None else native_tools
        )
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise MissingKeyError(
                "OPENAI_API_KEY is not set: export it (for a local server that checks no key, "
                "any value works, e.g. OPENAI_API_KEY=none)"
            )
        # Retries are ours (agents.llm.retry), so the SDK must not retry on its own.
        self._client = openai.AsyncOpenAI(
            api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout
        )
        self._where = f"openai {self.base_url or OFFICIAL_HOST}"
        self._endpoint = str(self._client.base_url)  # the URL requests really go to

    def cache_identity(self) -> str:
        return f"{self.name}@{self._endpoint}"

    async def _complete(self, request: Request) -> list[Completion]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai(request.messages),
            "n": request.n,
            "temperature": request.temperature,
        }
        # api.openai.com wants max_completion_tokens; compatible servers know max_tokens.
        if self.base_url is None or OFFICIAL_HOST in self.base_url:
            kwargs["max_completion_tokens"] = request.max_tokens
        else:
            kwargs["max_tokens"] = request.max_tokens
        if request.stop:
            kwargs["stop"] = list(request.stop)
        if request.logprobs:
            kwargs["logprobs"] = True
            if request.top_logprobs:
                kwargs["top_logprobs"] = request.top_logprobs
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.tools:
            kwargs["tools"] = openai_tools(request.tools)
        try:
            response: ChatCompletion = await self._client.chat.completions.create(**kwargs)
        except openai.OpenAIError as exc:
            raise map_sdk_error(exc, openai, self._where) from None
        except (ValueError, TypeError, AttributeError) as exc:  # e.g. a body that is not JSON
            raise BadResponseError(
                f"{self._where}: malformed response body ({type(exc).__name__}: {exc})"
            ) from None
        try:
            return self._parse(response)
        except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
            raise BadResponseError(
                f"{self._where}: malformed chat-completions body ({type(exc).__name__}: {exc})"
            ) from None

    def _parse(self, response: ChatCompletion) -> list[Completion]:
        """The SDK builds the body without validating it: any field may be missing or
        of another type, hence the checks and the caller's except."""
        choices = response.choices
        if not isinstance(choices, list) or not choices:
            raise ValueError("no choices")
        u = response.usage
        details = getattr(u, "prompt_tokens_details", None) if u else None
        usage = Usage(
            input_tokens=int(u.prompt_tokens) if u else 0,
            output_tokens=0,
            cached_tokens=int(getattr(details, "cached_tokens", 0) or 0),
        )
        out_total = int(u.completion_tokens) if u else 0
        completions = []
        for i, choice in enumerate(sorted(choices, key=lambda c: c.index)):
            text = choice.message.content
            if text is None:
                text = ""
            elif not isinstance(text, str):
                raise TypeError("message.content is not a string")
            lp = None
            if choice.logprobs is not None and choice.logprobs.content is not None:
                lp = tuple(
                    TokenLogprob(
                        t.token,
                        float(t.logprob),
                        tuple(
                            TokenLogprob(a.token, float(a.logprob))
                            for a in getattr(t, "top_logprobs", None) or ()
                        ),
                    )
                    for t in choice.logprobs.content
                )
            calls = _tool_calls(getattr(choice.message, "tool_calls", None))
            out = out_total // len(choices) + (1 if i < out_total % len(choices) else 0)
            share = Usage(
                usage.input_tokens if i == 0 else 0,
                out,
                usage.cached_tokens if i == 0 else 0,
            )
            completions.append(
                Completion(
                    text=text,
                    finish_reason=choice.finish_reason or "stop",
                    logprobs=lp,
                    usage=share,
                    model=self.name,
                    index=i,
                    tool_calls=calls,
                )
            )
        return completions

    async def aclose(self) -> None:
        await self._client.close()


def _tool_calls(raw: object) -> tuple[ToolCall, ...]:
    """`message.tool_calls`; arguments arrive as a JSON string, possibly malformed."""
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise TypeError("message.tool_calls is not a list")
    calls = []
    for c in raw:
        fn = c.function  # a custom (non-function) tool call has none: AttributeError
        if not isinstance(fn.name, str):
            raise TypeError("tool call without a function name")
        calls.append(parse_arguments(str(c.id), fn.name, fn.arguments))
    return tuple(calls)


def check_key() -> str | None:
    """Why the backend is not usable, or None."""
    return None if os.environ.get("OPENAI_API_KEY") else "OPENAI_API_KEY not set"


__all__ = ["LLMError", "OpenAILLM", "check_key"]
