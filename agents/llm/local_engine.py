"""Batched sampling for a local causal LM: a shared prefill for n samples, a prefix cache
across calls, and continuous batching.

The decoding state is a `Batch`: rows of one KV cache, each row one sample of one `Job`
(a prompt, how many samples, its own sampling parameters). A job's prompt is run through
the model once and its keys and values are copied to its n rows, so tree search can ask
for many siblings of one long prefix at the cost of one prefill. Rows leave the batch as
they finish. With the fast decoder, a job that arrives while a batch is decoding joins it
at the next step (continuous batching, `Scheduler`): its prompt is prefilled on its own
and its rows are appended to the running cache; each row keeps its own positions, and
the attention mask hides the slots that are not its own.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from agents.llm import fast_decoder


@dataclass
class Sample:
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top: list[list[tuple[int, float]]] = field(default_factory=list)
    """Per token, the `top_logprobs` most likely (token id, log-prob), when asked for."""
    text: str | None = None  # set when a stop string cut it, else decoded at the end
    finish_reason: str = "length"


@dataclass(frozen=True)
class Params:
    """Sampling parameters of one job (`top_logprobs` from the untempered distribution,
    like the log-probs)."""

    temperature: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    ignore_eos: bool = False
    top_logprobs: int = 0


@dataclass(eq=False)
class Job:
    """`n` samples of `prompt`; `done` is called (in the decoding thread) once all have
    finished, or failed (`error`)."""

    prompt: list[int]
    n: int
    params: Params = field(default_factory=Params)
    done: Callable[[Job], None] | None = None
    samples: list[Sample] = field(default_factory=list)
    error: BaseException | None = None
    live: int = 0
    generator: torch.Generator | None = field(default=None, repr=False)


def draw(
    logits: torch.Tensor, temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    """One token per row of `logits` [rows, vocab], from softmax(logits / temperature):
    inverse-CDF sampling, one uniform draw per row against the cumulative probabilities
    (torch.multinomial draws a random number per vocabulary entry, ~1 ms a token for
    49,152 entries)."""
    cdf = torch.softmax(logits / temperature, dim=-1).cumsum(-1)
    u = torch.rand(logits.shape[0], 1, generator=generator) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp(max=cdf.shape[-1] - 1).squeeze(-1)


def eos_ids(tokenizer: Any) -> set[int]:
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>"):
        if token in vocab:
            ids.add(int(vocab[token]))
    return ids


class _FastState:
    """A batch's keys and values in the fast decoder's cache."""

    def __init__(self, decoder: fast_decoder.LlamaDecoder, cache: fast_decoder.KVCache):
        self.decoder, self.cache = decoder, cache

    def select(self, index: torch.Tensor) -> None:
        self.cache.select(index)

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        if self.cache.length >= self.cache.kv.shape[4]:
            self._regrow(self.cache.length + 64)
        real = torch.ones_like(positions[:, None])
        return self.decoder.forward(tokens[:, None], positions[:, None], real, self.cache)

    def join(self, other: _FastState, room: int) -> None:
        """Append `other`'s rows; both keep their slots (the shorter side's tail is a gap
        the mask hides) and there is room for `room` more tokens."""
        a, b = self.cache, other.cache
        length = max(a.length, b.length)
        kv = a.kv.new_zeros((*a.kv.shape[:2], a.kv.shape[2] + b.kv.shape[2], a.kv.shape[3],
                             length + room, a.kv.shape[5]))  # fmt: skip
        keys = torch.zeros(kv.shape[2], length + room, dtype=torch.bool)
        rows = a.kv.shape[2]
        kv[:, :, :rows, :, : a.length] = a.kv[:, :, :, :, : a.length]
        kv[:, :, rows:, :, : b.length] = b.kv[:, :, :, :, : b.length]
        keys[:rows, : a.length] = a.keys[:, : a.length]
        keys[rows:, : b.length] = b.keys[:, : b.length]
        padded = a.padded or b.padded or a.length != b.length
        self.cache = fast_decoder.KVCache(kv, keys, length, padded)

    def _regrow(self, capacity: int) -> None:
        c = self.cache
        kv = c.kv.new_zeros((*c.kv.shape[:4], capacity, c.kv.shape[5]))
        kv[:, :, :, :, : c.length] = c.kv[:, :, :, :, : c.length]
        keys = torch.zeros(c.keys.shape[0], capacity, dtype=torch.bool)
        keys[:, : c.length] = c.keys[:, : c.length]
        self.cache = fast_decoder.KVCache(kv, keys, c.length, c.padded)


class _ModelState:
    """A batch's cache in transformers' own forward (no joining: one batch at a time)."""

    def __init__(self, engine: Engine, cache: Any, mask: torch.Tensor):
        self.engine, self.cache, self.mask = engine, cache, mask

    def select(self, index: torch.Tensor) -> None:
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=-1)
        out = self.engine.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask,
            position_ids=positions[:, None],
            use_cache=True,
            **{self.engine._cache_kw: self.cache},
        )
        self.cache = out.past_key_values
        return out.logits[:, -1, :]  # type: ignore[no-any-return]


@dataclass
class Batch:
    """Rows being decoded: per row its job and sample, the logits its next token is drawn
    from, and the position of its last token."""

    state: _FastState | _ModelState
    rows: list[tuple[Job, Sample]]
    logits: torch.Tensor
    last_pos: torch.Tensor

    def __len__(self) -> int:
        return len(self.rows)


class Engine:
    def __init__(self, model: Any, tokenizer: Any, decoder: str | None = None):
        """`decoder`: `fast_decoder.build`'s mode (None: AGENTS_LOCAL_DECODER or int4);
        `float32` when the samples' log-probs must be the model's own (training)."""
        self.model = model
        self.tokenizer = tokenizer
        self.eos = eos_ids(tokenizer)
        pad = tokenizer.pad_token_id
        self.pad = int(pad if pad is not None else next(iter(self.eos), 0))
        # transformers renamed `past_key_values` to `cache` (5.x); speak whichever it takes.
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        # Llama-architecture models decode through a lean forward of their own (a static
        # KV cache, fused projections); others, or AGENTS_LOCAL_DECODER=transformers, use
        # transformers' forward.
        self.fast = fast_decoder.build(model, decoder)
        # A single prompt reuses the keys and values of the longest cached prompt it
        # starts with (AGENTS_PREFIX_CACHE_MB, default 512; 0 turns it off).
        megabytes = int(os.environ.get("AGENTS_PREFIX_CACHE_MB", "512"))
        self.prefixes = fast_decoder.PrefixCache(megabytes << 20) if megabytes > 0 else None
        self.allow_join = True

    @property
    def joins(self) -> bool:
        """Whether a job can join a batch that is decoding (the fast decoder's cache;
        `allow_join` off is the benchmark's baseline: a batch runs to its end first)."""
        return self.fast is not None and self.allow_join

    def generate(
        self,
        prompts: list[list[int]],
        ns: list[int],
        temperature: float = 0.0,
        max_tokens: int = 256,
        stop: tuple[str, ...] | None = None,
        seed: int | None = None,
        share_prefill: bool = True,
        ignore_eos: bool = False,
        top_logprobs: int = 0,
    ) -> list[list[Sample]]:
        """Samples per prompt: `ns[i]` samples of `prompts[i]`, all as one batch (with the
        `top_logprobs` most likely tokens at each step, from the untempered distribution
        like `logprobs`)."""
        params = Params(temperature, max_tokens, stop, seed, ignore_eos, top_logprobs)
        jobs = [Job(p, n, params) for p, n in zip(prompts, ns, strict=True)]
        batch = self.admit(None, jobs, share_prefill=share_prefill)
        while batch is not None:
            batch = self.step(batch)
        return [job.samples for job in jobs]

    @torch.inference_mode()
    def admit(
        self, batch: Batch | None, jobs: list[Job], share_prefill: bool = True
    ) -> Batch | None:
        """Prefill `jobs` (one left-padded pass; one prompt's n samples share it unless
        `share_prefill` is off, the benchmarks' baseline) and add their rows to `batch`
        (a new batch when None; joining one needs `joins`)."""
        for job in jobs:
            job.samples = [Sample() for _ in range(job.n)]
            job.live = job.n
            seed = job.params.seed
            job.generator = torch.Generator()
            job.generator.manual_seed(
                seed if seed is not None else int(torch.randint(0, 2**31, (1,)))
            )
        ready = [job for job in jobs if job.n > 0 and job.params.max_tokens > 0]
        for job in jobs:
            if job not in ready:
                self._finish(job)
        if not ready:
            return batch
        rows = [(job, sample) for job in ready for sample in job.samples]
        if share_prefill:
            prompts = [job.prompt for job in ready]
            expand = [i for i, job in enumerate(ready) for _ in range(job.n)]
        else:
            prompts = [job.prompt for job, _ in rows]
            expand = list(range(len(rows)))
        ids, mask = self._left_pad(prompts)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        room = max(job.params.max_tokens for job in ready)
        state: _FastState | _ModelState
        if self.fast is not None:
            cache = self.fast.new_cache(len(prompts), ids.shape[1] + room)
            reused = self._reuse_prefix(prompts, cache)
            logits = self.fast.forward(
                ids[:, reused:], positions[:, reused:], mask[:, reused:], cache
            )
            if self.prefixes is not None and len(prompts) == 1:
                self.prefixes.put(prompts[0], cache.kv[:, :, :, :, : len(prompts[0])].clone())
            state = _FastState(self.fast, cache)
        else:
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
            )
            state = _ModelState(self, out.past_key_values, mask)
            logits = out.logits[:, -1, :]
        last_pos = positions[:, -1]
        if expand != list(range(len(prompts))):
            index = torch.tensor(expand)
            state.select(index)
            logits, last_pos = logits[index], last_pos[index]
        new = Batch(state, rows, logits, last_pos.clone())
        if batch is None:
            return new
        if not isinstance(batch.state, _FastState) or not isinstance(state, _FastState):
            raise RuntimeError("only the fast decoder's batches can be joined")
        left = max(j.params.max_tokens - len(smp.tokens) for j, smp in batch.rows + rows)
        batch.state.join(state, left)
        batch.rows += rows
        batch.logits = torch.cat([batch.logits, new.logits])
        batch.last_pos = torch.cat([batch.last_pos, new.last_pos])
        return batch

    def _reuse_prefix(self, prompts: list[list[int]], cache: fast_decoder.KVCache) -> int:
        """A single prompt starts from the longest cached prompt it begins with."""
        if self.prefixes is None or len(prompts) != 1:
            return 0
        reused, kv = self.prefixes.longest(prompts[0])
        reused = min(reused, len(prompts[0]) - 1)  # the last token runs: its logits
        if kv is None or reused <= 0:
            return 0
        cache.kv[:, :, :, :, :reused] = kv[:, :, :, :, :reused]
        cache.keys[:, :reused] = True
        cache.length = reused
        self.prefixes.hits += 1
        self.prefixes.reused_tokens += reused
        return reused

    @torch.inference_mode()
    def step(self, batch: Batch) -> Batch | None:
        """Draw every row's next token, let finished rows (and jobs) go, and run the model
        on the rest; None when no row is left."""
        logits = batch.logits.float()
        logp = torch.log_softmax(logits, dim=-1)
        chosen = logp.argmax(dim=-1)
        by_job: dict[Job, list[int]] = {}
        for b, (job, _) in enumerate(batch.rows):
            if job.params.temperature > 0:
                by_job.setdefault(job, []).append(b)
        for job, where in by_job.items():
            index = torch.tensor(where)
            chosen[index] = draw(logits[index], job.params.temperature, job.generator)
        chosen_lp = logp.gather(-1, chosen[:, None]).squeeze(-1).tolist()
        widest = max(job.params.top_logprobs for job, _ in batch.rows)
        if widest:
            top_v, top_i = (t.tolist() for t in logp.topk(widest, dim=-1))
        keep: list[int] = []
        for b, (job, sample) in enumerate(batch.rows):
            token = int(chosen[b])
            p = job.params
            if token in self.eos and not p.ignore_eos:
                sample.finish_reason = "stop"
            else:
                sample.tokens.append(token)
                sample.logprobs.append(chosen_lp[b])
                if p.top_logprobs:
                    k = p.top_logprobs
                    sample.top.append(list(zip(top_i[b][:k], top_v[b][:k], strict=True)))
                stopped = bool(p.stop) and self._hit_stop(sample, p.stop or ())
                if not stopped and len(sample.tokens) < p.max_tokens:
                    keep.append(b)
                    continue
            job.live -= 1
            if job.live == 0:
                self._finish(job)
        if not keep:
            return None
        if len(keep) < len(batch.rows):
            index = torch.tensor(keep)
            batch.state.select(index)
            chosen, batch.last_pos = chosen[index], batch.last_pos[index]
            batch.rows = [batch.rows[b] for b in keep]
        batch.last_pos = batch.last_pos + 1
        batch.logits = batch.state.step(chosen, batch.last_pos)
        return batch

    def _finish(self, job: Job) -> None:
        for sample in job.samples:
            if sample.text is None:
                sample.text = self.tokenizer.decode(sample.tokens, skip_special_tokens=True)
        if job.done is not None:
            job.done(job)

    def _hit_stop(self, sample: Sample, stop: tuple[str, ...]) -> bool:
        text = self.tokenizer.decode(sample.tokens, skip_special_tokens=True)
        cut = min((text.index(s) for s in stop if s in text), default=-1)
        if cut < 0:
            return False
        sample.text = text[:cut]
        sample.finish_reason = "stop"
        return True

    def _left_pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r) :] = 1
        return ids, mask


class Scheduler:
    """Continuous batching: jobs submitted from any thread are decoded by one thread of
    its own. A job that arrives while a batch is decoding joins it at the next step (with
    the fast decoder; otherwise it waits for the batch to end), so the concurrent calls of
    a search run share every forward pass, not only those that arrived together.
    `window` seconds gathers calls that arrive together into one prefill when the engine
    is idle; at most `max_rows` samples decode at once."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        lock: threading.Lock,
        window: float = 0.005,
        max_rows: int = 32,
    ) -> None:
        self._engine = engine
        self._lock = lock  # shared with blocking callers of the same engine
        self.window = window
        self.max_rows = max_rows
        self._inbox: list[Job] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        self.admissions: deque[tuple[int, int]] = deque(maxlen=1024)
        """(jobs admitted, rows already decoding) of recent prefills: what tests look at."""

    def submit(self, job: Job) -> None:
        if os.getpid() != self._pid:  # a forked child: the parent's thread is not here
            self._pid = os.getpid()
            self._inbox, self._cond, self._thread = [], threading.Condition(), None
        with self._cond:
            self._inbox.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="local-llm", daemon=True)
                self._thread.start()
            self._cond.notify()

    def close(self) -> None:
        """Stop the thread once it is idle (jobs already submitted still finish); a later
        `submit` starts a new one."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._cond:
            self._closed = False

    def _take(self, batch: Batch | None, joins: bool) -> list[Job]:
        """Jobs from the inbox that fit beside `batch` (at least one when it is empty)."""
        if batch is not None and not joins:
            return []
        rows = len(batch) if batch is not None else 0
        taken: list[Job] = []
        with self._cond:
            while self._inbox and (rows == 0 or rows + self._inbox[0].n <= self.max_rows):
                job = self._inbox.pop(0)
                taken.append(job)
                rows += job.n
        return taken

    def _run(self) -> None:
        batch: Batch | None = None
        while True:
            with self._cond:
                while not self._inbox and batch is None:
                    if self._closed:
                        self._thread = None
                        return
                    self._cond.wait()
            if batch is None and self.window > 0:
                time.sleep(self.window)  # idle: let calls that come together prefill together
            jobs: list[Job] = []
            try:
                engine = self._engine()
                jobs = self._take(batch, engine.joins)
                with self._lock:
                    if jobs:
                        self.admissions.append((len(jobs), len(batch) if batch else 0))
                        batch = engine.admit(batch, jobs)
                    if batch is not None:
                        batch = engine.step(batch)
            except BaseException as exc:  # every waiting job learns of the failure
                failed = {job for job, _ in batch.rows} if batch is not None else set()
                for job in [*jobs, *failed]:
                    if job.live > 0 or not job.samples:
                        job.error = exc
                        job.live = 0
                        if job.done is not None:
                            job.done(job)
                batch = None
