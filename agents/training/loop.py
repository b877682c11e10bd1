"""LOOP, leave-one-out PPO for LLM agents (Chen et al., 2025, "Reinforcement Learning for
Long-Horizon Interactive LLM Agents").

PPO without a value network, a reference model or a KL penalty: one copy of the model,
trained through LoRA adapters (peft). Per task, K rollouts; a rollout's advantage is its
return minus the mean return of the other K - 1 (`leave_one_out`), the same for every
token it generated. The loss is PPO's clipped surrogate per generated token
(`ppo_token_loss`), averaged over all trained tokens of an optimizer step (PPO-token, the
paper's best variant); prompt and observation tokens are masked out.

Tasks come in through `RolloutEnv.run(policy, task, seed) -> Rollout`: the environment
asks the `Policy` for model turns and scores the episode. `SingleTurnEnv` is the
one-prompt, one-answer case (game24-like tasks, the tests).

Old log-probs: the engine records a log-prob per sampled token, but its decoder may read
quantised weights (a Q4 GGUF decodes through 4-bit weights in bfloat16), it reports the
untempered distribution, and it does not report the end-of-turn token. So the "old"
log-probs of the ratio are recomputed with the training model's own forward, on the same
tokens and weights, right before the update (as many PPO implementations do); the
engine's log-probs are kept and their largest gap to the recomputed ones is logged
(`logp_gap`; float32 weights at temperature 1: ~1e-6).
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import torch

from agents.llm.local_engine import Engine, Job, Params, Sample, eos_ids
from agents.llm.local_model import plain_prompt, with_default_system
from agents.llm.types import Message

TaskT = TypeVar("TaskT", bound=Hashable)
TaskC = TypeVar("TaskC", bound=Hashable, contravariant=True)


@dataclass
class Turn:
    """One model turn: the messages shown to the model, their token ids (what the engine
    was given), the tokens it generated with the engine's log-probs (untempered), and the
    end-of-turn token when it ended its turn (trained on too)."""

    messages: list[Message]
    prompt: list[int]
    tokens: list[int]
    logprobs: list[float]
    text: str
    eos: int | None = None

    @property
    def trained(self) -> list[int]:
        """The tokens the model generated: the ones trained on."""
        return [*self.tokens, *([self.eos] if self.eos is not None else [])]


@dataclass
class Rollout:
    """One episode: the model's turns and the scalar return."""

    turns: list[Turn]
    reward: float
    success: bool = False
    info: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    def sample(self, contexts: Sequence[Sequence[Message]], n: int, seed: int) -> list[list[Turn]]:
        """`n` sampled turns per context (one batch)."""
        ...


@runtime_checkable
class RolloutEnv(Protocol[TaskC]):
    def run(self, policy: Policy, task: TaskC, seed: int) -> Rollout:
        """Play one episode of `task` with `policy` (every model turn through
        `policy.sample`) and score it."""
        ...


@runtime_checkable
class GroupEnv(Protocol[TaskC]):
    def run_group(
        self, policy: Policy, tasks: Sequence[TaskC], k: int, seed: int
    ) -> list[list[Rollout]]:
        """`k` episodes of each task, batched as the environment can (optional: without
        it, `run` is called k times per task)."""
        ...


class EnginePolicy:
    """Samples turns from an `Engine` (chat template, the `local:` system message)."""

    def __init__(
        self,
        engine: Engine,
        temperature: float = 1.0,
        max_tokens: int = 256,
        stop: tuple[str, ...] | None = None,
        stream: int = 0,
    ) -> None:
        self.engine = engine
        self.stream = stream  # the first context's random stream (a batch's offset)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.stop = stop
        tok = engine.tokenizer
        self.eos = int(tok.eos_token_id) if tok.eos_token_id is not None else None
        if self.eos is None and eos_ids(tok):
            self.eos = min(eos_ids(tok))

    def sample(self, contexts: Sequence[Sequence[Message]], n: int, seed: int) -> list[list[Turn]]:
        messages = [with_default_system(c) for c in contexts]
        prompts = [encode_messages(self.engine.tokenizer, m) for m in messages]
        # One batch, but a random stream per context (`Engine.generate` seeds every
        # prompt alike: similar prompts would get the same draws).
        jobs = [
            Job(
                p,
                n,
                Params(self.temperature, self.max_tokens, self.stop, seed * 7919 + self.stream + i),
            )
            for i, p in enumerate(prompts)
        ]
        batch = self.engine.admit(None, jobs)
        while batch is not None:
            batch = self.engine.step(batch)
        results = [job.samples for job in jobs]
        return [
            [
                Turn(
                    list(m),
                    p,
                    list(s.tokens),
                    list(s.logprobs),
                    s.text or "",
                    self.eos if self._ended(s) else None,
                )
                for s in samples
            ]
            for m, p, samples in zip(messages, prompts, results, strict=True)
        ]

    def _ended(self, sample: Sample) -> bool:
        """Did the model end its turn (the end-of-turn token, not a stop string or the
        length)? A stop string cuts the text short of the decoded tokens; the engine does
        not say which end token it drew, so the tokenizer's is trained on."""
        if sample.finish_reason != "stop" or self.eos is None:
            return False
        decoded = self.engine.tokenizer.decode(sample.tokens, skip_special_tokens=True)
        return bool(sample.text == decoded)


def encode_messages(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """Prompt token ids of `messages` (chat template with the generation prompt), as the
    `local:` backend encodes them."""
    if getattr(tokenizer, "chat_template", None):
        encoded = tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=True
        )
        if hasattr(encoded, "keys") and "input_ids" in encoded:
            encoded = encoded["input_ids"]
        return [int(t) for t in encoded]
    return [int(t) for t in tokenizer(plain_prompt(messages))["input_ids"]]


class SingleTurnEnv(Generic[TaskT]):
    """One prompt, one answer: `prompts[task]` (a string: the user message; or messages)
    is answered once and scored by `reward_fn(task, answer)`; success is a reward of at
    least `success_at`."""

    def __init__(
        self,
        prompts: Mapping[TaskT, str | Sequence[Message]]
        | Callable[[TaskT], str | Sequence[Message]],
        reward_fn: Callable[[TaskT, str], float],
        success_at: float = 1.0,
    ) -> None:
        self.prompts, self.reward_fn, self.success_at = prompts, reward_fn, success_at

    def messages(self, task: TaskT) -> list[Message]:
        prompt = self.prompts(task) if callable(self.prompts) else self.prompts[task]
        if isinstance(prompt, str):
            return [{"role": "user", "content": prompt}]
        return list(prompt)

    def _score(self, task: TaskT, turn: Turn) -> Rollout:
        reward = float(self.reward_fn(task, turn.text))
        return Rollout([turn], reward, reward >= self.success_at)

    def run(self, policy: Policy, task: TaskT, seed: int) -> Rollout:
        return self._score(task, policy.sample([self.messages(task)], 1, seed)[0][0])

    def run_group(
        self, policy: Policy, tasks: Sequence[TaskT], k: int, seed: int
    ) -> list[list[Rollout]]:
        turns = policy.sample([self.messages(t) for t in tasks], k, seed)
        return [
            [self._score(t, turn) for turn in group] for t, group in zip(tasks, turns, strict=True)
        ]


def leave_one_out(returns: Sequence[float], std_normalise: bool = False) -> list[float]:
    """Per rollout of one task: its return minus the mean return of the other K - 1.
    With `std_normalise`, divided by the population standard deviation of the K returns
    (all equal: every advantage is 0)."""
    k = len(returns)
    if k < 2:
        raise ValueError(f"leave-one-out needs at least 2 rollouts per task, got {k}")
    total = sum(returns)
    adv = [r - (total - r) / (k - 1) for r in returns]
    if std_normalise:
        mean = total / k
        std = (sum((r - mean) ** 2 for r in returns) / k) ** 0.5
        adv = [a / std if std > 0 else 0.0 for a in adv]
    return adv


def ppo_token_loss(
    new_logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
    denominator: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO-clip per token: -min(r A, clip(r, 1 - clip, 1 + clip) A), r = exp(new - old),
    summed over the tokens `mask` keeps and divided by `denominator` (default: their
    count: the token-level mean). `new_logp`, `old_logp`, `mask`: [rows, tokens];
    `advantages`: [rows] (one per sequence) or [rows, tokens]. Also: the share of kept
    tokens whose ratio is outside the clip range, and their mean ratio."""
    adv = advantages[:, None] if advantages.dim() == 1 else advantages
    keep = mask.to(new_logp.dtype)
    ratio = torch.exp((new_logp - old_logp) * keep)
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    count = float(keep.sum())
    denom = denominator if denominator is not None else max(count, 1.0)
    loss = -(surrogate * keep).sum() / denom
    with torch.no_grad():
        outside = ((ratio - 1).abs() > clip).to(keep.dtype) * keep
        stats = {
            "clipped": float(outside.sum()) / max(count, 1.0),
            "ratio": float((ratio * keep).sum()) / max(count, 1.0),
        }
    return loss, stats


def token_logps(
    model: Any, rows: Sequence[tuple[list[int], list[int]]], temperature: float = 1.0, pad: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs of each row's generated tokens given its prompt, from softmax(logits /
    temperature): [rows, longest answer] and the mask of real tokens. `rows` are (prompt
    ids, generated ids)."""
    seqs = [p + a for p, a in rows]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        attn[i, : len(s)] = 1
    first = min(len(p) for p, _ in rows) - 1  # logits from the first answer position on
    logits = model(input_ids=ids, attention_mask=attn, logits_to_keep=width - first).logits
    logp = torch.log_softmax(logits.float() / temperature, -1)
    longest = max(len(a) for _, a in rows)
    out = torch.zeros((len(rows), longest), dtype=logp.dtype)
    mask = torch.zeros((len(rows), longest), dtype=torch.bool)
    for i, (p, a) in enumerate(rows):
        if not a:
            continue
        at = len(p) - 1 - first  # the logits row that predicts the first answer token
        target = torch.tensor(a)
        picked = logp[i, at : at + len(a)].gather(-1, target[:, None]).squeeze(-1)
        out[i, : len(a)] = picked
        mask[i, : len(a)] = True
    return out, mask


@dataclass(frozen=True)
class LoopConfig:
    k: int = 6
    """Rollouts per task (the leave-one-out group)."""
    clip: float = 0.2
    """PPO's epsilon: the ratio is clipped to [1 - clip, 1 + clip]."""
    lr: float = 5e-5
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_target: str = "all-linear"
    epochs: int = 1
    """Passes over each iteration's rollouts."""
    minibatch: int = 0
    """Sequences (model turns) per optimizer step; 0: all of the iteration's at once."""
    micro_batch: int = 8
    """Sequences per forward pass (gradients accumulate; the loss stays the step's
    token mean)."""
    temperature: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] | None = None
    iterations: int = 10
    tasks_per_iteration: int = 8
    seed: int = 0
    std_normalise: bool = False
    """Divide the leave-one-out advantages by the std of the task's K returns (the paper
    does not; off)."""
    drop_flat: bool = True
    """Leave out rollouts whose advantage is 0 (every rollout of the task scored the
    same): their loss and gradient are 0 anyway, so this only saves their forward passes
    and keeps them out of the token mean's denominator."""
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    save_merged: bool = False
    """At the end, merge the adapters into the model (in place) and save it with the
    tokenizer to `out/merged` (loads as `local:PATH`)."""


@dataclass
class IterationLog:
    iteration: int
    tasks: int
    rollouts: int
    mean_reward: float
    success_rate: float
    trained_rollouts: int
    """Rollouts with a non-zero advantage (all of them without `drop_flat`)."""
    tokens: int
    """Generated tokens trained on."""
    loss: float
    clip_fraction: float
    """Share of trained tokens whose ratio left [1 - clip, 1 + clip] (0 on the first
    step of an iteration)."""
    steps: int
    logp_gap: float | None
    """Largest |engine log-prob - trainer log-prob| over the sampled tokens (at
    temperature 1 only; the engine reports the untempered distribution)."""
    rollout_seconds: float
    train_seconds: float
    peak_rss_mb: float


@dataclass
class LoopReport:
    iterations: int
    resumed: int
    """Iterations found finished in `out` and skipped."""
    logs: list[IterationLog]
    adapter: str
    seconds: float
    trainable_params: int
    total_params: int
    merged: str = ""
    """`out/merged` when `save_merged` was set."""

    def lines(self) -> list[str]:
        rewards = " -> ".join(f"{x.mean_reward:.3f}" for x in self.logs)
        return [
            f"LOOP: {self.iterations} iterations ({self.resumed} resumed) in "
            f"{self.seconds:.1f}s; {self.trainable_params} LoRA of {self.total_params} params",
            f"mean reward per iteration: {rewards}",
            f"adapter: {self.adapter}",
            *(
                [f"merged model: {self.merged} (load it as local:{self.merged})"]
                if self.merged
                else []
            ),
        ]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _with_lora(model: Any, config: LoopConfig) -> Any:
    """`model` with LoRA adapters (peft, injected in place: no second copy); a peft model
    is used as it is."""
    try:
        from peft import LoraConfig, PeftModel, get_peft_model
    except ImportError:
        raise ValueError("LOOP needs peft: pip install '.[train]'") from None
    if isinstance(model, PeftModel):
        return model
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,  # old and new log-probs come from the same deterministic forward
        target_modules=config.lora_target,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _rollouts(
    peft_model: Any,
    tokenizer: Any,
    env: RolloutEnv[TaskT] | GroupEnv[TaskT],
    tasks: Sequence[TaskT],
    config: LoopConfig,
    seed: int,
) -> list[list[Rollout]]:
    """K rollouts per task from the current weights: the adapters are merged into the
    base weights for the engine (its decoder reads plain weights) and unmerged after."""
    peft_model.merge_adapter()
    try:
        groups = play_groups(peft_model.get_base_model(), tokenizer, env, tasks, config, seed)
    finally:
        peft_model.unmerge_adapter()
    return groups


def play_groups(
    model: Any,
    tokenizer: Any,
    env: RolloutEnv[TaskT] | GroupEnv[TaskT],
    tasks: Sequence[TaskT],
    config: LoopConfig,
    seed: int,
    first: int = 0,
) -> list[list[Rollout]]:
    """K rollouts per task from `model`'s plain weights. `first`: the index of `tasks[0]`
    in the iteration's batch, so a part of the batch played elsewhere (a Ray worker)
    draws the random streams the whole batch would."""
    # float32: the int4 path (exactly-4-bit weights, as the base GGUF's are before
    # the first update) samples from a bfloat16/int8 approximation, up to 0.3 nats
    # off the trained model's log-probs; the rollouts must come from the policy trained.
    engine = Engine(model, tokenizer, decoder="float32")
    engine.prefixes = None  # weights change every iteration: nothing to carry over
    policy = EnginePolicy(engine, config.temperature, config.max_tokens, config.stop, first)
    with torch.no_grad():
        if isinstance(env, GroupEnv):
            return env.run_group(policy, tasks, config.k, seed)
        return [
            [env.run(policy, t, seed + 7919 * (first + i) + j) for j in range(config.k)]
            for i, t in enumerate(tasks)
        ]


RolloutFn = Callable[
    [Any, Any, "RolloutEnv[Any] | GroupEnv[Any]", Sequence[Any], "LoopConfig", int],
    list[list[Rollout]],
]
"""How an iteration's rollouts are played: (peft model, tokenizer, env, tasks, config,
seed) -> K rollouts per task. `_rollouts` here; on a Ray cluster `agents.training.loop_ray`."""


def _old_logps(
    model: Any, rows: list[tuple[list[int], list[int]]], config: LoopConfig, pad: int
) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    with torch.no_grad():
        for i in range(0, len(rows), config.micro_batch):
            chunk = rows[i : i + config.micro_batch]
            logp, mask = token_logps(model, chunk, config.temperature, pad)
            out.extend(logp[j, : int(mask[j].sum())].clone() for j in range(len(chunk)))
    return out


def _update(
    model: Any,
    opt: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    rows: list[tuple[list[int], list[int]]],
    advantages: list[float],
    old: list[torch.Tensor],
    config: LoopConfig,
    rng: random.Random,
    pad: int,
) -> tuple[list[float], list[float], int]:
    """PPO-clip epochs over the sequences; (loss per step, clip fraction per step, steps)."""
    losses: list[float] = []
    clipped: list[float] = []
    size = config.minibatch if config.minibatch > 0 else len(rows)
    for _ in range(config.epochs):
        order = list(range(len(rows)))
        rng.shuffle(order)
        for s in range(0, len(order), size):
            step = order[s : s + size]
            tokens = sum(len(rows[i][1]) for i in step)
            if tokens == 0:
                continue
            opt.zero_grad()
            total, outside = 0.0, 0.0
            for m in range(0, len(step), config.micro_batch):
                micro = step[m : m + config.micro_batch]
                new, mask = token_logps(model, [rows[i] for i in micro], config.temperature, pad)
                old_t = torch.zeros_like(new)
                for j, i in enumerate(micro):
                    old_t[j, : len(old[i])] = old[i]
                adv = torch.tensor([advantages[i] for i in micro], dtype=new.dtype)
                loss, stats = ppo_token_loss(new, old_t, adv, mask, config.clip, float(tokens))
                torch.autograd.backward(loss)
                total += float(loss.detach())
                outside += stats["clipped"] * float(mask.sum())
            if config.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            opt.step()
            losses.append(total)
            clipped.append(outside / tokens)
    return losses, clipped, len(losses)


def _schedule(tasks: Sequence[TaskT], config: LoopConfig, iteration: int) -> list[TaskT]:
    """The tasks of `iteration`: a seeded shuffle of all tasks, taken in turn (reshuffled
    each pass), the same on a rerun."""
    m = min(config.tasks_per_iteration, len(tasks))
    out: list[TaskT] = []
    start = iteration * m
    for n in range(start, start + m):
        epoch, at = divmod(n, len(tasks))
        order = list(range(len(tasks)))
        random.Random(f"{config.seed}:{epoch}").shuffle(order)
        out.append(tasks[order[at]])
    return out


def _finished(out: Path, iterations: int) -> int:
    """How many leading iterations `out` holds complete checkpoints of."""
    n = 0
    while n < iterations and (out / f"iter{n}" / "log.json").is_file():
        n += 1
    return n


def _save(out: Path, i: int, model: Any, opt: torch.optim.Optimizer, log: IterationLog) -> Path:
    """Adapter, optimizer state and log of iteration `i`, written to a temporary
    directory and renamed (a crash never leaves a half-written checkpoint)."""
    final = out / f"iter{i}"
    tmp = out / f".iter{i}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    (tmp / "log.json").write_text(json.dumps(asdict(log)))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


def _read_log(out: Path, i: int) -> IterationLog:
    return IterationLog(**json.loads((out / f"iter{i}" / "log.json").read_text()))


def _load(out: Path, i: int, model: Any, opt: torch.optim.Optimizer) -> None:
    """The adapter and optimizer state of iteration `i` into `model` and `opt`."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    where = out / f"iter{i}"
    set_peft_model_state_dict(model, load_file(str(where / "adapter_model.safetensors")))
    opt.load_state_dict(torch.load(where / "optimizer.pt", weights_only=True))


def _save_merged(peft_model: Any, tokenizer: Any, out: Path) -> Path:
    """Merge the adapters into the weights (in place: the model is a plain one after)
    and save model and tokenizer to `out/merged`, which loads as `local:PATH`."""
    final, tmp = out / "merged", out / ".merged.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


def train_loop(
    model: Any,
    tokenizer: Any,
    env: RolloutEnv[TaskT] | GroupEnv[TaskT],
    tasks: Sequence[TaskT],
    config: LoopConfig,
    out: str | Path,
    progress: Callable[[IterationLog], None] | None = None,
    rollouts: RolloutFn | None = None,
) -> LoopReport:
    """Train `model` with LOOP on `tasks`.

    The caller provides: `model`, a transformers causal LM (float32, e.g. from
    `agents.training.orpo.load_trainable`; LoRA adapters are injected into it in place,
    so afterwards it is a peft-adapted model, and nothing else holds a copy) and its
    `tokenizer`; `env`, whose `run(policy, task, seed)` plays one episode and returns a
    `Rollout` (or `run_group` for K per task in one batch; `SingleTurnEnv` for
    prompt -> answer tasks); `tasks`, hashable task ids the env understands.

    Each iteration takes `tasks_per_iteration` tasks, K rollouts each, their leave-one-
    out advantages, `epochs` of PPO-clip steps on the adapters, and saves `out/iter{i}/`
    (adapter, optimizer state, log.json) and a line of `out/log.jsonl`. A rerun with the
    same `out` skips finished iterations and continues from the last adapter.
    `progress(log)` after each iteration. The final adapter is `out/iter{n-1}`; with
    `save_merged`, also a merged model in `out/merged`. `rollouts`: how each iteration's
    rollouts are played (default: here, on the trained weights).

    Memory: one model. The engine that samples the rollouts runs on the same weights
    (the adapters merged in for the rollouts, unmerged after); its fast decoder keeps
    fused q/k/v and gate/up matrices while it samples, freed before the update."""
    if config.k < 2:
        raise ValueError(f"LOOP needs k >= 2 rollouts per task, got {config.k}")
    if not tasks:
        raise ValueError("no tasks to train on")
    if config.temperature <= 0:
        raise ValueError(f"LOOP samples: temperature must be > 0, got {config.temperature}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    pad = int(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else 0
    peft_model = _with_lora(model, config)
    peft_model.eval()  # no dropout: old and new log-probs from the same forward
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    start = time.perf_counter()
    done = _finished(out, config.iterations)
    logs = [_read_log(out, i) for i in range(done)]
    if done:
        _load(out, done - 1, peft_model, opt)
    (out / "log.jsonl").write_text("".join(json.dumps(asdict(x)) + "\n" for x in logs))
    for i in range(done, config.iterations):
        t0 = time.perf_counter()
        batch = _schedule(tasks, config, i)
        seed = config.seed * 1_000_003 + i
        groups = (rollouts or _rollouts)(peft_model, tokenizer, env, batch, config, seed)
        for t, g in zip(batch, groups, strict=True):  # whoever played them
            if len(g) != config.k:
                raise ValueError(f"task {t!r}: {len(g)} rollouts, expected k={config.k}")
        t1 = time.perf_counter()
        rows: list[tuple[list[int], list[int]]] = []
        advantages: list[float] = []
        engine_lp: list[list[float]] = []
        trained = 0
        for group in groups:
            adv = leave_one_out([r.reward for r in group], config.std_normalise)
            for r, a in zip(group, adv, strict=True):
                if config.drop_flat and a == 0.0:
                    continue
                trained += 1
                for turn in r.turns:
                    rows.append((turn.prompt, turn.trained))
                    advantages.append(a)
                    engine_lp.append(turn.logprobs)
        old = _old_logps(peft_model, rows, config, pad) if rows else []
        gap = None
        if config.temperature == 1.0 and rows:
            gap = max(
                (
                    float((o[: len(e)] - torch.tensor(e, dtype=o.dtype)).abs().max())
                    for o, e in zip(old, engine_lp, strict=True)
                    if e
                ),
                default=0.0,
            )
        rng = random.Random(seed)
        losses, clipped, steps = (
            _update(peft_model, opt, params, rows, advantages, old, config, rng, pad)
            if rows
            else ([], [], 0)
        )
        rewards = [r.reward for g in groups for r in g]
        log = IterationLog(
            iteration=i,
            tasks=len(batch),
            rollouts=len(rewards),
            mean_reward=sum(rewards) / len(rewards),
            success_rate=sum(r.success for g in groups for r in g) / len(rewards),
            trained_rollouts=trained,
            tokens=sum(len(a) for _, a in rows),
            loss=sum(losses) / len(losses) if losses else 0.0,
            clip_fraction=sum(clipped) / len(clipped) if clipped else 0.0,
            steps=steps,
            logp_gap=gap,
            rollout_seconds=t1 - t0,
            train_seconds=time.perf_counter() - t1,
            peak_rss_mb=_peak_rss_mb(),
        )
        _save(out, i, peft_model, opt, log)
        with (out / "log.jsonl").open("a") as f:
            f.write(json.dumps(asdict(log)) + "\n")
        logs.append(log)
        if progress is not None:
            progress(log)
    trainable = sum(p.numel() for p in params)
    total = sum(p.numel() for p in peft_model.parameters())
    merged = _save_merged(peft_model, tokenizer, out) if config.save_merged else None
    return LoopReport(
        iterations=config.iterations,
        resumed=done,
        logs=logs,
        adapter=str(out / f"iter{config.iterations - 1}"),
        seconds=time.perf_counter() - start,
        trainable_params=trainable,
        total_params=total,
        merged=str(merged) if merged is not None else "",
    )
