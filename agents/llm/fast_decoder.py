"""A Llama-architecture forward pass for decoding on a CPU: weights gathered once (q/k/v
and gate/up fused into one matrix each), a KV cache preallocated for the whole generation
(no per-step re-allocation or concatenation), rotary embedding as one complex
multiplication, and PyTorch's fused attention (SDPA, grouped-query).

Decoding one token of a small model is bound by reading its weights (SmolLM2-135M: 540 MB
of float32 per token), so a model whose layers are a dequantised Q4 GGUF keeps them as
what they are, 4-bit groups (`Linear`), and reads an eighth of the bytes. It is used for
models whose config is plain Llama (SmolLM2 is); others keep the transformers forward.
On float32 weights, greedy tokens and log-probs equal transformers'
(tests/test_fast_decoder.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


def supports(model: Any) -> str | None:
    """Why `model` cannot use the fast decoder (None when it can)."""
    cfg = getattr(model, "config", None)
    if cfg is None or getattr(cfg, "model_type", None) != "llama":
        return "not a Llama-architecture model"
    rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    if rope.get("rope_type", "default") != "default":
        return f"rope type {rope.get('rope_type')!r}"
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        return "biases in attention or MLP"
    if getattr(cfg, "hidden_act", "silu") != "silu":
        return f"activation {cfg.hidden_act!r}"
    if getattr(cfg, "pretraining_tp", 1) != 1:
        return "pretraining_tp > 1"
    return None


@dataclass
class KVCache:
    """Keys and values of every layer for `rows` sequences, `length` slots filled of
    `capacity`; `keys` holds which slots are real tokens per row (left padding)."""

    kv: torch.Tensor  # [layers, 2, rows, kv_heads, capacity, head_dim]
    keys: torch.Tensor  # [rows, capacity] bool
    length: int = 0
    padded: bool = False
    """Whether some slot below `length` is padding (then attention needs a mask)."""

    def select(self, index: torch.Tensor) -> None:
        """Keep (or repeat) rows: finished rows leave, a shared prefill fans out to n."""
        self.kv = self.kv[:, :, index]
        self.keys = self.keys[index]


GROUP = 32  # GGUF's Q4_0/Q4_1 block: weights quantised in groups of 32 along the input
INT4_MAX_ROWS = 256  # more rows (a long prompt): float32 matmul on the same (exact) weights


class Linear:
    """y = x @ W.T, with W as float32; or, with `int4` (a model whose layers are a
    dequantised Q4 GGUF), as 4-bit groups when W is exactly such (PyTorch's int4 weight
    kernel reads an eighth of the bytes, and decoding one token on a CPU is bound by
    reading the weights) and as 8 bits per weight with a scale per row when not (the
    Q8_0 embedding used as the output layer: 49,152 rows, the largest matrix of
    SmolLM2, read at a quarter of float32's bytes); activations then go through
    bfloat16, the one input type for which PyTorch's CPU kernels of both are fast."""

    def __init__(self, weight: torch.Tensor, int4: bool) -> None:
        self.weight = weight.detach()
        self.out_features, self.in_features = weight.shape
        self.packed: torch.Tensor | None = None
        self.int8: torch.Tensor | None = None
        if int4:
            # The float32 copy stays for prompts: many rows at once are bound by
            # arithmetic, where float32 matmul is the faster kernel on a CPU.
            packed = pack_int4(self.weight)
            if packed is not None:
                self.packed, self.scales = packed
            elif hasattr(torch.ops.aten, "_weight_int8pack_mm"):
                self.int8, self.scales = pack_int8(self.weight)

    @property
    def quantised(self) -> bool:
        return self.packed is not None or self.int8 is not None

    def low(self, x: torch.Tensor) -> torch.Tensor:
        """bfloat16 [rows <= INT4_MAX_ROWS, in] -> bfloat16 [rows, out], through the
        quantised weights (the caller checks `quantised`)."""
        if self.packed is not None:
            out = torch.ops.aten._weight_int4pack_mm_for_cpu(x, self.packed, GROUP, self.scales)
        else:
            out = torch.ops.aten._weight_int8pack_mm(x, self.int8, self.scales)
        return out  # type: ignore[no-any-return]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        if not self.quantised or flat.shape[0] > INT4_MAX_ROWS:
            return F.linear(x, self.weight)
        out = self.low(flat.to(torch.bfloat16))
        return out.to(x.dtype).view(*x.shape[:-1], self.out_features)


def pack_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`weight` as int8 with one scale per row (w = q * scale), PyTorch's int8 layout."""
    scale = weight.detach().float().abs().amax(1).clamp(min=1e-12) / 127
    q = (weight.detach().float() / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
    return q.contiguous(), scale.to(torch.bfloat16)


def pack_int4(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """`weight` as PyTorch's int4 layout (q in 0..15, per group w = (q - 8) * scale + zero),
    or None when it is not exactly 16 levels per group of 32 (then it stays float32)."""
    rows, cols = weight.shape
    if cols % GROUP or not hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu"):
        return None
    blocks = weight.detach().float().reshape(rows, cols // GROUP, GROUP)
    low = blocks.min(-1, keepdim=True).values
    step = (blocks.max(-1, keepdim=True).values - low) / 15
    step = torch.where(step == 0, torch.ones_like(step), step)
    q = ((blocks - low) / step).round().clamp(0, 15)
    if float((q * step + low - blocks).abs().max()) > 1e-6 * float(blocks.abs().max()):
        return None
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(
        q.reshape(rows, cols).to(torch.int32), 1
    )
    zero = low + 8 * step  # (q - 8) * step + zero == q * step + low
    scales = torch.stack([step.squeeze(-1).T, zero.squeeze(-1).T], dim=-1)
    return packed, scales.contiguous().to(torch.bfloat16)


class LlamaDecoder:
    def __init__(self, model: Any, int4: bool = False) -> None:
        cfg = model.config
        inner = model.model
        # 4-bit only for a model whose layers are all exactly 4-bit (a Q4 GGUF); any other
        # model keeps float32 throughout, and transformers' numbers.
        int4 = int4 and all(
            pack_int4(w) is not None
            for layer in inner.layers
            for w in (layer.self_attn.q_proj.weight, layer.mlp.down_proj.weight)
        )
        self.int4 = int4
        self.layers = len(inner.layers)
        self.heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.eps = float(cfg.rms_norm_eps)
        self.dtype = inner.embed_tokens.weight.dtype
        self.embed = inner.embed_tokens.weight.detach()
        self.norm = inner.norm.weight.detach()
        self.lm_head = Linear(model.lm_head.weight, int4)
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        self.split_qkv: list[int] = [q, kv, kv]
        self.blocks = []
        for layer in inner.layers:
            a, m = layer.self_attn, layer.mlp
            self.blocks.append(
                (
                    layer.input_layernorm.weight.detach(),
                    Linear(
                        torch.cat(
                            [
                                self._pairs(a.q_proj.weight, self.heads),
                                self._pairs(a.k_proj.weight, self.kv_heads),
                                a.v_proj.weight,
                            ]
                        ),
                        int4,
                    ),
                    Linear(a.o_proj.weight, int4),
                    layer.post_attention_layernorm.weight.detach(),
                    Linear(torch.cat([m.gate_proj.weight, m.up_proj.weight]), int4),
                    Linear(m.down_proj.weight, int4),
                )
            )
        self.intermediate = cfg.intermediate_size
        rope = getattr(cfg, "rope_parameters", None) or {}
        theta = float(rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))
        inv = 1.0 / (
            theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim)
        )
        self.inv_freq = inv
        self._turns = torch.empty(0, self.head_dim // 2, dtype=torch.complex64)

    def _pairs(self, weight: torch.Tensor, heads: int) -> torch.Tensor:
        """Rows of a q or k projection reordered so each head's rotary pairs (i, i + d/2)
        sit side by side: rotary embedding is then one complex multiplication. Queries and
        keys are permuted alike, so their dot products (attention) are unchanged."""
        half = self.head_dim // 2
        order = torch.stack([torch.arange(half), torch.arange(half) + half], dim=-1).flatten()
        rows = (torch.arange(heads)[:, None] * self.head_dim + order[None]).flatten()
        return weight.detach()[rows]

    def _rotary(self, upto: int) -> torch.Tensor:
        """e^(i * position * frequency) for positions 0..upto-1: [positions, head_dim / 2]."""
        if self._turns.shape[0] < upto:
            size = max(upto, 2 * self._turns.shape[0], 256)
            angles = torch.outer(torch.arange(size, dtype=torch.float32), self.inv_freq)
            self._turns = torch.polar(torch.ones_like(angles), angles)
        return self._turns

    def new_cache(self, rows: int, capacity: int) -> KVCache:
        kv = torch.zeros(
            self.layers, 2, rows, self.kv_heads, capacity, self.head_dim, dtype=self.dtype
        )
        return KVCache(kv, torch.zeros(rows, capacity, dtype=torch.bool))

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), weight, self.eps)

    @staticmethod
    def _mask(cache: KVCache, start: int, end: int) -> torch.Tensor:
        """[rows, 1, T, end]: a query sees real keys up to itself, and always itself (so a
        padding row never attends to nothing, which would turn into NaN)."""
        slot = torch.arange(end)
        query = torch.arange(start, end)
        causal = slot[None, :] <= query[:, None]  # [T, end]
        mask = (causal[None] & cache.keys[:, None, :end]) | (
            slot[None, None] == query[None, :, None]
        )
        return mask[:, None]

    def _rotate(self, x: torch.Tensor, heads: int, turns: torch.Tensor) -> torch.Tensor:
        """Rotary embedding on pair-ordered rows (`_pairs`): [rows, T, heads, head_dim]."""
        rows, steps = x.shape[:2]
        pairs = torch.view_as_complex(x.reshape(rows, steps, heads, -1, 2))
        return torch.view_as_real(pairs * turns).reshape(rows, steps, heads, self.head_dim)

    @torch.inference_mode()
    def forward(
        self, ids: torch.Tensor, positions: torch.Tensor, real: torch.Tensor, cache: KVCache
    ) -> torch.Tensor:
        """Run `ids` [rows, T] (at `positions`, `real` marking non-padding) after the
        cache's filled slots; append their keys and values; return the last position's
        logits [rows, vocab]."""
        rows, steps = ids.shape
        start, end = cache.length, cache.length + steps
        if end > cache.kv.shape[4]:
            raise ValueError(f"KV cache full: {end} > {cache.kv.shape[4]} slots")
        every = bool(real.all())
        cache.keys[:, start:end] = True if every else real.bool()
        cache.padded = cache.padded or not every
        # No mask where none is needed: a fresh prompt without padding takes the causal
        # kernel; one new token per row over keys that are all real sees every slot.
        causal = start == 0 and steps > 1 and every
        mask = (
            None if causal or (steps == 1 and not cache.padded) else self._mask(cache, start, end)
        )
        turns = self._rotary(int(positions.max()) + 1)[positions][:, :, None]  # [rows, T, 1, hd/2]
        # Few rows (decoding) through the quantised weights in bfloat16; a prompt in float32.
        low = self.int4 and rows * steps <= INT4_MAX_ROWS
        qk_heads, qk_width = self.heads + self.kv_heads, self.split_qkv[0] + self.split_qkv[1]
        x = F.embedding(ids, self.embed)
        for layer, (w_in, w_qkv, w_o, w_post, w_gu, w_down) in enumerate(self.blocks):
            h = self._norm(x, w_in)
            if low:
                qkv = w_qkv.low(h.view(rows * steps, -1).to(torch.bfloat16)).float()
                qkv = qkv.view(rows, steps, -1)
            else:
                qkv = w_qkv(h)
            # Queries and keys rotate together (one complex multiplication), then part.
            qk = self._rotate(qkv[..., :qk_width], qk_heads, turns).transpose(1, 2)
            q, k = qk[:, : self.heads], qk[:, self.heads :]
            v = qkv[..., qk_width:].view(rows, steps, self.kv_heads, self.head_dim).transpose(1, 2)
            store = cache.kv[layer]
            store[0, :, :, start:end] = k
            store[1, :, :, start:end] = v
            if causal:
                attn = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            else:
                attn = F.scaled_dot_product_attention(
                    q, store[0, :, :, :end], store[1, :, :, :end], attn_mask=mask, enable_gqa=True
                )
            attn = attn.transpose(1, 2).reshape(rows * steps, -1)
            if low:
                x = x + w_o.low(attn.to(torch.bfloat16)).view(rows, steps, -1)
                gu = w_gu.low(self._norm(x, w_post).view(rows * steps, -1).to(torch.bfloat16))
                gate, up = torch.split(gu, self.intermediate, dim=-1)
                x = x + w_down.low(F.silu(gate) * up).view(rows, steps, -1)
            else:
                x = x + w_o(attn).view(rows, steps, -1)
                gate, up = torch.split(w_gu(self._norm(x, w_post)), self.intermediate, dim=-1)
                x = x + w_down(F.silu(gate) * up)
        cache.length = end
        last = self._norm(x[:, -1], self.norm)
        if low and self.lm_head.quantised:
            return self.lm_head.low(last.to(torch.bfloat16)).float()
        return self.lm_head(last)


class PrefixCache:
    """Keys and values of recent prompts, so a prompt that starts like one of them pays
    only for its new tokens: tree search sends the same system prompt and history again
    and again. Bounded in bytes; the least recently used prompt goes first."""

    def __init__(self, max_bytes: int) -> None:
        from collections import OrderedDict

        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.reused_tokens = 0

    def longest(self, tokens: list[int]) -> tuple[int, torch.Tensor | None]:
        """(n, kv): the most tokens of `tokens` some cached prompt starts with, and its KV
        ([layers, 2, 1, kv_heads, length, head_dim]; its first n slots are theirs)."""
        best, found, key = 0, None, None
        probe = torch.tensor(tokens)
        for cached, kv in self.entries.items():
            n = min(len(cached), len(tokens))
            if n <= best:
                continue
            same = probe[:n] == torch.tensor(cached[:n])
            common = n if bool(same.all()) else int((~same).nonzero()[0])
            if common > best:
                best, found, key = common, kv, cached
        if key is not None:
            self.entries.move_to_end(key)
        return best, found

    def put(self, tokens: list[int], kv: torch.Tensor) -> None:
        key = tuple(tokens)
        size = kv.numel() * kv.element_size()
        if size > self.max_bytes or key in self.entries:
            return
        self.entries[key] = kv
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, old = self.entries.popitem(last=False)
            self.bytes -= old.numel() * old.element_size()


def build(model: Any, mode: str | None = None) -> LlamaDecoder | None:
    """The fast decoder for `model`, or None (then transformers' forward is used).
    `mode` (default: `AGENTS_LOCAL_DECODER`, else `int4`): `int4` (4-bit weights where
    they are exactly 4-bit, as in a Q4 GGUF), `float32` (the fast decoder on float32
    weights: transformers' numbers), `transformers` (transformers' own forward)."""
    import os

    mode = mode or os.environ.get("AGENTS_LOCAL_DECODER", "int4")
    if mode == "transformers" or supports(model) is not None:
        return None
    return LlamaDecoder(model, int4=mode == "int4")
