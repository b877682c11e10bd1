"""`llamacpp:` backend: a GGUF model run by llama.cpp (llama-cpp-python, the optional
extra `llamacpp`) on this machine's CPU. `llamacpp:smollm2` is the same embedded GGUF as
`local:smollm2` (no conversion to safetensors: llama.cpp reads the file as it is);
`llamacpp:/path/to/model.gguf` any other GGUF.

Threads: `AGENTS_LLAMACPP_THREADS`, else the CPUs this process may run on
(`os.sched_getaffinity`, else `os.cpu_count()`). Context: 4096 tokens unless given.

The prompt is the GGUF's own chat template (llama-cpp-python's Jinja2 formatter, the
template `local:` renders with transformers), tokenized by llama.cpp. Decoding drives
`Llama.generate` token by token: sampling is plain temperature sampling (no top-k, top-p
or min-p, as `local:`), log-probs come from the model's untempered logits of the
position that produced each token (as `local:`), so no `logits_all` buffer is needed.

What llama.cpp (through llama-cpp-python's `Llama`) cannot give, compared with `local:`:
- no batching: one sequence at a time, so concurrent calls wait their turn (a lock) and
  the n samples of a call are decoded one after another; the prompt is evaluated once
  and its KV cache reused by the later samples (and by the next call, for the prefix it
  shares with the previous one: a one-slot prefix cache);
- seeds: sample i of a call with `seed` is sampled with llama.cpp's sampler seeded
  `seed + i`, reproducible here but not the same draws as `local:` with that seed;
- no native tool calling (`supports_tools` is False, as `local:`): agents describe
  tools in the prompt;
- `Usage.cached_tokens` stays 0 (prompt tokens reused from the KV cache are not
  reported), as `local:`.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
from typing import Any

from agents.llm.errors import LLMError, ModelSpecError
from agents.llm.local_model import (
    LocalWeights,
    plain_prompt,
    resolve_weights,
    with_default_system,
)
from agents.llm.types import BaseLLM, Completion, Message, Request, TokenLogprob, Usage

INSTALL_HINT = "pip install -c .ci/constraints.txt '.[llamacpp]'"


def default_threads() -> int:
    """`AGENTS_LLAMACPP_THREADS`, else the CPUs this process may use."""
    value = os.environ.get("AGENTS_LLAMACPP_THREADS", "").strip()
    if value:
        try:
            threads = int(value)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ModelSpecError(
                f"AGENTS_LLAMACPP_THREADS must be a positive integer, got {value!r}"
            )
        return threads
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _import_llama_cpp(spec: str) -> Any:
    """The `llama_cpp` module, or a one-line ModelSpecError saying how to install it."""
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:  # OSError: the shared library failed to load
        detail = "" if isinstance(exc, ImportError) else f" ({exc})"
        raise ModelSpecError(
            f"{spec} needs llama-cpp-python{detail}: {INSTALL_HINT} "
            "(builds llama.cpp from source, a few minutes; needs a C/C++ compiler)"
        ) from None
    return llama_cpp


class LlamaCppLLM(BaseLLM):
    """A GGUF through llama.cpp; loaded once, on first use; one call at a time."""

    def __init__(
        self,
        target: str = "smollm2",
        n_threads: int | None = None,
        n_ctx: int = 4096,
    ):
        self.name = f"llamacpp:{target}"
        self._llama_cpp = _import_llama_cpp(self.name)
        weights: LocalWeights = resolve_weights(target, provider="llamacpp")
        if weights.gguf_file is None:
            raise ModelSpecError(
                f"{self.name}: llama.cpp reads GGUF files; give a .gguf file (or a "
                "directory holding one), not a transformers model directory"
            )
        self.weights = weights
        self.gguf_file = weights.gguf_file
        self.n_threads = n_threads if n_threads is not None else default_threads()
        self.n_ctx = n_ctx
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # llama.cpp's context holds one sequence

    def cache_identity(self) -> str:
        """The weights themselves: retrained in place (same path), the model is another."""
        return f"{self.name}@{self.weights.fingerprint()}"

    @property
    def model(self) -> Any:
        """The `llama_cpp.Llama`, loaded on first use (thread-safe)."""
        with self._load_lock:
            if self._model is None:
                self._model = self._llama_cpp.Llama(
                    model_path=str(self.gguf_file),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    verbose=False,
                )
            return self._model

    def format_prompt(self, messages: tuple[Message, ...] | list[Message]) -> str:
        """The messages through the GGUF's chat template (with the generation prompt)."""
        messages = with_default_system(messages)
        llm = self.model
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            return plain_prompt(messages)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def piece(token: int) -> str:
            if token < 0:
                return ""
            return bytes(llm.detokenize([token], special=True)).decode("utf-8", "replace")

        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=piece(llm.token_eos()),
            bos_token=piece(llm.token_bos()),
            add_generation_prompt=True,
        )
        return str(formatter(messages=messages).prompt)

    def encode(self, messages: tuple[Message, ...] | list[Message]) -> list[int]:
        """Chat-template the messages into prompt token ids (llama.cpp's tokenizer; BOS
        only where the GGUF asks for it, special tokens parsed)."""
        text = self.format_prompt(messages)
        return [int(t) for t in self.model.tokenize(text.encode("utf-8"), True, True)]

    async def _complete(self, request: Request) -> list[Completion]:
        return await asyncio.to_thread(self.generate, request)

    def generate(self, request: Request) -> list[Completion]:
        """Blocking: the request's n samples, one call at a time."""
        with self._run_lock:
            prompt = self.encode(request.messages)
            room = self.n_ctx - len(prompt)
            if room < 1:
                raise LLMError(
                    f"{self.name}: the prompt has {len(prompt)} tokens, the context "
                    f"{self.n_ctx}; shorten it or raise n_ctx"
                )
            out = []
            for i in range(request.n):
                # llama.cpp seeds are uint32, and 0xFFFFFFFF means "random".
                seed = None if request.seed is None else (request.seed + i) % 0xFFFFFFFF
                tokens, logprobs, text, finish = self._sample(
                    prompt, request, min(request.max_tokens, room), seed
                )
                usage = Usage(len(prompt) if i == 0 else 0, len(tokens))
                out.append(Completion(text, finish, logprobs, usage, self.name, i))
            return out

    def _sample(
        self, prompt: list[int], request: Request, max_tokens: int, seed: int | None
    ) -> tuple[list[int], tuple[TokenLogprob, ...] | None, str, str]:
        import numpy as np

        llama_cpp, llm = self._llama_cpp, self.model
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        n_vocab = llm.n_vocab()
        llm.set_seed(seed if seed is not None else random.randrange(2**31))
        tokens: list[int] = []
        logprobs: list[TokenLogprob] = []
        text: str | None = None
        finish = "length"
        # Plain temperature sampling: top-k, top-p, min-p and typical-p off, no penalty.
        stream = llm.generate(
            prompt,
            top_k=0,
            top_p=1.0,
            min_p=0.0,
            typical_p=1.0,
            temp=request.temperature,
            repeat_penalty=1.0,
            reset=True,  # reuses the KV cache of the longest common prefix
        )
        for token in stream:
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                finish = "stop"
                break
            tokens.append(int(token))
            if request.logprobs:
                # The logits that produced `token`: the last position evaluated.
                ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
                logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
                logits -= logits.max()
                logp = logits - np.log(np.exp(logits).sum())
                top: tuple[TokenLogprob, ...] = ()
                if request.top_logprobs:
                    best = np.argpartition(-logp, request.top_logprobs)[: request.top_logprobs]
                    best = best[np.argsort(-logp[best], kind="stable")]
                    top = tuple(TokenLogprob(self._piece(int(t)), float(logp[t])) for t in best)
                logprobs.append(TokenLogprob(self._piece(int(token)), float(logp[token]), top))
            if request.stop:
                decoded = self._decode(tokens, prompt)
                cut = min((decoded.index(s) for s in request.stop if s in decoded), default=-1)
                if cut >= 0:
                    text, finish = decoded[:cut], "stop"
                    break
            if len(tokens) >= max_tokens:
                break
        stream.close()
        if text is None:
            text = self._decode(tokens, prompt)
        return tokens, (tuple(logprobs) if request.logprobs else None), text, finish

    def _decode(self, tokens: list[int], prompt: list[int]) -> str:
        raw = self.model.detokenize(tokens, prev_tokens=prompt)
        return bytes(raw).decode("utf-8", "replace")

    def _piece(self, token: int) -> str:
        return bytes(self.model.detokenize([token])).decode("utf-8", "replace")

    async def aclose(self) -> None:
        with self._run_lock, self._load_lock:  # the order `generate` takes them in
            if self._model is not None:
                self._model.close()
                self._model = None
