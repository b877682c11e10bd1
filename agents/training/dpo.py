"""DPO (Rafailov et al., 2023) with LoRA, by TRL's `DPOTrainer` and peft: LSPO's step that
turns a solved latent policy back into language (statements of strategies the policy
favours preferred over those it disfavours, in the same situation).

One model copy: with a peft model TRL takes the reference log-probs from the same weights
with the adapter switched off. The adapter is merged on save, so the output directory
loads as `local:PATH`. Held-out pairs are split by `Pair.key` (a situation), as ORPO's
are, and the held-out log-odds preference for the chosen statement is measured before and
after (`orpo.pair_log_odds`), per pair, for paired statistics across folds.

Needs the `train` extra (`pip install '.[train]'`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.training.orpo import Pair, measured_training


@dataclass(frozen=True)
class DPOConfig:
    steps: int = 60
    lr: float = 2e-4
    """LoRA learning rate (adapters tolerate a larger one than full fine-tuning)."""
    beta: float = 0.1
    """DPO's temperature on the implicit reward."""
    batch_size: int = 4
    lora_rank: int = 16
    max_length: int = 512
    """Prompt + answer tokens kept in training: a longer prompt loses its start
    (`fit_prompts`; TRL itself would keep the start and cut the answers off)."""
    heldout: float = 0.2
    folds: int = 0
    """> 1: cross-validation by situation; fold `fold` is held out (instead of `heldout`)."""
    fold: int = 0
    seed: int = 0
    train_probe: int = 16
    """Train pairs the train-set preference is measured on (before and after)."""


@dataclass
class DPOReport:
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
    heldout_rose: int
    out: str

    def lines(self) -> list[str]:
        return [
            f"DPO (LoRA): {self.steps} steps on {self.train_pairs} pairs in "
            f"{self.seconds:.1f}s; loss {self.first_loss:.4f} -> {self.last_loss:.4f}",
            f"held-out log-odds preference for the chosen ({self.heldout_pairs} pairs from "
            f"situations not trained on): {self.heldout_margin_before:+.4f} -> "
            f"{self.heldout_margin_after:+.4f}; rose on {self.heldout_rose}/{self.heldout_pairs}",
            f"train log-odds preference (a sample): {self.train_margin_before:+.4f} -> "
            f"{self.train_margin_after:+.4f}",
            f"saved: {self.out} (load it as local:{self.out})",
        ]


def fit_prompts(pairs: Sequence[Pair], tokenizer: Any, max_length: int) -> list[Pair]:
    """`pairs` with each prompt cut from its start (whole tokens, marked "...") so that the
    chat-templated prompt and the longer answer fit in `max_length` tokens. TRL's DPO
    truncates only from the end (`truncation_mode="keep_start"` is all it supports), which
    would cut the answers, the very tokens DPO compares; a situation's prompt ends with
    what matters most (the latest record and the request)."""
    out = []
    for p in pairs:
        row = dpo_rows([p])[0]
        prompt_ids = tokenizer.apply_chat_template(
            row["prompt"], add_generation_prompt=True, tokenize=True
        )
        if hasattr(prompt_ids, "keys"):
            prompt_ids = prompt_ids["input_ids"]
        answer = max(len(tokenizer(a)["input_ids"]) for a in (p.chosen, p.rejected)) + 4
        excess = len(prompt_ids) + answer - max_length
        if excess <= 0:
            out.append(p)
            continue
        ids = tokenizer(p.prompt, add_special_tokens=False)["input_ids"]
        keep = max(len(ids) - excess - 2, 1)  # "..." costs about two tokens
        tail = tokenizer.decode(ids[-keep:], skip_special_tokens=True)
        out.append(Pair("..." + tail, p.chosen, p.rejected, p.group))
    return out


def dpo_rows(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    """TRL's conversational preference format, with the system message `local:` models are
    asked with."""
    from agents.llm.local_model import DEFAULT_SYSTEM

    return [
        {
            "prompt": [
                {"role": "system", "content": DEFAULT_SYSTEM},
                {"role": "user", "content": p.prompt},
            ],
            "chosen": [{"role": "assistant", "content": p.chosen}],
            "rejected": [{"role": "assistant", "content": p.rejected}],
        }
        for p in pairs
    ]


def train_dpo(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Pair],
    out: str | Path,
    config: DPOConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> DPOReport:
    """LoRA-DPO on `pairs` (held-out situations kept aside), merged and saved to `out` with
    the tokenizer and `dpo_report.json`; `progress(phase, done, total)` per phase."""

    def train_with(m: Any, train: list[Pair], bar: Callable[[int, int], None] | None) -> Any:
        return _train_trl(m, tokenizer, train, out, config, bar)

    run = measured_training(model, tokenizer, pairs, out, config, train_with, progress)
    losses, held = run.losses, run.held
    report = DPOReport(
        train_pairs=len(run.train),
        heldout_pairs=len(held),
        steps=len(losses),
        seconds=run.seconds,
        first_loss=losses[0] if losses else float("nan"),
        last_loss=sum(losses[-10:]) / max(len(losses[-10:]), 1),
        heldout_margin_before=sum(run.held_before) / max(len(held), 1),
        heldout_margin_after=sum(run.held_after) / max(len(held), 1),
        train_margin_before=run.probe_before,
        train_margin_after=run.probe_after,
        heldout_rose=sum(a > b for a, b in zip(run.held_after, run.held_before, strict=True)),
        out=str(out),
    )
    run.save_report(Path(out) / "dpo_report.json", asdict(report), asdict(config))
    return report


def _train_trl(
    model: Any,
    tokenizer: Any,
    train: list[Pair],
    out: str | Path,
    config: DPOConfig,
    progress: Callable[[int, int], None] | None,
) -> tuple[Any, list[float]]:
    try:
        from datasets import Dataset
        from peft import LoraConfig
        from transformers import PrinterCallback, TrainerCallback
        from trl.trainer.dpo_config import DPOConfig as TrlConfig
        from trl.trainer.dpo_trainer import DPOTrainer
    except ImportError:
        raise ValueError("DPO needs the train extra: pip install '.[train]'") from None
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

    class Progress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress is not None:
                progress(int(state.global_step), int(state.max_steps))

    args = TrlConfig(
        output_dir=str(Path(out) / "trl"),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.lr,
        beta=config.beta,
        max_length=config.max_length,
        seed=config.seed,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=2 * config.lora_rank,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(dpo_rows(fit_prompts(train, tokenizer, config.max_length))),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[Progress()],
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict to stdout
    trainer.train()
    peft_model: Any = trainer.model
    trained = peft_model.merge_and_unload()  # a plain model that `local:PATH` loads
    for p in trained.parameters():
        p.requires_grad_(True)
    losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    return trained, losses
