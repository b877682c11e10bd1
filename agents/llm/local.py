"""`local:` backend: a transformers model on this machine (the embedded
SmolLM2 by default). Concurrent calls share the forward passes: a call that arrives
while others are decoding joins their batch at the next step (continuous batching)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from agents.llm.local_engine import Engine, Job, Params, Sample, Scheduler
from agents.llm.local_model import (
    LocalWeights,
    load_model,
    plain_prompt,
    resolve_weights,
    with_default_system,
)
from agents.llm.types import BaseLLM, Completion, Message, Request, TokenLogprob, Usage


class LocalLLM(BaseLLM):
    def __init__(self, target: str = "smollm2", batch_window: float = 0.005, max_batch: int = 32):
        self.weights: LocalWeights = resolve_weights(target)
        self.name = f"local:{target}"
        self.batch_window = batch_window
        self.max_batch = max_batch
        self._engine: Engine | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one forward pass at a time
        self.scheduler = Scheduler(lambda: self.engine, self._run_lock, batch_window, max_batch)

    def cache_identity(self) -> str:
        """The weights themselves: retrained in place (same path), the model is another."""
        return f"{self.name}@{self.weights.fingerprint()}"

    @property
    def engine(self) -> Engine:
        with self._load_lock:
            if self._engine is None:
                model, tokenizer = load_model(self.weights)
                self._engine = Engine(model, tokenizer)
            return self._engine

    def encode(self, messages: tuple[Message, ...] | list[Message]) -> list[int]:
        """Chat-template the messages into prompt token ids."""
        tok = self.engine.tokenizer
        messages = with_default_system(messages)
        if getattr(tok, "chat_template", None):
            encoded = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            if hasattr(encoded, "keys") and "input_ids" in encoded:
                encoded = encoded["input_ids"]
            return [int(t) for t in encoded]
        return [int(t) for t in tok(plain_prompt(messages))["input_ids"]]

    async def _complete(self, request: Request) -> list[Completion]:
        loop = asyncio.get_running_loop()
        prompt = await asyncio.to_thread(self.encode, request.messages)
        future: asyncio.Future[list[Completion]] = loop.create_future()

        def settle(job: Job) -> None:  # in the decoding thread
            def resolve() -> None:
                if future.done():
                    return
                if job.error is not None:
                    future.set_exception(job.error)
                else:
                    future.set_result(self._completions(request, len(prompt), job.samples))

            # The caller's event loop may have closed: then nobody waits.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(resolve)

        r = request
        params = Params(r.temperature, r.max_tokens, r.stop, r.seed, top_logprobs=r.top_logprobs)
        self.scheduler.submit(Job(prompt, r.n, params, done=settle))
        return await future

    def _generate_locked(
        self,
        prompts: list[list[int]],
        ns: list[int],
        temperature: float,
        max_tokens: int,
        stop: tuple[str, ...] | None,
        seed: int | None,
        share_prefill: bool = True,
        ignore_eos: bool = False,
        top_logprobs: int = 0,
    ) -> list[list[Sample]]:
        """`Engine.generate`, one forward pass at a time."""
        engine = self.engine
        with self._run_lock:
            return engine.generate(
                prompts,
                ns,
                temperature,
                max_tokens,
                stop,
                seed,
                share_prefill=share_prefill,
                ignore_eos=ignore_eos,
                top_logprobs=top_logprobs,
            )

    def generate_batch(
        self, requests: list[Request], share_prefill: bool = True, ignore_eos: bool = False
    ) -> list[list[Completion]]:
        """Blocking: run `requests` (same sampling parameters) as one batch."""
        r = requests[0]
        prompts = [self.encode(q.messages) for q in requests]
        results = self._generate_locked(
            prompts,
            [q.n for q in requests],
            r.temperature,
            r.max_tokens,
            r.stop,
            r.seed,
            share_prefill=share_prefill,
            ignore_eos=ignore_eos,
            top_logprobs=r.top_logprobs,
        )
        return [
            self._completions(q, len(prompt), s)
            for q, prompt, s in zip(requests, prompts, results, strict=True)
        ]

    def _completions(
        self, request: Request, prompt_tokens: int, samples: list[Sample]
    ) -> list[Completion]:
        out = []
        for i, s in enumerate(samples):
            lp = None
            if request.logprobs:
                tok = self.engine.tokenizer
                tops = s.top or [[] for _ in s.tokens]
                lp = tuple(
                    TokenLogprob(
                        tok.decode([t]), v, tuple(TokenLogprob(tok.decode([a]), w) for a, w in top)
                    )
                    for t, v, top in zip(s.tokens, s.logprobs, tops, strict=True)
                )
            usage = Usage(prompt_tokens if i == 0 else 0, len(s.tokens))
            out.append(Completion(s.text or "", s.finish_reason, lp, usage, self.name, i))
        return out

    async def aclose(self) -> None:
        await asyncio.to_thread(self.scheduler.close)
        self._engine = None
