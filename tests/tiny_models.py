"""A tiny random-init Llama with a word-level tokenizer and a chat template, saved to a
directory that `local:PATH` loads; shared by the local-backend, story and ORPO tests."""

from __future__ import annotations

from pathlib import Path

import torch

BASIC_WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "red",
    "blue",
    "green",
    "is",
    "what",
    "why",
    "how",
]
"""Words every tiny model knows; tests add their own (see WORDS, and test_llm_local)."""
WORDS = [
    *BASIC_WORDS,
    "fox",
    "found",
    "lantern",
    "mill",
    "storm",
    "valley",
    "brother",
    "map",
    "hid",
    "old",
    "night",
    "door",
    "opened",
    "yes",
    "no",
    "story",
    "step",
    "next",
    "write",
    "plot",
    "so",
    "far",
    "premise",
    "you",
    "are",
    "writing",
    "short",
    "one",
    "at",
    "time",
    "in",
    "two",
    "sentences",
    "nothing",
    "yet",
    "follow",
    "from",
    "without",
    "contradicting",
    "it",
    "answer",
    "or",
    "does",
]
TEMPLATE = (
    "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> "
    "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
)


def build_tiny_llama(out: Path, seed: int = 0, words: list[str] | None = None) -> Path:
    """Save the model and tokenizer to `out`; `words` replaces the default vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
    roles = ["system", "user", "assistant"]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(specials + roles + (words or WORDS)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.chat_template = TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<pad>"],
    )
    LlamaForCausalLM(config).save_pretrained(out)
    fast.save_pretrained(out)
    return out
