"""A usage meter every command can read: calls, tokens, cached tokens, cost, cache hits."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from agents.llm.types import BaseLLM, Completion, Request, Usage, Wrapper


@dataclass
class UsageSummary:
    calls: int = 0
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.calls} calls ({self.cache_hits} from cache), "
            f"{self.input_tokens} in / {self.output_tokens} out tokens "
            f"({self.cached_tokens} prompt-cached), ${self.cost:.4f}"
        )


class UsageMeter:
    """Thread-safe running totals. `GLOBAL_METER` collects every LLM made by `load_llm`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._summary = UsageSummary()

    def record(self, completions: list[Completion]) -> None:
        usage = sum((c.usage for c in completions if not c.from_cache), Usage())
        hit = bool(completions) and all(c.from_cache for c in completions)
        with self._lock:
            s = self._summary
            s.calls += 1
            s.cache_hits += int(hit)
            s.input_tokens += usage.input_tokens
            s.output_tokens += usage.output_tokens
            s.cached_tokens += usage.cached_tokens
            s.cost += usage.cost

    def summary(self) -> UsageSummary:
        with self._lock:
            return UsageSummary(**asdict(self._summary))

    def reset(self) -> None:
        with self._lock:
            self._summary = UsageSummary()


GLOBAL_METER = UsageMeter()


class MeteredLLM(Wrapper):
    """Records every call into a meter (outermost wrapper, so cache hits count too)."""

    def __init__(self, inner: BaseLLM, meter: UsageMeter | None = None):
        super().__init__(inner)
        self.meter = meter or GLOBAL_METER

    async def _complete(self, request: Request) -> list[Completion]:
        completions = await self.inner._complete(request)
        self.meter.record(completions)
        return completions
