"""LLM settings. The CLI's options are built from these fields and their descriptions."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LLMConfig(BaseModel):
    # Defaults go by keyword (`default=`): type checkers read `Field` through
    # dataclass_transform, which does not see a positional default.

    model: str = Field(
        default="local:smollm2",
        description="Model spec: openai:MODEL, anthropic:MODEL, local:smollm2, local:PATH, "
        "llamacpp:smollm2, llamacpp:FILE.gguf, scripted:FILE.",
    )
    base_url: str | None = Field(
        default=None,
        description="Server URL for openai:/anthropic: specs (any OpenAI-compatible server: "
        "vLLM, llama.cpp, Ollama, SGLang). Defaults to OPENAI_BASE_URL / ANTHROPIC_BASE_URL.",
    )
    timeout: float = Field(
        default=120.0, gt=0, description="Seconds before one HTTP request times out."
    )
    max_attempts: int = Field(
        default=4, ge=1, description="Attempts per call on 429/5xx/timeouts (backoff with jitter)."
    )
    concurrency: int = Field(default=8, ge=1, description="Calls in flight at once.")
    cache: bool = Field(
        default=True, description="Serve repeated calls from the persistent response cache."
    )
    cache_path: str | None = Field(
        default=None,
        description="sqlite file of the response cache (default: ~/.cache/agents-search).",
    )
    max_cost: float | None = Field(
        default=None, ge=0, description="Dollar cap for the run's LLM calls."
    )
    max_total_tokens: int | None = Field(
        default=None, ge=1, description="Token cap (input + output) for the run's LLM calls."
    )
    native_tools: bool | None = Field(
        default=None,
        description="Offer tools through the provider's native tool calling (else agents use "
        "a plain-text action format). Default: on for api.openai.com and Anthropic, off for "
        "other OpenAI-compatible servers unless AGENTS_NATIVE_TOOLS=1.",
    )
    price: str | None = Field(
        default=None,
        description="Override the price: 'INPUT,OUTPUT[,CACHED]' dollars per 1M tokens.",
    )


def describe(field: str) -> str:
    """The help text of one config field, for CLI options."""
    info = LLMConfig.model_fields[field]
    return info.description or field
