"""Batched sampling for a local causal LM, with a shared prefill for n samples.

Several prompts run as one left-padded batch. For n samples of one prompt the
prompt is run through the model once and its KV cache is copied to n rows, so
tree search can ask for many siblings of one long prefix at the cost of one
prefill. Rows that finish leave the batch.
"""

from __future__ import annotations

import inspect
import os
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


def eos_ids(tokenizer: Any) -> set[int]:
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>"):
        if token in vocab:
            ids.add(int(vocab[token]))
    return ids


class Engine:
    def __init__(self, model: Any, tokenizer: Any):
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
        self.fast = fast_decoder.build(model)
        # A single prompt reuses the keys and values of the longest cached prompt it
        # starts with (AGENTS_PREFIX_CACHE_MB, default 512; 0 turns it off).
        megabytes = int(os.environ.get("AGENTS_PREFIX_CACHE_MB", "512"))
        self.prefixes = fast_decoder.PrefixCache(megabytes << 20) if megabytes > 0 else None

    @torch.inference_mode()
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
        """Samples per prompt: `ns[i]` samples of `prompts[i]` (with the `top_logprobs` most
        likely tokens at each step, from the untempered distribution like `logprobs`)."""
        owners = [i for i, n in enumerate(ns) for _ in range(n)]  # output row -> prompt
        if share_prefill:
            rows = prompts
            expand = owners
        else:  # baseline for benchmarks: every sample prefills its own copy
            rows = [prompts[i] for i in owners]
            expand = list(range(len(rows)))
        ids, mask = self._left_pad(rows)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        select: Callable[[torch.Tensor], None]
        step_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
        if self.fast is not None:
            fast = self.fast
            state = fast.new_cache(len(rows), ids.shape[1] + max_tokens)
            reused = 0
            if self.prefixes is not None and len(rows) == 1:
                reused, kv = self.prefixes.longest(rows[0])
                reused = min(reused, len(rows[0]) - 1)  # the last token runs: its logits
                if kv is not None and reused > 0:
                    state.kv[:, :, :, :, :reused] = kv[:, :, :, :, :reused]
                    state.keys[:, :reused] = True
                    state.length = reused
                    self.prefixes.hits += 1
                    self.prefixes.reused_tokens += reused
            logits = fast.forward(ids[:, reused:], positions[:, reused:], mask[:, reused:], state)
            if self.prefixes is not None and len(rows) == 1:
                self.prefixes.put(rows[0], state.kv[:, :, :, :, : len(rows[0])].clone())
            select = state.select

            def step_fn(
                tokens: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor
            ) -> torch.Tensor:
                return fast.forward(
                    tokens[:, None], pos[:, None], torch.ones_like(pos[:, None]), state
                )

        else:
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                logits_to_keep=1,
            )
            holder = {"cache": out.past_key_values}
            logits = out.logits[:, -1, :]

            def select(index: torch.Tensor) -> None:
                holder["cache"].batch_select_indices(index)

            def step_fn(
                tokens: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor
            ) -> torch.Tensor:
                out = self.model(
                    input_ids=tokens[:, None],
                    attention_mask=mask,
                    position_ids=pos[:, None],
                    use_cache=True,
                    **{self._cache_kw: holder["cache"]},
                )
                holder["cache"] = out.past_key_values
                return out.logits[:, -1, :]  # type: ignore[no-any-return]

        if expand != list(range(len(rows))):
            index = torch.tensor(expand)
            select(index)
            logits, mask, positions = logits[index], mask[index], positions[index]
        last_pos = positions[:, -1].clone()

        generator = torch.Generator()
        generator.manual_seed(seed if seed is not None else int(torch.randint(0, 2**31, (1,))))
        samples = [Sample() for _ in owners]
        active = list(range(len(owners)))  # output rows still generating, in batch order
        for step in range(max_tokens):
            logp = torch.log_softmax(logits.float(), dim=-1)
            if temperature > 0:
                probs = torch.softmax(logits.float() / temperature, dim=-1)
                chosen = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            else:
                chosen = logp.argmax(dim=-1)
            chosen_lp = logp.gather(-1, chosen[:, None]).squeeze(-1)
            if top_logprobs:
                top_v, top_i = logp.topk(top_logprobs, dim=-1)
            keep = []
            for b, row in enumerate(active):
                token = int(chosen[b])
                sample = samples[row]
                if token in self.eos and not ignore_eos:
                    sample.finish_reason = "stop"
                    continue
                sample.tokens.append(token)
                sample.logprobs.append(float(chosen_lp[b]))
                if top_logprobs:
                    sample.top.append(list(zip(top_i[b].tolist(), top_v[b].tolist(), strict=True)))
                if stop and self._hit_stop(sample, stop):
                    continue
                keep.append(b)
            if not keep or step == max_tokens - 1:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep)
                select(index)
                chosen, mask, last_pos = chosen[index], mask[index], last_pos[index]
                active = [active[b] for b in keep]
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
            last_pos = last_pos + 1
            logits = step_fn(chosen, mask, last_pos)
        for sample in samples:
            if sample.text is None:
                sample.text = self.tokenizer.decode(sample.tokens, skip_special_tokens=True)
        grouped: list[list[Sample]] = [[] for _ in prompts]
        for row, owner in enumerate(owners):
            grouped[owner].append(samples[row])
        return grouped

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
