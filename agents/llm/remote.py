"""A run's model on a Ray cluster (`--executor ray`, `foundation.executors`).

The command that runs (the driver) does not pickle its model into the units: it sends a
`RemoteModel`, a recipe each worker process builds its model from, once:

- the budget lives in one `Account` held by a ledger actor the driver starts; every
  worker's `BudgetedLLM` reserves a call's worst case there before sending it, so a
  cluster cannot pass `--max-cost` by more than the calls in flight (each reserved
  its worst case: what they can overshoot is what their estimates missed);
- a local model (`local:`, `llamacpp:`) is loaded once per node, by a `ModelHost` actor
  the driver places on each node; workers send it their requests. Hosted models
  (`openai:`, `anthropic:`) need nothing: each worker builds its own client;
- usage: each worker meters its calls; a unit's usage goes back with its row
  (`unit_usage`), and the driver adds it to the run's meter (`usage.jsonl`).

`ray` is imported only by the functions that need it (the optional extra `[ray]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from agents.llm.budget import FREE, Account, BudgetedLLM
from agents.llm.config import LLMConfig
from agents.llm.types import LLM, BaseLLM, Completion, Request, Usage
from agents.llm.usage import MeteredLLM, UsageMeter, UsageSummary
from foundation.budget import Budget, Spent
from foundation.executors import import_ray

LOCAL_PROVIDERS = ("local", "llamacpp")
"""Specs whose model is loaded in memory: one `ModelHost` per node holds it."""


class Ledger:
    """The ledger actor's class: one `Account` for every worker of the run."""

    def __init__(self, budget: Budget, spent: Usage) -> None:
        self._account = Account(budget, spent)

    def admit(self, worst: Spent, who: str, calibrating: bool) -> str | None:
        return self._account.admit(worst, who, calibrating)

    def settle(self, worst: Spent, actual: Usage, who: str) -> None:
        self._account.settle(worst, actual, who)

    def used(self) -> tuple[Usage, int]:
        """(usage, calls) of every call settled so far, earlier sessions included."""
        return self._account.spent, self._account.calls


class RemoteAccount(Account):
    """An `Account` whose bookkeeping is the ledger actor's (one short call each way)."""

    def __init__(self, ledger: Any, budget: Budget) -> None:
        super().__init__(budget)
        self._ledger = ledger

    def admit(self, worst: Spent, who: str = "", calibrating: bool = False) -> str | None:
        result: str | None = import_ray().get(self._ledger.admit.remote(worst, who, calibrating))
        return result

    def settle(self, worst: Spent, actual: Usage, who: str = "") -> None:
        import_ray().get(self._ledger.settle.remote(worst, actual, who))


class ModelHost:
    """The actor's class holding a node's local model; it answers one request at a time
    (the model uses the node's cores for each)."""

    def __init__(self, config: LLMConfig) -> None:
        from agents.llm.spec import make_backend

        self._backend = make_backend(
            config.model, config.base_url, config.timeout, config.native_tools
        )

    def describe(self) -> tuple[str, bool, str]:
        b = self._backend
        return b.name, b.supports_tools, b.cache_identity()

    def complete(self, request: Request) -> list[Completion]:
        return asyncio.run(self._backend.complete_request(request))


class HostedModel(BaseLLM):
    """A worker's view of its node's `ModelHost`: the backend its wrappers call."""

    def __init__(self, host: Any, name: str, supports_tools: bool, identity: str) -> None:
        self._host = host
        self.name, self.supports_tools, self._identity = name, supports_tools, identity

    @classmethod
    def of(cls, host: Any) -> HostedModel:
        """The view of `host` (a `ModelHost` actor), described by it."""
        return cls(host, *import_ray().get(host.describe.remote()))

    def cache_identity(self) -> str:
        return str(self._identity)

    async def _complete(self, request: Request) -> list[Completion]:
        ref = self._host.complete.remote(request)
        result: list[Completion] = await asyncio.wrap_future(ref.future())
        return result


_BUILT: dict[str, tuple[LLM, UsageMeter]] = {}
"""The models this worker process built, by recipe: built once, reused by later units."""


@dataclass
class RemoteModel:
    """What a worker builds the run's model from (it pickles: a config, actor handles, a
    factory). `factory`: a model made in code (the oracle, a test's scripted model)
    instead of from `config`; it is free, but its calls still count against the budget."""

    config: LLMConfig
    budget: Budget | None = None
    ledger: Any = None
    hosts: dict[str, Any] = field(default_factory=dict)
    factory: Callable[[], LLM] | None = None
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    def build(self) -> tuple[LLM, UsageMeter]:
        """This process's model and its meter (built on the first call)."""
        if self.key not in _BUILT:
            meter = UsageMeter()
            account = None
            if self.ledger is not None and self.budget is not None:
                account = RemoteAccount(self.ledger, self.budget)
            llm: LLM
            if self.factory is not None:
                llm = self.factory()
                if account is not None:
                    llm = BudgetedLLM(llm, account.budget, FREE, account=account)
                llm = MeteredLLM(llm, meter)
            else:
                from agents.llm.spec import load_llm

                host = self.hosts.get(import_ray().get_runtime_context().get_node_id())
                backend = HostedModel.of(host) if host is not None else None
                llm = load_llm(self.config, meter=meter, account=account, backend=backend)
            _BUILT[self.key] = (llm, meter)
        return _BUILT[self.key]

    def metered(self, unit: Callable[[LLM], Any]) -> tuple[Any, dict[str, Any]]:
        """`unit(model)` and the usage of its calls (`UsageSummary.as_dict()`). When the
        unit raises, the usage goes with its exception (`usage_of`), which Ray pickles
        back to the driver with the exception's attributes."""
        llm, meter = self.build()
        before = meter.summary().as_dict()

        def spent() -> dict[str, Any]:
            after = meter.summary().as_dict()
            return {k: after[k] - before[k] for k in after}

        try:
            result = unit(llm)
        except Exception as exc:
            with contextlib.suppress(AttributeError, TypeError):  # a read-only exception
                setattr(exc, USAGE_ATTR, spent())
            raise
        return result, spent()


USAGE_ATTR = "unit_usage"
"""The attribute of a remote unit's exception holding the usage spent before it raised."""


def usage_of(exc: BaseException) -> dict[str, Any] | None:
    """The usage a remote unit spent before raising `exc`, once (taken off the exception)."""
    usage = getattr(exc, USAGE_ATTR, None)
    with contextlib.suppress(AttributeError):
        delattr(exc, USAGE_ATTR)
    return usage if isinstance(usage, dict) else None


def add_usage(meter: UsageMeter, usage: dict[str, Any] | None) -> None:
    """Count a unit's usage (`RemoteModel.metered`) in the driver's meter."""
    if usage:
        fields = UsageSummary().as_dict()
        meter.add(UsageSummary(**{k: usage[k] for k in fields if k in usage}))


@contextlib.contextmanager
def remote_model(
    config: LLMConfig,
    budget: Budget | None = None,
    spent: Usage | None = None,
    factory: Callable[[], LLM] | None = None,
) -> Iterator[RemoteModel]:
    """The run's model for the connected Ray cluster (`foundation.executors.ray_session`):
    a ledger actor when there is a `budget` (its caps in `config`), a `ModelHost` on each
    node for a local model; the actors end with the block."""
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actors: list[Any] = []
    ledger = None
    if budget is not None:
        ledger = ray.remote(Ledger).options(num_cpus=0).remote(budget, spent or Usage())
        actors.append(ledger)
    hosts: dict[str, Any] = {}
    if factory is None and config.model.split(":", 1)[0] in LOCAL_PROVIDERS:
        for node in ray.nodes():
            if node.get("Alive"):
                where = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
                host = (
                    ray.remote(ModelHost)
                    .options(num_cpus=0, scheduling_strategy=where)
                    .remote(config)
                )
                hosts[node["NodeID"]] = host
                actors.append(host)
    try:
        yield RemoteModel(config, budget, ledger, hosts, factory)
    finally:
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
