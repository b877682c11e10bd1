"""ORPO, odds-ratio preference optimisation (Hong et al., 2024), for COS(M+O)S's outer loop.

loss = NLL(chosen) + beta * -log sigmoid(log odds(chosen) - log odds(rejected)), where
odds(y|x) = p / (1 - p) and log p is the length-normalised log-likelihood of y given x
(TRL's ORPOTrainer computes the same). A full fine-tune of a small causal LM on CPU; the
saved directory loads as `local:PATH`. Pairs are JSONL with prompt / chosen / rejected.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
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
    group: str = ""
    """What the pair came from (a story premise); held-out pairs are split by group, so no
    premise is in both sets. Empty: taken from the prompt's `Premise:` line, else the prompt."""

    @property
    def key(self) -> str:
        if self.group:
            return self.group
        m = re.search(r"^Premise: (.*)$", self.prompt, flags=re.M)
        return m[1].strip() if m else self.prompt


def load_pairs(path: str | Path) -> list[Pair]:
    """Preference pairs from JSONL (`prompt`, `chosen`, `rejected`; other keys ignored)."""
    pairs = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            pairs.append(
                Pair(
                    str(d["prompt"]),
                    str(d["chosen"]),
                    str(d["rejected"]),
                    str(d.get("premise") or ""),
                )
            )
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


def _encode(tokenizer: Any, prompt: str, answer: str, max_prompt: int = 0) -> tuple[list[int], int]:
    """Token ids of chat-templated prompt + answer + end of turn; and where the answer starts.
    The prompt gets the system message `local:` models are asked with, so training sees
    what generation sees. `max_prompt` > 0 keeps only the prompt's last tokens (faster)."""
    from agents.llm.local_model import DEFAULT_SYSTEM

    messages = [{"role": "system", "content": DEFAULT_SYSTEM}, {"role": "user", "content": prompt}]
    if getattr(tokenizer, "chat_template", None):
        p = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(p, "keys"):
            p = p["input_ids"]
        p = [int(t) for t in p]
    else:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        p = tokenizer(text)["input_ids"]
    if max_prompt > 0:
        p = p[-max_prompt:]
    a = tokenizer(answer, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    return [*p, *a, *([eos] if eos is not None else [])], len(p)


def _pad_id(tokenizer: Any) -> int:
    return int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else 0


def sequence_logps(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str],
    max_prompt: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per answer: (mean token log-prob given the prompt, summed token count)."""
    rows = [_encode(tokenizer, p, a, max_prompt) for p, a in zip(prompts, answers, strict=True)]
    ids, mask, labels = _batch(rows, _pad_id(tokenizer))
    width = ids.shape[1]
    # Logits only from the first answer position on (the vocabulary projection is costly).
    first = min(start for _, start in rows) - 1
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=width - first).logits
    return _answer_logps(logits, labels, first)


def _batch(rows: Sequence[tuple[list[int], int]], pad: int) -> tuple[torch.Tensor, ...]:
    """Right-padded ids, attention mask, and labels (-100 outside the answers)."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (seq, start) in enumerate(rows):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        labels[i, start : len(seq)] = torch.tensor(seq[start:])
    return ids, mask, labels


def _answer_logps(
    logits: torch.Tensor, labels: torch.Tensor, first: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean answer-token log-prob and token count per row, from logits kept from position
    `first` on."""
    logits = logits[:, :-1, :]
    target = labels[:, first + 1 :]
    keep = target != -100
    logp = (
        torch.log_softmax(logits.float(), -1)
        .gather(-1, target.clamp(min=0).unsqueeze(-1))
        .squeeze(-1)
    )
    counts = keep.sum(-1).clamp(min=1)
    return (logp * keep).sum(-1) / counts, counts


class _Stop(Exception):
    """Ends a forward pass once the input of the first trainable block is captured."""


def _blocks(model: Any) -> tuple[torch.nn.Module, str, torch.nn.ModuleList]:
    """The decoder blocks (Llama: model.model.layers), their parent and attribute name."""
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.ModuleList) and len(child) > 1:
                return parent, name, child
    raise ValueError("top_layers: cannot find the model's decoder blocks")


class PrefixCache:
    """Training only the top blocks: what enters them never changes (the blocks below and
    the embeddings, tied to the head, are frozen), so it is computed once per sequence,
    and every step runs only the top blocks on it, with `inputs_embeds` standing in for
    the hidden states and the lower blocks swapped out for the call. Transformers has no
    such option (its gradient checkpointing saves memory, not the frozen forward), hence
    this; `check` compares it with the full forward before it is used."""

    def __init__(self, model: Any, tokenizer: Any, top: int, max_prompt: int = 0) -> None:
        self.model, self.tokenizer, self.max_prompt = model, tokenizer, max_prompt
        self.parent, self.name, self.blocks = _blocks(model)
        if not 0 < top < len(self.blocks):
            raise ValueError(f"top_layers must be in 1..{len(self.blocks) - 1}, got {top}")
        self.top = torch.nn.ModuleList(list(self.blocks)[-top:])
        self.entry = self.blocks[len(self.blocks) - top]
        self.memo: dict[tuple[str, str], tuple[torch.Tensor, list[int], int]] = {}

    def _fill(self, keys: list[tuple[str, str]]) -> None:
        """Hidden states entering the first trainable block, for sequences not yet cached."""
        todo = [k for k in dict.fromkeys(keys) if k not in self.memo]
        if not todo:
            return
        rows = [_encode(self.tokenizer, p, a, self.max_prompt) for p, a in todo]
        ids, mask, _ = _batch(rows, _pad_id(self.tokenizer))
        seen: list[torch.Tensor] = []

        def capture(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            seen.append(args[0] if args else kwargs["hidden_states"])
            raise _Stop

        handle = self.entry.register_forward_pre_hook(capture, with_kwargs=True)
        training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                self.model(input_ids=ids, attention_mask=mask)
        except _Stop:
            pass
        finally:
            handle.remove()
            self.model.train(training)
        for i, (key, (seq, start)) in enumerate(zip(todo, rows, strict=True)):
            self.memo[key] = (seen[0][i, : len(seq)].detach().clone(), seq, start)

    def logps(
        self, prompts: Sequence[str], answers: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`sequence_logps` (with this cache's `max_prompt`) through the top blocks only."""
        keys = list(zip(prompts, answers, strict=True))
        self._fill(keys)
        cached = [self.memo[k] for k in keys]
        rows = [(seq, start) for _, seq, start in cached]
        _, mask, labels = _batch(rows, _pad_id(self.tokenizer))
        width = mask.shape[1]
        hidden = torch.zeros((len(rows), width, cached[0][0].shape[-1]), dtype=cached[0][0].dtype)
        for i, (h, seq, _) in enumerate(cached):
            hidden[i, : len(seq)] = h
        first = min(start for _, start in rows) - 1
        setattr(self.parent, self.name, self.top)
        try:
            out = self.model(
                inputs_embeds=hidden, attention_mask=mask, logits_to_keep=width - first
            )
        finally:
            setattr(self.parent, self.name, self.blocks)
        return _answer_logps(out.logits, labels, first)

    def check(self, pairs: Sequence[Pair]) -> bool:
        """Does the cached path give the full forward's log-likelihoods on `pairs`?"""
        prompts = [p.prompt for p in pairs] * 2
        answers = [p.chosen for p in pairs] + [p.rejected for p in pairs]
        training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                full, _ = sequence_logps(
                    self.model, self.tokenizer, prompts, answers, self.max_prompt
                )
                fast, _ = self.logps(prompts, answers)
        finally:
            self.model.train(training)
        return bool(torch.allclose(full, fast, atol=1e-4, rtol=1e-4))


def pair_loss(
    model: Any,
    tokenizer: Any,
    batch: Sequence[Pair],
    beta: float,
    max_prompt: int = 0,
    cache: PrefixCache | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ORPO loss and per-pair log odds ratio of a batch (through `cache` when given)."""
    prompts = [p.prompt for p in batch]
    answers = [p.chosen for p in batch] + [p.rejected for p in batch]
    if cache is not None:
        logps, _ = cache.logps(prompts + prompts, answers)
    else:
        logps, _ = sequence_logps(model, tokenizer, prompts + prompts, answers, max_prompt)
    chosen, rejected = logps[: len(batch)], logps[len(batch) :]
    return orpo_loss(chosen, rejected, -chosen, beta)


@torch.no_grad()
def pair_log_odds(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> list[float]:
    """Per pair, the log odds ratio of chosen over rejected (full prompts); `progress(done,
    total)` after each batch. Sibling pairs share their sequences (k siblings make up to
    k(k-1)/2 pairs), so each distinct (prompt, answer) is scored once, in batches of
    similar length (less padding)."""
    model.eval()
    keys = list(
        dict.fromkeys(k for p in pairs for k in ((p.prompt, p.chosen), (p.prompt, p.rejected)))
    )
    keys.sort(key=lambda k: len(k[0]) + len(k[1]))
    logp: dict[tuple[str, str], torch.Tensor] = {}
    for i in range(0, len(keys), batch_size):
        chunk = keys[i : i + batch_size]
        values, _ = sequence_logps(model, tokenizer, [k[0] for k in chunk], [k[1] for k in chunk])
        logp.update(zip(chunk, values, strict=True))
        if progress is not None:
            progress(len(logp), len(keys))
    if not pairs:
        return []
    chosen = torch.stack([logp[(p.prompt, p.chosen)] for p in pairs])
    rejected = torch.stack([logp[(p.prompt, p.rejected)] for p in pairs])
    _, log_odds = orpo_loss(chosen, rejected, -chosen, beta=0.0)
    return [float(x) for x in log_odds]


def preference_margin(
    model: Any, tokenizer: Any, pairs: Sequence[Pair], batch_size: int = 8
) -> float:
    """Mean log odds ratio of chosen over rejected: > 0 means the model prefers the chosen."""
    values = pair_log_odds(model, tokenizer, pairs, batch_size)
    return sum(values) / max(len(values), 1)


@dataclass(frozen=True)
class ORPOConfig:
    steps: int = 200
    lr: float = 5e-5
    beta: float = 0.1
    """Weight of the odds-ratio term (ORPO's lambda)."""
    batch_size: int = 4
    heldout: float = 0.2
    """Share of pairs kept out of training to measure the preference on."""
    folds: int = 0
    """> 1: cross-validation by premise: the premises, shuffled by `seed`, are dealt into
    `folds` folds and fold `fold` is held out (instead of `heldout`)."""
    fold: int = 0
    seed: int = 0
    backend: str = "ours"
    """"ours" (this file's loop) or "trl" (TRL's ORPOTrainer; `pip install .[train]`)."""
    lora: bool = False
    """Train LoRA adapters (peft) and merge them into the saved model."""
    lora_rank: int = 16
    top_layers: int = 0
    """> 0: train only the last `top_layers` transformer blocks and the final norm (the
    backward pass stops there: faster on CPU); 0: every weight (or LoRA everywhere)."""
    train_probe: int = 16
    """Train pairs the train-set preference is measured on (before and after)."""
    max_seconds: float = 0.0
    """> 0: stop after this much training time even if fewer than `steps` were taken."""
    max_prompt: int = 0
    """Training only: keep the last `max_prompt` prompt tokens (0: all). Margins are
    always measured on full prompts."""


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
    heldout_rose: int = 0
    """Held-out pairs whose log odds ratio went up."""
    heldout_groups: int = 0
    train_groups: int = 0
    heldout_positive_before: int = 0
    heldout_positive_after: int = 0
    prefix_cache: bool = False
    """The top blocks trained on cached inputs of the frozen ones (`PrefixCache`)."""

    def lines(self) -> list[str]:
        how = " (top blocks on cached inputs)" if self.prefix_cache else ""
        return [
            f"ORPO: {self.steps} steps on {self.train_pairs} pairs in {self.seconds:.1f}s"
            f"{how}; loss {self.first_loss:.4f} -> {self.last_loss:.4f}",
            f"held-out log-odds preference for the chosen ({self.heldout_pairs} pairs from "
            f"{self.heldout_groups} premise(s) not trained on): "
            f"{self.heldout_margin_before:+.4f} -> {self.heldout_margin_after:+.4f}; rose on "
            f"{self.heldout_rose}/{self.heldout_pairs}; chosen preferred on "
            f"{self.heldout_positive_before} -> {self.heldout_positive_after}",
            f"train log-odds preference (a sample of the train pairs): "
            f"{self.train_margin_before:+.4f} -> {self.train_margin_after:+.4f}",
            f"saved: {self.out} (load it as local:{self.out})",
        ]


def split_pairs(
    pairs: Sequence[Pair], heldout: float, seed: int, folds: int = 0, fold: int = 0
) -> tuple[list[Pair], list[Pair]]:
    """(train, held out) by group (`Pair.key`, the premise): whole groups are held out,
    shuffled, until about `heldout` of the pairs are; pairs of one group (and near-copies
    of its prompts and answers) never land on both sides. With one group, by prompt.
    With `folds` > 1: the shuffled groups are dealt into `folds` folds, `fold` is held out
    (so `fold` = 0..folds-1 hold out every group exactly once)."""
    if folds > 1 and not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1}, got {fold}")
    if (heldout <= 0 and folds <= 1) or len(pairs) < 2:
        return list(pairs), []
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(p.key, []).append(p)
    if len(groups) < 2:
        groups = {}
        for p in pairs:
            groups.setdefault(p.prompt, []).append(p)
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    if folds > 1:
        if len(names) < folds:
            raise ValueError(f"{folds} folds need at least {folds} premises, got {len(names)}")
        held_names = set(names[fold::folds])
        return (
            [p for name in names if name not in held_names for p in groups[name]],
            [p for name in names if name in held_names for p in groups[name]],
        )
    target = heldout * len(pairs)
    train: list[Pair] = []
    held: list[Pair] = []
    held_groups = 0
    for name in names:
        group = groups[name]
        closer = abs(len(held) + len(group) - target) <= abs(len(held) - target)
        if held_groups < len(names) - 1 and len(held) < target and (closer or not held):
            held.extend(group)
            held_groups += 1
        else:
            train.extend(group)
    return train, held


def train_orpo(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    out: str | Path,
    config: ORPOConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> ORPOReport:
    """Fine-tune `model` on `pairs` (all weights, or LoRA merged on save); saves model and
    tokenizer to `out`; measures the log-odds preference on held-out premises before/after.
    `progress(phase, done, total)` reports each phase ("held-out before", "train",
    "held-out after") as it goes."""

    cached = False

    def train_with(m: Any, train: list[Pair], bar: Callable[[int, int], None] | None) -> Any:
        nonlocal cached
        if config.backend == "trl":
            return _train_trl(m, tokenizer, train, out, config)
        if config.backend == "ours":
            m, losses, cached = _train_ours(m, tokenizer, train, config, bar)
            return m, losses
        raise ValueError(f"unknown ORPO backend {config.backend!r}; valid: ours, trl")

    run = measured_training(model, tokenizer, pairs, out, config, train_with, progress)
    held_before, held_after = run.held_before, run.held_after
    report = ORPOReport(
        train_pairs=len(run.train),
        heldout_pairs=len(run.held),
        steps=len(run.losses),
        seconds=run.seconds,
        first_loss=run.losses[0],
        last_loss=sum(run.losses[-10:]) / len(run.losses[-10:]),
        heldout_margin_before=sum(held_before) / max(len(run.held), 1),
        heldout_margin_after=sum(held_after) / max(len(run.held), 1),
        train_margin_before=run.probe_before,
        train_margin_after=run.probe_after,
        out=str(out),
        heldout_rose=sum(a > b for a, b in zip(held_after, held_before, strict=True)),
        heldout_groups=len({p.key for p in run.held}),
        train_groups=len({p.key for p in run.train}),
        heldout_positive_before=sum(x > 0 for x in held_before),
        heldout_positive_after=sum(x > 0 for x in held_after),
        prefix_cache=cached,
    )
    run.save_report(Path(out) / "orpo_report.json", asdict(report), asdict(config))
    return report


@dataclass
class MeasuredRun:
    """A preference-training run with its held-out measurement (`measured_training`)."""

    model: Any
    train: list[Pair]
    held: list[Pair]
    held_before: list[float]
    held_after: list[float]
    probe_before: float
    probe_after: float
    losses: list[float]
    seconds: float

    def save_report(self, path: Path, report: dict[str, Any], config: dict[str, Any]) -> None:
        """The report, the config and the per-pair held-out log odds (for paired
        statistics across runs, e.g. the folds of a cross-validation) as JSON."""
        per_pair = [
            {"premise": p.key, "before": round(b, 5), "after": round(a, 5)}
            for p, b, a in zip(self.held, self.held_before, self.held_after, strict=True)
        ]
        losses = [round(x, 5) for x in self.losses]  # per step: the learning curve
        path.write_text(
            json.dumps(
                {**report, "config": config, "heldout": per_pair, "losses": losses}, indent=2
            )
        )


def measured_training(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    out: str | Path,
    config: Any,
    train: Callable[[Any, list[Pair], Callable[[int, int], None] | None], Any],
    progress: Callable[[str, int, int], None] | None = None,
) -> MeasuredRun:
    """Split `pairs` by group (`config`'s heldout, folds, fold, seed), measure the held-out
    log odds and a train probe (`config.train_probe` pairs), `train(model, train_pairs,
    bar)` -> (model, losses), save model and tokenizer to `out`, and measure again. The
    progress phases are "held-out before", "train" and "held-out after"."""

    def phase(name: str) -> Callable[[int, int], None] | None:
        return None if progress is None else lambda done, total: progress(name, done, total)

    if not pairs:
        raise ValueError("no preference pairs to train on")
    torch.manual_seed(config.seed)
    train_pairs, held = split_pairs(pairs, config.heldout, config.seed, config.folds, config.fold)
    held_before = pair_log_odds(model, tokenizer, held, progress=phase("held-out before"))
    # The train-set preference on a fixed sample (forward passes cost on CPU).
    probe = random.Random(config.seed).sample(
        train_pairs, min(len(train_pairs), config.train_probe)
    )
    probe_before = preference_margin(model, tokenizer, probe)
    start = time.perf_counter()
    model, losses = train(model, train_pairs, phase("train"))
    seconds = time.perf_counter() - start
    model.eval()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    held_after = pair_log_odds(model, tokenizer, held, progress=phase("held-out after"))
    return MeasuredRun(
        model,
        train_pairs,
        held,
        held_before,
        held_after,
        probe_before,
        preference_margin(model, tokenizer, probe),
        list(losses),
        seconds,
    )


def _train_ours(
    model: Any,
    tokenizer: Any,
    train: list[Pair],
    config: ORPOConfig,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Any, list[float], bool]:
    """AdamW on the ORPO loss; with `lora`, on peft LoRA adapters, merged at the end; with
    `top_layers`, on the top blocks over cached inputs (`PrefixCache`) when that checks
    out. Also says whether the cache was used."""
    if config.lora:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise ValueError("--lora needs peft: pip install '.[train]'") from None
        lora = LoraConfig(
            r=config.lora_rank,
            lora_alpha=2 * config.lora_rank,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    cache = None
    if not config.lora and config.top_layers > 0:
        freeze_below(model, config.top_layers)
        cache = PrefixCache(model, tokenizer, config.top_layers, config.max_prompt)
        if not cache.check(train[:2]):  # a model whose forward the swap does not fit
            cache = None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr)
    rng = random.Random(config.seed)
    losses = []
    model.train()
    start = time.perf_counter()
    for _ in range(config.steps):
        if config.max_seconds and time.perf_counter() - start > config.max_seconds:
            break
        batch = rng.sample(train, min(config.batch_size, len(train)))
        loss, _ = pair_loss(model, tokenizer, batch, config.beta, config.max_prompt, cache)
        opt.zero_grad()
        torch.autograd.backward(loss)  # = loss.backward(), whose signature is unannotated
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(len(losses), config.steps)
    if config.lora:
        model = model.merge_and_unload()  # a plain model that `local:PATH` loads
    for p in model.parameters():
        p.requires_grad_(True)
    return model, losses, cache is not None


def freeze_below(model: Any, top: int) -> None:
    """Freeze every weight but the last `top` decoder blocks and the final norm."""
    _, _, blocks = _blocks(model)
    for p in model.parameters():
        p.requires_grad_(False)
    keep = list(blocks)[-top:]
    norm = getattr(getattr(model, "model", model), "norm", None)
    for module in [*keep, *([norm] if norm is not None else [])]:
        for p in module.parameters():
            p.requires_grad_(True)


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
    from agents.llm.local_model import DEFAULT_SYSTEM

    rows = [
        {  # the system message `local:` models are asked with, as in `_encode`
            "prompt": [
                {"role": "system", "content": DEFAULT_SYSTEM},
                {"role": "user", "content": p.prompt},
            ],
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
            r=config.lora_rank,
            lora_alpha=2 * config.lora_rank,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    trainer = ORPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    trainer.train()
    trained: Any = trainer.model
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
