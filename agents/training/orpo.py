"""ORPO, odds-ratio preference optimisation (Hong et al., 2024), for COS(M+O)S's outer loop.

loss = NLL(chosen) + beta * -log sigmoid(log odds(chosen) - log odds(rejected)), where
odds(y|x) = p / (1 - p) and log p is the length-normalised log-likelihood of y given x
(TRL's ORPOTrainer computes the same). A full fine-tune of a small causal LM on CPU; the
saved directory loads as `local:PATH`. Pairs are JSONL with prompt / chosen / rejected.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Pair:
    prompt: str
    chosen: str
    rejected: str


def load_pairs(path: str | Path) -> list[Pair]:
    """Preference pairs from JSONL (`prompt`, `chosen`, `rejected`; other keys ignored)."""
    pairs = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            pairs.append(Pair(str(d["prompt"]), str(d["chosen"]), str(d["rejected"])))
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                f"{path}:{n}: each line must be JSON with prompt, chosen, rejected"
            ) from None
    return pairs


def log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x < 0, stable at both ends."""
    x = x.clamp(max=-1e-6)
    return torch.where(x > -0.693, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def orpo_loss(
    chosen_logp: torch.Tensor, rejected_logp: torch.Tensor, chosen_nll: torch.Tensor, beta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss, per-pair log odds ratio) from length-normalised log-likelihoods."""
    log_odds = (chosen_logp - log1mexp(chosen_logp)) - (rejected_logp - log1mexp(rejected_logp))
    loss = chosen_nll - beta * F.logsigmoid(log_odds)
    return loss.mean(), log_odds


def _encode(tokenizer: Any, prompt: str, answer: str) -> tuple[list[int], int]:
    """Token ids of chat-templated prompt + answer + end of turn; and where the answer starts."""
    messages = [{"role": "user", "content": prompt}]
    if getattr(tokenizer, "chat_template", None):
        p = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(p, "keys"):
            p = p["input_ids"]
        p = [int(t) for t in p]
    else:
        p = tokenizer(f"user: {prompt}\nassistant: ")["input_ids"]
    a = tokenizer(answer, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    return [*p, *a, *([eos] if eos is not None else [])], len(p)


def sequence_logps(
    model: Any, tokenizer: Any, prompts: Sequence[str], answers: Sequence[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per answer: (mean token log-prob given the prompt, summed token count)."""
    rows = [_encode(tokenizer, p, a) for p, a in zip(prompts, answers, strict=True)]
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (seq, start) in enumerate(rows):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        labels[i, start : len(seq)] = torch.tensor(seq[start:])
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1, :]
    target = labels[:, 1:]
    keep = target != -100
    logp = (
        torch.log_softmax(logits.float(), -1)
        .gather(-1, target.clamp(min=0).unsqueeze(-1))
        .squeeze(-1)
    )
    counts = keep.sum(-1).clamp(min=1)
    return (logp * keep).sum(-1) / counts, counts


def pair_loss(
    model: Any, tokenizer: Any, batch: Sequence[Pair], beta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    prompts = [p.prompt for p in batch]
    logps, _ = sequence_logps(
        model, tokenizer, prompts + prompts, [p.chosen for p in batch] + [p.rejected for p in batch]
    )
    chosen, rejected = logps[: len(batch)], logps[len(batch) :]
    return orpo_loss(chosen, rejected, -chosen, beta)


@torch.no_grad()
def preference_margin(
    model: Any, tokenizer: Any, pairs: Sequence[Pair], batch_size: int = 8
) -> float:
    """Mean log odds ratio of chosen over rejected: > 0 means the model prefers the chosen."""
    model.eval()
    total = 0.0
    for i in range(0, len(pairs), batch_size):
        _, log_odds = pair_loss(model, tokenizer, pairs[i : i + batch_size], beta=0.0)
        total += float(log_odds.sum())
    return total / max(len(pairs), 1)


@dataclass(frozen=True)
class ORPOConfig:
    steps: int = 200
    lr: float = 5e-5
    beta: float = 0.1
    """Weight of the odds-ratio term (ORPO's lambda)."""
    batch_size: int = 4
    heldout: float = 0.2
    """Share of pairs kept out of training to measure the preference on."""
    seed: int = 0
    backend: str = "ours"
    """"ours" (this file's loop) or "trl" (TRL's ORPOTrainer; `pip install .[train]`)."""
    lora: bool = False
    """trl backend: train LoRA adapters (peft) and merge them into the saved model."""


@dataclass
class ORPOReport:
    train_pairs: int
    heldout_pairs: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    heldout_margin_before: float
    heldout_margin_after: float
    train_margin_before: float
    train_margin_after: float
    out: str

    def lines(self) -> list[str]:
        return [
            f"ORPO: {self.steps} steps on {self.train_pairs} pairs in {self.seconds:.1f}s; "
            f"loss {self.first_loss:.4f} -> {self.last_loss:.4f}",
            f"held-out log-odds preference for the chosen ({self.heldout_pairs} pairs): "
            f"{self.heldout_margin_before:+.4f} -> {self.heldout_margin_after:+.4f}",
            f"train log-odds preference: {self.train_margin_before:+.4f} -> {self.train_margin_after:+.4f}",
            f"saved: {self.out} (load it as local:{self.out})",
        ]


def split_pairs(pairs: Sequence[Pair], heldout: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    order = list(pairs)
    random.Random(seed).shuffle(order)
    k = min(round(heldout * len(order)), len(order) - 1)
    return order[k:], order[:k]


def train_orpo(
    model: Any, tokenizer: Any, pairs: Sequence[Pair], out: str | Path, config: ORPOConfig
) -> ORPOReport:
    """Full fine-tune of `model` on `pairs`; saves model and tokenizer to `out`."""
    if not pairs:
        raise ValueError("no preference pairs to train on")
    torch.manual_seed(config.seed)
    train, held = split_pairs(pairs, config.heldout, config.seed)
    before_h = preference_margin(model, tokenizer, held) if held else 0.0
    before_t = preference_margin(model, tokenizer, train)
    start = time.perf_counter()
    if config.backend == "trl":
        model, losses = _train_trl(model, tokenizer, train, out, config)
    elif config.backend == "ours":
        losses = _train_ours(model, tokenizer, train, config)
    else:
        raise ValueError(f"unknown ORPO backend {config.backend!r}; valid: ours, trl")
    seconds = time.perf_counter() - start
    model.eval()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    report = ORPOReport(
        train_pairs=len(train),
        heldout_pairs=len(held),
        steps=config.steps,
        seconds=seconds,
        first_loss=losses[0],
        last_loss=sum(losses[-10:]) / len(losses[-10:]),
        heldout_margin_before=before_h,
        heldout_margin_after=preference_margin(model, tokenizer, held) if held else 0.0,
        train_margin_before=before_t,
        train_margin_after=preference_margin(model, tokenizer, train),
        out=str(out),
    )
    (out / "orpo_report.json").write_text(
        json.dumps({**asdict(report), "config": asdict(config)}, indent=2)
    )
    return report


def _train_ours(model: Any, tokenizer: Any, train: list[Pair], config: ORPOConfig) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
    rng = random.Random(config.seed)
    losses = []
    model.train()
    for _ in range(config.steps):
        batch = rng.sample(train, min(config.batch_size, len(train)))
        loss, _ = pair_loss(model, tokenizer, batch, config.beta)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def _train_trl(
    model: Any, tokenizer: Any, train: list[Pair], out: str | Path, config: ORPOConfig
) -> tuple[Any, list[float]]:
    """TRL's ORPOTrainer on the same pairs (conversational format), optionally with LoRA."""
    import os

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    try:
        from datasets import Dataset
        from trl.experimental.orpo import ORPOConfig as TrlConfig
        from trl.experimental.orpo import ORPOTrainer
    except ImportError:
        raise ValueError("the trl backend needs the train extra: pip install '.[train]'") from None
    rows = [
        {
            "prompt": [{"role": "user", "content": p.prompt}],
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in train
    ]
    args = TrlConfig(
        output_dir=str(Path(out) / "trl"),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.lr,
        beta=config.beta,
        seed=config.seed,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"
        )
    trainer = ORPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    trainer.train()
    trained = trainer.model
    if config.lora:
        trained = trained.merge_and_unload()  # a plain model that `local:PATH` loads
    losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    return trained, losses


def load_trainable(spec: str) -> tuple[Any, Any]:
    """(model, tokenizer) for `local:smollm2` or `local:PATH` (a transformers directory)."""
    from agents.llm.local_model import load_model, resolve_weights

    if not spec.startswith("local:"):
        raise ValueError(
            f"ORPO trains local models; give local:smollm2 or local:PATH, not {spec!r}"
        )
    model, tokenizer = load_model(resolve_weights(spec.removeprefix("local:")))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
