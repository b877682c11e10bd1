"""Model spec strings -> a backend wrapped with cache, retry, limits and budget."""

from __future__ import annotations

import os
from pathlib import Path

from agents.llm.budget import Account, BudgetedLLM, PricedLLM, parse_price, price_for
from agents.llm.cache import CachedLLM, ResponseCache, default_cache_dir
from agents.llm.concurrency import ConcurrencyLimitedLLM
from agents.llm.config import LLMConfig
from agents.llm.errors import ModelSpecError
from agents.llm.retry import RetryingLLM, RetryPolicy
from agents.llm.types import LLM, BaseLLM, Usage
from agents.llm.usage import GLOBAL_METER, MeteredLLM, RecordingLLM, UsageMeter
from foundation.budget import Budget

PROVIDERS = ("openai", "anthropic", "local", "llamacpp", "scripted")


def parse_spec(spec: str) -> tuple[str, str]:
    """'provider:target' -> (provider, target), with a message that says what's valid."""
    provider, sep, target = spec.partition(":")
    if not sep or not target.strip():
        raise ModelSpecError(
            f"model spec {spec!r} must look like PROVIDER:MODEL, e.g. local:smollm2, "
            "llamacpp:smollm2, openai:gpt-4o-mini, anthropic:claude-3-5-haiku-latest, "
            "scripted:answers.json"
        )
    if provider not in PROVIDERS:
        raise ModelSpecError(
            f"unknown provider {provider!r} in {spec!r}; use one of: {', '.join(PROVIDERS)}"
        )
    return provider, target.strip()


def make_backend(
    spec: str,
    base_url: str | None = None,
    timeout: float = 120.0,
    native_tools: bool | None = None,
) -> BaseLLM:
    """The bare backend for a spec, with no wrappers."""
    provider, target = parse_spec(spec)
    if provider == "openai":
        from agents.llm.openai_backend import OpenAILLM

        return OpenAILLM(target, base_url=base_url, timeout=timeout, native_tools=native_tools)
    if provider == "anthropic":
        from agents.llm.anthropic_backend import AnthropicLLM

        return AnthropicLLM(target, base_url=base_url, timeout=timeout, native_tools=native_tools)
    if base_url:
        raise ModelSpecError(f"--base-url applies to openai: and anthropic: specs, not {provider}:")
    if provider == "local":
        if native_tools:
            raise ModelSpecError(f"{spec} has no native tool calling (native_tools=True)")
        from agents.llm.local import LocalLLM

        return LocalLLM(target)
    if provider == "llamacpp":
        if native_tools:
            raise ModelSpecError(f"{spec} has no native tool calling (native_tools=True)")
        # Without llama-cpp-python (the optional extra `llamacpp`) this raises a one-line
        # ModelSpecError saying how to install it.
        from agents.llm.llamacpp_backend import LlamaCppLLM

        return LlamaCppLLM(target)
    from agents.llm.scripted import ScriptedLLM

    scripted = ScriptedLLM.from_file(target)
    if native_tools is not None:
        scripted.supports_tools = native_tools
    return scripted


def load_llm(
    spec: str | LLMConfig,
    *,
    meter: UsageMeter | None = None,
    budget: Budget | None = None,
    spent: Usage | None = None,
    retry: RetryPolicy | None = None,
    account: Account | None = None,
    backend: BaseLLM | None = None,
    **overrides: object,
) -> BaseLLM:
    """The usual way to get a model: backend + price + retry + concurrency
    limit + budget + response cache + usage meter (outermost first:
    meter, cache, budget, concurrency, retry, price, backend). `budget` caps calls,
    tokens and dollars (default: the config's max_cost / max_total_tokens); `spent` is what
    earlier sessions of the same run used against it. `account`: reserve against this
    shared account (its budget) instead (a Ray cluster's: `agents.llm.remote`); `backend`:
    answer with it instead of the spec's own (a model a Ray actor holds)."""
    config = spec if isinstance(spec, LLMConfig) else LLMConfig(model=spec)
    if overrides:
        config = config.model_copy(update=overrides)
    if backend is None:
        backend = make_backend(config.model, config.base_url, config.timeout, config.native_tools)
    provider, target = parse_spec(config.model)
    price = parse_price(config.price) if config.price else price_for(target)
    llm: LLM = backend
    record = os.environ.get("AGENTS_LLM_RECORD")
    if record:  # what reaches the model (below the cache), one JSON line per call
        llm = RecordingLLM(llm, Path(record).expanduser())
    llm = PricedLLM(llm, price)
    llm = RetryingLLM(llm, retry or RetryPolicy(max_attempts=config.max_attempts))
    llm = ConcurrencyLimitedLLM(llm, config.concurrency)
    if budget is None and (config.max_cost is not None or config.max_total_tokens is not None):
        budget = Budget(dollars=config.max_cost, tokens=config.max_total_tokens)
    if account is not None:
        llm = BudgetedLLM(llm, account.budget, price, account=account)
    elif budget is not None:
        llm = BudgetedLLM(llm, budget, price, spent)
    if config.cache and provider != "scripted":
        path = config.cache_path or default_cache_dir() / "responses.sqlite"
        # Keyed by what answers (the backend's endpoint URL or weight files), not its name.
        llm = CachedLLM(llm, ResponseCache(path))
    return MeteredLLM(llm, meter or GLOBAL_METER)
