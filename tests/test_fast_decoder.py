"""The local engine's own Llama decoder (agents/llm/fast_decoder.py): the same greedy tokens
and log-probs as transformers' `generate`, 4-bit weights only where they are exactly 4-bit,
and a prefix cache that changes the cost of a call, not its answer."""

from __future__ import annotations

import math
import random

import pytest
import torch

from agents.llm import fast_decoder
from agents.llm.local_engine import Engine
from tests.tiny_models import BASIC_WORDS, build_tiny_llama

WORDS = [*BASIC_WORDS, "river", "stone", "bridge", "north", "south", "lamp"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = build_tiny_llama(tmp_path_factory.mktemp("tiny"), seed=3, words=WORDS)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32").eval()
    return model, AutoTokenizer.from_pretrained(path)


def prompts(tokenizer, count: int = 20, seed: int = 0) -> list[list[int]]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 14)))
        ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], add_generation_prompt=True, return_dict=False
        )
        out.append(list(ids))
    return out


def engine(model, tokenizer, monkeypatch, decoder: str = "int4", cache_mb: str = "0") -> Engine:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AGENTS_LOCAL_DECODER", decoder)
    monkeypatch.setenv("AGENTS_PREFIX_CACHE_MB", cache_mb)
    return Engine(model, tokenizer)


def test_greedy_tokens_and_logprobs_equal_transformers_generate_on_20_prompts(tiny, monkeypatch):
    model, tokenizer = tiny
    ours = engine(model, tokenizer, monkeypatch)
    # A float32 model is not 4-bit: the decoder keeps its numbers (float32 throughout).
    assert ours.fast is not None and not ours.fast.int4
    lengths = []
    for ids in prompts(tokenizer):
        sample = ours.generate([ids], [1], max_tokens=10)[0][0]
        ref = model.generate(
            torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=10, do_sample=False, output_logits=True,
            return_dict_in_generate=True, pad_token_id=ours.pad, eos_token_id=sorted(ours.eos),
        )  # fmt: skip
        tokens = ref.sequences[0, len(ids) :].tolist()
        if tokens and tokens[-1] in ours.eos:  # transformers keeps the EOS; we end before it
            tokens = tokens[:-1]
        assert sample.tokens == tokens
        ref_lp = [
            float(torch.log_softmax(step[0].float(), -1)[t])
            for step, t in zip(ref.logits, tokens, strict=False)
        ]
        assert max(abs(a - b) for a, b in zip(sample.logprobs, ref_lp, strict=True)) < 1e-3
        lengths.append(len(tokens))
    assert sum(lengths) >= 40  # not twenty empty answers


def test_a_left_padded_batch_and_shared_samples_give_each_prompts_own_tokens(tiny, monkeypatch):
    model, tokenizer = tiny
    ours = engine(model, tokenizer, monkeypatch)
    batch = prompts(tokenizer, count=5, seed=1)
    together = ours.generate(batch, [1, 3, 1, 1, 2], max_tokens=8, ignore_eos=True)
    for ids, got in zip(batch, together, strict=True):
        alone = ours.generate([ids], [1], max_tokens=8, ignore_eos=True)[0][0].tokens
        assert all(s.tokens == alone for s in got)


def snap_to_q4(model) -> None:  # type: ignore[no-untyped-def]
    """Round every layer weight to 16 levels per group of 32 (what a Q4_1 GGUF holds)."""
    with torch.no_grad():
        for layer in model.model.layers:
            for lin in (*(getattr(layer.self_attn, n) for n in ("q_proj", "k_proj", "v_proj", "o_proj")),
                        *(getattr(layer.mlp, n) for n in ("gate_proj", "up_proj", "down_proj"))):  # fmt: skip
                w = lin.weight
                blocks = w.reshape(w.shape[0], -1, 32)
                low = blocks.min(-1, keepdim=True).values
                step = (blocks.max(-1, keepdim=True).values - low) / 15
                snapped = ((blocks - low) / step).round() * step + low
                w.copy_(snapped.reshape(w.shape))


def test_4bit_weights_are_used_only_where_exact_and_compute_what_the_weights_say(tiny, monkeypatch):
    from transformers import AutoModelForCausalLM

    model, tokenizer = tiny
    assert fast_decoder.pack_int4(model.model.layers[0].mlp.down_proj.weight) is None
    q4 = AutoModelForCausalLM.from_config(model.config).eval()
    q4.load_state_dict(model.state_dict())
    snap_to_q4(q4)
    dec = fast_decoder.LlamaDecoder(q4, int4=True)
    assert dec.int4 and all(b[1].packed is not None for b in dec.blocks)
    # The output layer is not 4-bit: 8 bits with a scale per row.
    assert dec.lm_head.packed is None and dec.lm_head.int8 is not None
    head = q4.lm_head.weight
    h = torch.randn(2, head.shape[1])
    ref = h @ head.detach().T
    assert float((dec.lm_head(h) - ref).abs().max()) <= 2e-2 * float(ref.abs().max())
    w = q4.model.layers[0].mlp.gate_proj.weight
    x = torch.randn(3, w.shape[1])
    got = fast_decoder.Linear(w, True)(x)
    ref = x @ w.detach().T
    assert float((got - ref).abs().max()) <= 2e-2 * float(ref.abs().max())  # bfloat16 inputs
    # End to end, the 4-bit decoder's logits follow the float32 model's.
    exact = fast_decoder.LlamaDecoder(q4, int4=False)
    for ids in prompts(tokenizer, count=5, seed=2):
        t = torch.tensor([ids])
        pos, real = torch.arange(len(ids))[None], torch.ones_like(t)
        a = dec.forward(t, pos, real, dec.new_cache(1, len(ids)))
        b = exact.forward(t, pos, real, exact.new_cache(1, len(ids)))
        assert float((a - b).abs().max()) < 0.05 * float(b.abs().max())
        # Decoding token by token (the bfloat16 path through the quantised weights).
        ca, cb = dec.new_cache(1, len(ids)), exact.new_cache(1, len(ids))
        for i, token in enumerate(ids):
            t, pos, real = torch.tensor([[token]]), torch.tensor([[i]]), torch.ones(1, 1)
            a, b = dec.forward(t, pos, real, ca), exact.forward(t, pos, real, cb)
            assert float((a - b).abs().max()) < 0.05 * float(b.abs().max())


def test_a_warm_prefix_cache_reuses_keys_and_values_without_changing_answers(tiny, monkeypatch):
    model, tokenizer = tiny
    cold = engine(model, tokenizer, monkeypatch, decoder="float32", cache_mb="0")
    warm = engine(model, tokenizer, monkeypatch, decoder="float32", cache_mb="64")
    base = prompts(tokenizer, count=1, seed=4)[0]
    trace = [base[: len(base) - 2] + extra for extra in ([5, 6], [5, 7, 8], [9], [5, 6, 10, 11])]
    for ids in trace:
        a = cold.generate([ids], [2], max_tokens=6, ignore_eos=True)[0]
        b = warm.generate([ids], [2], max_tokens=6, ignore_eos=True)[0]
        assert [s.tokens for s in a] == [s.tokens for s in b]
        for x, y in zip(a[0].logprobs, b[0].logprobs, strict=True):
            assert math.isclose(x, y, abs_tol=1e-4)
    assert warm.prefixes is not None and warm.prefixes.hits == len(trace) - 1
    assert warm.prefixes.reused_tokens >= (len(trace) - 1) * (len(base) - 2)


def test_the_prefix_cache_is_bounded_and_drops_the_least_recently_used(tiny, monkeypatch):
    cache = fast_decoder.PrefixCache(max_bytes=3 * 40)
    for k in range(4):
        cache.put([k, 1, 2], torch.zeros(10))  # 40 bytes each
    assert len(cache.entries) == 3 and [0, 1, 2] not in [list(e) for e in cache.entries]
    n, kv = cache.longest([1, 1, 2, 9])
    assert n == 3 and kv is not None
    n, _ = cache.longest([7, 7])
    assert n == 0
    cache.put([5], torch.zeros(100))  # larger than the whole cache: not kept
    assert len(cache.entries) == 3


def test_models_the_decoder_does_not_know_keep_transformers_forward(tiny, monkeypatch):
    model, tokenizer = tiny
    assert fast_decoder.supports(model) is None
    monkeypatch.setattr(model.config, "hidden_act", "gelu")
    assert fast_decoder.supports(model) == "activation 'gelu'"
    assert engine(model, tokenizer, monkeypatch).fast is None
    monkeypatch.setattr(model.config, "hidden_act", "silu")
    assert engine(model, tokenizer, monkeypatch, decoder="transformers").fast is None


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampled_tokens_follow_the_tempered_distribution(temperature: float) -> None:
    """20,000 draws from fixed logits: each token's share is within sampling noise of
    softmax(logits / temperature); zero-probability tokens are never drawn."""
    from agents.llm.local_engine import draw

    logits = torch.tensor([2.0, 0.5, -1.0, 1.0, -float("inf"), 0.0])
    probs = torch.softmax(logits / temperature, dim=-1)
    generator = torch.Generator()
    generator.manual_seed(11)
    tokens = draw(logits.expand(20_000, -1), temperature, generator)
    share = torch.bincount(tokens, minlength=len(probs)).float() / 20_000
    noise = (probs * (1 - probs) / 20_000).sqrt()
    assert bool(((share - probs).abs() <= 4 * noise + 1e-9).all()), (share, probs)
    assert share[4] == 0
