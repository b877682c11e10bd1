"""A usage meter every command can read: calls, tokens, cached tokens, cost, cache hits."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from agents.llm.types import LLM, Completion, Request, Usage, Wrapper
from foundation.jsonl import JsonlLog, read_rows


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
    """Thread-safe running totals. `GLOBAL_METER` collects every LLM made by `load_llm`.

    With a `ledger` (a run's `usage.jsonl`) the totals are the run's over every session:
    they start from what the ledger holds, and each call appends its usage as one fsynced
    line, so a run resumed after Ctrl-C or a kill -9 counts (and budgets) what it already
    spent. A torn last line (killed mid-write) is skipped."""

    def __init__(self, ledger: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._summary = UsageSummary()
        self._ledger: JsonlLog | None = None
        if ledger is not None:
            fields = set(asdict(self._summary))
            for row in read_rows(ledger):
                self._add(UsageSummary(**{k: v for k, v in row.items() if k in fields}))
            self._ledger = JsonlLog(ledger)

    def _add(self, delta: UsageSummary) -> None:
        s = self._summary
        s.calls += delta.calls
        s.cache_hits += delta.cache_hits
        s.input_tokens += delta.input_tokens
        s.output_tokens += delta.output_tokens
        s.cached_tokens += delta.cached_tokens
        s.cost += delta.cost

    def record(self, completions: list[Completion]) -> None:
        usage = sum((c.usage for c in completions if not c.from_cache), Usage())
        hit = bool(completions) and all(c.from_cache for c in completions)
        delta = UsageSummary(
            1, int(hit), usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.cost
        )
        self.add(delta)

    def add(self, delta: UsageSummary) -> None:
        """Count usage measured elsewhere (a Ray worker's calls for one unit) as if its
        calls had gone through this meter."""
        with self._lock:
            self._add(delta)
            if self._ledger is not None:
                self._ledger.append(delta.as_dict())

    def spent(self) -> Usage:
        """The totals as a `Usage`: what a run's `Budget` starts from."""
        s = self.summary()
        return Usage(s.input_tokens, s.output_tokens, s.cached_tokens, s.cost)

    def summary(self) -> UsageSummary:
        with self._lock:
            return UsageSummary(**asdict(self._summary))

    def reset(self) -> None:
        with self._lock:
            self._summary = UsageSummary()


GLOBAL_METER = UsageMeter()


class MeteredLLM(Wrapper):
    """Records every call into a meter (outermost wrapper, so cache hits count too)."""

    def __init__(self, inner: LLM, meter: UsageMeter | None = None):
        super().__init__(inner)
        self.meter = meter or GLOBAL_METER

    async def _complete(self, request: Request) -> list[Completion]:
        completions = await self.inner.complete_request(request)
        self.meter.record(completions)
        return completions


class RecordingLLM(Wrapper):
    """Appends every request that reaches the model to a JSONL file (messages and sampling
    parameters, one line per call, flushed as it is written): a run's real prompts, for
    replaying them (`agents bench llm` replays a SWE-Search run's) or for debugging.
    Enabled by `AGENTS_LLM_RECORD=FILE` (load_llm)."""

    def __init__(self, inner: LLM, path: Path) -> None:
        super().__init__(inner)
        self.path = path

    async def _complete(self, request: Request) -> list[Completion]:
        line = {
            "messages": [dict(m) for m in request.messages],
            "n": request.n,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stop": list(request.stop) if request.stop else None,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        return await self.inner.complete_request(request)


class CallLog(Wrapper):
    """Keeps every call in memory, in order (`calls`): the messages sent, each completion's
    text and finish reason, the tokens and seconds; for a run's report (a trajectory's
    "calls"). Several `CallLog`s may share one list (`calls=`), each with its `role`."""

    def __init__(
        self, inner: LLM, calls: list[dict[str, object]] | None = None, role: str = "agent"
    ) -> None:
        super().__init__(inner)
        self.calls: list[dict[str, object]] = [] if calls is None else calls
        self.role = role

    async def _complete(self, request: Request) -> list[Completion]:
        import time

        start = time.monotonic()
        completions = await self.inner.complete_request(request)
        usage = sum((c.usage for c in completions), Usage())
        self.calls.append(
            {
                "role": self.role,
                "messages": [dict(m) for m in request.messages],
                "completions": [
                    {"text": c.text, "finish_reason": c.finish_reason} for c in completions
                ],
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "seconds": round(time.monotonic() - start, 3),
                "from_cache": all(c.from_cache for c in completions),
            }
        )
        return completions
