"""LOOP's tasks (for `agents train loop`) and its experiment on the local model.

Tasks: `appworld_tasks(...)` (appworld-mini templates, K episodes per task in AppWorld's
real apps through `agents.training.loop_envs.AppWorldLoopEnv`) and `game24_tasks(...)`
(one prompt, one answer, scored by `benchmarks.game24.puzzles.check`).

The experiment (`python -m benchmarks.loop_experiment`): see `main`'s docstring.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.llm.types import Message
from agents.training.loop import SingleTurnEnv
from agents.training.loop_envs import AppWorldEpisodeTask
from benchmarks.protocol import LOOP

LOOP_TASKS = ("appworld-mini", "game24", "countdown", "swe-mini")
EXPERIMENT_TASKS = ("appworld-mini", "game24", "countdown")
"""The tasks the before/after experiment (`main`) runs; swe-mini trains (`agents train
loop`) but has no held-out split of its own (14 instances)."""
DEMO_INDEX = 99
"""The demonstration of a template is its task 99: beyond any task trained or evaluated
on (those are indices 0..per_template-1)."""


# -- appworld-mini -------------------------------------------------------------------------


def appworld_templates(split: str = "train", names: Sequence[str] = ()) -> list[Any]:
    """The templates of `split` (all of them, or `names`, which must be in the split)."""
    from benchmarks.appworld.suite import templates

    pool = [t for t in templates() if t.split == split]
    if not names:
        return pool
    known = {t.name: t for t in pool}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown {split} template {unknown[0]!r}; the {split} templates: {', '.join(known)}"
        )
    return [known[n] for n in names]


def template_demo(template: Any) -> str:
    """A solved task of `template` (its task DEMO_INDEX and gold code), for the prompt."""
    from benchmarks.appworld.suite import make_task
    from sandboxes.appworld.protocol import demonstration

    mini = make_task(template, DEMO_INDEX)
    return demonstration(mini.task.instruction, mini.gold)


def appworld_tasks(
    split: str = "train",
    names: Sequence[str] = (),
    indices: Sequence[int] = range(3),
    demo: bool = True,
) -> list[AppWorldEpisodeTask]:
    """Tasks `indices` of each template of `split` (or of `names`); with `demo`, each
    prompt opens with a solved task of the same template (task DEMO_INDEX)."""
    from benchmarks.appworld.suite import make_task

    if any(i < 0 or i >= DEMO_INDEX for i in indices):
        raise ValueError(f"task indices must be in 0..{DEMO_INDEX - 1} (the demo is task 99)")
    out = []
    for template in appworld_templates(split, names):
        shown = template_demo(template) if demo else None
        for i in indices:
            mini = make_task(template, i)
            out.append(AppWorldEpisodeTask(mini.name, mini.task, shown))
    return out


# -- game24 --------------------------------------------------------------------------------

GAME24_SHOTS = (
    ((4, 4, 10, 10), "(10 * 10 - 4) / 4"),
    ((1, 2, 3, 4), "1 * 2 * 3 * 4"),
    ((2, 3, 5, 12), "12 * (5 - 3) * 2 / 2"),
    ((1, 1, 4, 6), "4 * 6 * 1 * 1"),
    ((3, 3, 8, 8), "8 / (3 - 8 / 3)"),
)


GAME24_EASY_SHOTS = (
    ((5, 6, 6, 7), "5 + 6 + 6 + 7"),
    ((1, 2, 3, 4), "1 * 2 * 3 * 4"),
    ((2, 3, 9, 10), "2 + 3 + 9 + 10"),
)
"""The easy variant's examples: two of the three are sums (these puzzles are never trained
or evaluated on)."""


def game24_prompt(puzzle: Sequence[int], shots: int = 3, easy: bool = False) -> list[Message]:
    """Few-shot: `shots` solved puzzles, then this one; the answer is an expression."""
    lines = [
        "Use each of the four numbers exactly once, with + - * / and parentheses, to make "
        "24. Answer with the expression only."
    ]
    for numbers, answer in (GAME24_EASY_SHOTS if easy else GAME24_SHOTS)[:shots]:
        lines.append(f"Numbers: {' '.join(map(str, numbers))}\nAnswer: {answer}")
    lines.append(f"Numbers: {' '.join(map(str, puzzle))}\nAnswer:")
    return [{"role": "user", "content": "\n\n".join(lines)}]


_ANSWER = re.compile(r"^\s*(?:answer\s*:)?(.*)$", re.IGNORECASE)


def game24_answer(text: str) -> str:
    """The expression of a completion: its first non-empty line, without 'Answer:',
    backticks or a trailing '= 24'."""
    for line in text.splitlines():
        found = _ANSWER.match(line)
        expression = found.group(1).split("=")[0].strip(" `\t") if found else ""
        if expression:
            return expression
    return ""


def game24_reward(puzzle: tuple[int, ...], text: str) -> float:
    from benchmarks.game24.puzzles import check

    return 1.0 if check(puzzle, game24_answer(text)).ok else 0.0


def sum24_puzzles() -> list[tuple[int, ...]]:
    """game24's easy variant: every puzzle (numbers 1-13) whose four numbers add up to 24,
    so their sum is one solution (each has others too)."""
    import itertools

    shown = {numbers for numbers, _ in GAME24_EASY_SHOTS}
    return [
        p
        for p in itertools.combinations_with_replacement(range(1, 14), 4)
        if sum(p) == 24 and p not in shown
    ]


def game24_tasks(
    split: str = "train", n: int = 64, seed: int = 0, easy: bool = False
) -> list[tuple[int, ...]]:
    """Held-out ("test"): the fixed 100 puzzles of benchmarks/game24/data; "train": `n`
    solvable puzzles generated from `seed`, none of them held out. `easy`: the sum-to-24
    puzzles instead (`sum24_puzzles`), shuffled by a fixed seed: every third is held out."""
    import random

    from benchmarks.game24.puzzles import generate, load_heldout

    if split not in ("train", "test"):
        raise ValueError(f"game24 has the splits train and test, not {split!r}")
    if easy:
        pool = sum24_puzzles()
        random.Random(24).shuffle(pool)
        held, train = pool[::3], [p for i, p in enumerate(pool) if i % 3]
        return (held if split == "test" else train)[:n]
    heldout = load_heldout()
    if split == "test":
        return heldout[:n]
    seen = set(heldout)
    pool = generate(n + len(heldout), seed=seed)
    return [p for p in pool if p not in seen][:n]


def game24_env(shots: int = 3, easy: bool = False) -> SingleTurnEnv[tuple[int, ...]]:
    return SingleTurnEnv(lambda p: game24_prompt(p, shots, easy)[0]["content"], game24_reward)


# -- countdown ------------------------------------------------------------------------------

Countdown = tuple[int, ...]
"""A countdown puzzle: (target, number, number, ...)."""

COUNTDOWN_RULE = (
    "Use each of the numbers exactly once, with + - * and parentheses, to make the target. "
    "Answer with the expression only."
)
COUNTDOWN_SHOTS: dict[int, tuple[tuple[Countdown, str], ...]] = {
    2: (((32, 8, 4), "8 * 4"), ((5, 9, 4), "9 - 4"), ((13, 6, 7), "6 + 7")),
    3: (((44, 3, 12, 8), "3 * 12 + 8"), ((10, 9, 5, 6), "9 - 5 + 6"), ((70, 2, 5, 10), "(2 + 5) * 10")),
    4: (((50, 2, 3, 4, 6), "(2 + 3) * (4 + 6)"), ((5, 4, 2, 3, 1), "4 * 2 - 3 * 1"), ((17, 3, 5, 7, 2), "3 + 5 + 7 + 2")),
}  # fmt: skip
"""The prompt's solved puzzles per count of numbers (never trained or evaluated on)."""
COUNTDOWN_TEST_SEED = 1_000_003
COUNTDOWN_HELDOUT = 100
"""The held-out puzzles: the first COUNTDOWN_HELDOUT of COUNTDOWN_TEST_SEED (the same for
every run); no training puzzle equals one of them."""


def countdown_puzzles(
    n: int, seed: int, numbers: int = 2, exclude: Collection[Countdown] = ()
) -> list[Countdown]:
    """`n` distinct puzzles: `numbers` numbers in 1..12 and the positive target that a
    random left-to-right expression over them (+ - *) makes; reproducible from `seed`;
    never one of the prompt's examples nor of `exclude`. There are about 350 puzzles of
    two numbers: asking for more than exist is an error, not an endless loop."""
    import random

    if numbers not in COUNTDOWN_SHOTS:
        raise ValueError(f"countdown: --numbers must be 2, 3 or 4 (got {numbers})")
    rng = random.Random(seed)
    seen = {p for p, _ in COUNTDOWN_SHOTS[numbers]} | set(exclude)
    out: list[Countdown] = []
    misses = 0
    while len(out) < n:
        nums = [rng.randint(1, 12) for _ in range(numbers)]
        value = nums[0]
        for x in nums[1:]:
            op = rng.choice("+-*")
            value = value + x if op == "+" else value - x if op == "-" else value * x
        puzzle = (value, *nums)
        if value > 0 and puzzle not in seen:
            seen.add(puzzle)
            out.append(puzzle)
            misses = 0
        else:
            misses += 1
            if misses > 20_000:
                raise ValueError(
                    f"countdown: only {len(out)} more distinct puzzles of {numbers} numbers "
                    f"exist (asked for {n}); ask for fewer (--puzzles)"
                )
    return out


def countdown_tasks(split: str, n: int, seed: int = 0, numbers: int = 2) -> list[Countdown]:
    """ "test": the first `n` (at most COUNTDOWN_HELDOUT) held-out puzzles; "train": `n`
    puzzles from `seed`, none of them held out."""
    if split not in ("train", "test"):
        raise ValueError(f"countdown has the splits train and test, not {split!r}")
    held = countdown_puzzles(COUNTDOWN_HELDOUT, COUNTDOWN_TEST_SEED, numbers)
    if split == "test":
        if n > COUNTDOWN_HELDOUT:
            raise ValueError(f"countdown holds out {COUNTDOWN_HELDOUT} puzzles, not {n}")
        return held[:n]
    return countdown_puzzles(n, seed, numbers, exclude=held)


def countdown_prompt(puzzle: Countdown) -> list[Message]:
    """Few-shot as a chat: the rule, then three solved puzzles as user/assistant turns
    (SmolLM2-135M follows turns far better than examples inside one message)."""

    def ask(p: Countdown) -> Message:
        return {"role": "user", "content": f"Numbers: {' '.join(map(str, p[1:]))}. Target: {p[0]}."}

    messages: list[Message] = [{"role": "system", "content": COUNTDOWN_RULE}]
    for shown, answer in COUNTDOWN_SHOTS[len(puzzle) - 1]:
        messages += [ask(shown), {"role": "assistant", "content": answer}]
    return [*messages, ask(puzzle)]


def countdown_reward(puzzle: Countdown, text: str) -> float:
    from benchmarks.game24.puzzles import check_target

    return 1.0 if check_target(puzzle[1:], puzzle[0], game24_answer(text)).ok else 0.0


def countdown_env() -> SingleTurnEnv[Countdown]:
    return SingleTurnEnv(countdown_prompt, countdown_reward)


@dataclass(frozen=True)
class TaskSpec:
    """What `agents train loop --task ...` trains on: the task's name and its options."""

    task: str
    templates: tuple[str, ...] = ()
    per_template: int = 8
    demo: bool = True
    puzzles: int = 64
    shots: int = 3
    easy: bool = False
    numbers: int = 2
    instances: tuple[str, ...] = ()
    seed: int = 0


def training_tasks(spec: TaskSpec) -> list[Any]:
    """The training tasks of `spec` (appworld-mini: its train templates' tasks; game24 and
    countdown: generated puzzles, none of the held-out ones; swe-mini: instance ids)."""
    if spec.task == "appworld-mini":
        return list(appworld_tasks("train", spec.templates, range(spec.per_template), spec.demo))
    if spec.task == "game24":
        return list(game24_tasks("train", spec.puzzles, spec.seed, spec.easy))
    if spec.task == "countdown":
        return list(countdown_tasks("train", spec.puzzles, spec.seed, spec.numbers))
    if spec.task == "swe-mini":
        from benchmarks.swe_bench.loop_env import swe_tasks

        return swe_tasks(spec.instances)
    raise ValueError(f"LOOP has no task {spec.task!r}; use {' or '.join(LOOP_TASKS)}")


# -- the experiment ------------------------------------------------------------------------

THEIRS = (
    "LOOP paper (Chen et al., 2025, Table 1), AppWorld test-normal task goal completion "
    "(TGC): LOOP on Qwen2.5-32B-Instruct 71.3; OpenAI o1 61.9; GPT-4o 48.8. Their numbers, "
    "on the official AppWorld tasks, not measured here."
)


@dataclass(frozen=True)
class Experiment:
    """The experiment's settings (all in the report)."""

    task: str = "appworld-mini"
    templates: tuple[str, ...] = ("spotify-public-playlist", "phone-alarm", "simple-note-append")
    train_tasks: int = 8
    """Tasks 0..N-1 of each template are trained on."""
    eval_from: int = 20
    eval_tasks: int = 4
    """Tasks eval_from..eval_from+N-1 of each template are held out (never trained on)."""
    eval_samples: int = 4
    """Episodes per held-out task, on the same seeds before and after."""
    k: int = 4
    iterations: int = 6
    tasks_per_iteration: int = 4
    lr: float = 5e-5
    lora_rank: int = 16
    minibatch: int = 0
    epochs: int = 1
    temperature: float = 1.0
    max_tokens: int = 192
    max_turns: int = 2
    workers: int = 8
    puzzles: int = 51
    """game24: training puzzles."""
    easy: bool = True
    """game24: the sum-to-24 variant (`sum24_puzzles`)."""
    numbers: int = 2
    """countdown: numbers per puzzle."""
    seed: int = 0

    @property
    def micro_batch(self) -> int:
        """Sequences per forward/backward (as `agents train loop` sets it)."""
        return micro_batch(self.task)

    def train_command(self, out: Path) -> list[str]:
        """`agents train loop ...` with these settings."""
        by_task = {
            "appworld-mini": [
                "--templates",
                ",".join(self.templates),
                "--per-template",
                str(self.train_tasks),
                "--max-turns",
                str(self.max_turns),
                "--workers",
                str(self.workers),
            ],
            "game24": ["--puzzles", str(self.puzzles), "--easy" if self.easy else "--no-easy"],
            "countdown": ["--puzzles", str(self.puzzles), "--numbers", str(self.numbers)],
        }[self.task]
        return [
            "train", "loop", "--task", self.task, *by_task,
            "--k", str(self.k), "--iterations", str(self.iterations),
            "--tasks-per-iteration", str(self.tasks_per_iteration),
            "--lr", str(self.lr), "--lora-rank", str(self.lora_rank),
            "--minibatch", str(self.minibatch), "--epochs", str(self.epochs),
            "--temperature", str(self.temperature), "--max-tokens", str(self.max_tokens),
            "--out", str(out), "--seed", str(self.seed),
        ]  # fmt: skip

    def heldout(self) -> list[AppWorldEpisodeTask]:
        indices = range(self.eval_from, self.eval_from + self.eval_tasks)
        return appworld_tasks("train", self.templates, indices, demo=True)

    def heldout_tasks(self) -> list[Any]:
        if self.task == "game24":
            return list(game24_tasks("test", self.eval_tasks, easy=self.easy))
        if self.task == "countdown":
            return list(countdown_tasks("test", self.eval_tasks, numbers=self.numbers))
        return list(self.heldout())

    def heldout_text(self) -> str:
        """What is held out, for the report."""
        if self.task == "countdown":
            return (
                f"the first {self.eval_tasks} countdown puzzles ({self.numbers} numbers) of "
                f"seed {COUNTDOWN_TEST_SEED}, never trained on (training: {self.puzzles} "
                f"puzzles of seed {self.seed}, the held-out ones removed)"
            )
        if self.task == "game24":
            return f"the first {self.eval_tasks} held-out Game of 24 puzzles"
        return (
            f"tasks {self.eval_from}..{self.eval_from + self.eval_tasks - 1} of each of the "
            f"templates {', '.join(self.templates)} (trained on tasks "
            f"0..{self.train_tasks - 1})"
        )


def micro_batch(task: str) -> int:
    """appworld-mini's ~900-token prompts cost ~2.5 GB of activations each, swe-mini's are
    longer: one at a time; the one-line puzzles: 8."""
    return 1 if task in ("appworld-mini", "swe-mini") else 8


def _policy_model(base: str, adapter: Path | None) -> tuple[Any, Any]:
    """The base model, with `adapter` (a LOOP checkpoint) merged in when given."""
    from agents.training.orpo import load_trainable

    model, tok = load_trainable(base)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    model.eval()
    return model, tok


def evaluate(exp: Experiment, adapter: Path | None, model: str = "local:smollm2") -> dict[str, Any]:
    """Held-out success: `eval_samples` episodes per held-out task, on seeds fixed by the
    experiment (the same before and after training)."""
    import time

    import torch

    from agents.llm.local_engine import Engine
    from agents.training.loop import EnginePolicy

    m, tok = _policy_model(model, adapter)
    # float32 as in training: the base model's exactly-4-bit weights would otherwise take
    # the int4 path and a trained (merged) model would not: before and after alike.
    engine = Engine(m, tok, decoder="float32")
    policy = EnginePolicy(engine, exp.temperature, exp.max_tokens)
    tasks = exp.heldout_tasks()
    start = time.perf_counter()
    with torch.no_grad():
        if exp.task in ("game24", "countdown"):
            env1: SingleTurnEnv[Any] = (
                game24_env(easy=exp.easy) if exp.task == "game24" else countdown_env()
            )
            groups = env1.run_group(policy, tasks, exp.eval_samples, 10_000 + exp.seed)
            names = [
                f"{' '.join(map(str, t[1:]))} -> {t[0]}"
                if exp.task == "countdown"
                else " ".join(map(str, t))
                for t in tasks
            ]
        else:
            from agents.training.loop_envs import AppWorldLoopEnv

            with AppWorldLoopEnv(workers=exp.workers, max_turns=exp.max_turns) as env:
                groups = env.run_group(policy, tasks, exp.eval_samples, 10_000 + exp.seed)
            names = [t.name for t in tasks]
    return {
        "adapter": str(adapter) if adapter else None,
        "seconds": time.perf_counter() - start,
        "tasks": {
            name: {
                "success": [bool(r.success) for r in group],
                "reward": [r.reward for r in group],
                "info": [r.info for r in group],
                "first_answer": [r.turns[0].text[:400] if r.turns else "" for r in group],
            }
            for name, group in zip(names, groups, strict=True)
        },
    }


def paired_interval(
    before: Sequence[float], after: Sequence[float], seed: int = 0, resamples: int = 10_000
) -> dict[str, float]:
    """Mean of the paired differences (after - before, one per task) with a 95% interval:
    the percentile bootstrap over tasks and the normal (t-free) one."""
    import random
    import statistics

    diffs = [a - b for a, b in zip(after, before, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    rng = random.Random(seed)
    boots = sorted(sum(rng.choice(diffs) for _ in range(n)) / n for _ in range(resamples))
    se = statistics.stdev(diffs) / n**0.5 if n > 1 else 0.0
    return {
        "mean": mean,
        "boot_low": boots[int(0.025 * resamples)],
        "boot_high": boots[int(0.975 * resamples) - 1],
        "normal_low": mean - 1.96 * se,
        "normal_high": mean + 1.96 * se,
        "tasks": n,
    }


def countdown_gold(puzzle: Countdown) -> str:
    """A solution of `puzzle`: the generator's expressions are left to right over the
    numbers in order, so one of the operator choices makes the target."""
    import itertools

    from benchmarks.game24.puzzles import check_target

    nums = puzzle[1:]
    for ops in itertools.product("+-*", repeat=len(nums) - 1):
        expression = str(nums[0])
        for op, x in zip(ops, nums[1:], strict=True):
            expression = f"({expression} {op} {x})"
        if check_target(nums, puzzle[0], expression).ok:
            return expression
    raise ValueError(f"countdown puzzle {puzzle} has no left-to-right solution")


def gold_rows(exp: Experiment, tok: Any) -> list[tuple[list[int], list[int]]]:
    """(prompt tokens, answer tokens) of gold answers to the training tasks, in the
    prompts LOOP's rollouts see: what plain fine-tuning would train on."""
    from agents.llm.local_model import with_default_system
    from agents.training.loop import encode_messages

    pairs: list[tuple[list[Message], str]] = []
    if exp.task == "countdown":
        for p in countdown_tasks("train", exp.puzzles, exp.seed, exp.numbers):
            pairs.append((countdown_prompt(p), countdown_gold(p)))
    elif exp.task == "game24":
        from benchmarks.game24.puzzles import solve

        for q in game24_tasks("train", exp.puzzles, exp.seed, exp.easy):
            pairs.append((game24_prompt(q, easy=exp.easy), solve(q) or ""))
    else:
        from benchmarks.appworld.suite import make_task
        from sandboxes.appworld.protocol import first_messages

        for template in appworld_templates("train", exp.templates):
            demo = template_demo(template)
            for i in range(exp.train_tasks):
                mini = make_task(template, i)
                messages = first_messages(mini.task.instruction, "", demo)
                pairs.append((messages, f"```python\n{mini.gold}```"))
    return [
        (
            encode_messages(tok, with_default_system(messages)),
            [int(t) for t in tok(answer, add_special_tokens=False)["input_ids"]],
        )
        for messages, answer in pairs
    ]


def sft_memory(exp: Experiment, steps: int = 6) -> dict[str, Any]:
    """Plain LoRA fine-tuning of the same model, measured as LOOP is (this process's peak
    RSS): `steps` SFT steps (same LoRA, AdamW and micro-batch as `agents train loop`) on
    gold answers to the training tasks (`gold_rows`), as many sequences per step as a
    LOOP update trains on when half its rollouts carry an advantage."""
    import resource
    import time

    import torch
    from peft import LoraConfig, get_peft_model

    from agents.training.loop import token_logps
    from agents.training.orpo import load_trainable

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    model, tok = load_trainable("local:smollm2")
    loaded = rss()
    peft_model = get_peft_model(
        model,
        LoraConfig(
            r=exp.lora_rank,
            lora_alpha=2 * exp.lora_rank,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),
    )
    rows = gold_rows(exp, tok)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=exp.lr)
    start = time.perf_counter()
    per_step = exp.k * exp.tasks_per_iteration // 2
    for s in range(steps):
        batch = [rows[(s * per_step + j) % len(rows)] for j in range(per_step)]
        opt.zero_grad()
        for m in range(0, per_step, exp.micro_batch):
            micro = batch[m : m + exp.micro_batch]
            logp, mask = token_logps(peft_model, micro, 1.0, int(tok.pad_token_id))
            loss = -(logp * mask).sum() / mask.sum()
            torch.autograd.backward(loss)
        opt.step()
    return {
        "peak_rss_mb": rss(),
        "after_load_mb": loaded,
        "steps": steps,
        "sequences_per_step": per_step,
        "micro_batch": exp.micro_batch,
        "prompt_tokens": sum(len(p) for p, _ in rows) / len(rows),
        "seconds_per_step": (time.perf_counter() - start) / steps,
    }


def _read(path: Path) -> Any:
    import json

    return json.loads(path.read_text())


def _write(path: Path, value: Any) -> None:
    import json
    import os

    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


def _in_fresh_process(out: Path, phase: str, argv: Sequence[str]) -> None:
    """Run one phase in its own process (a fair peak RSS; nothing carried over)."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "benchmarks.loop_experiment", *argv, "--phase", phase]
    subprocess.run(cmd, check=True)


def success_rates(evaluation: dict[str, Any]) -> dict[str, float]:
    return {
        name: sum(row["success"]) / len(row["success"]) for name, row in evaluation["tasks"].items()
    }


def plot(
    logs: list[dict[str, Any]], path: Path, title: str, heldout: Sequence[tuple[int, float]] = ()
) -> None:
    """Training rollouts' mean reward and success per iteration (x: updates so far) and,
    when given, held-out success after x updates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    xs = [x["iteration"] for x in logs]
    ax.plot(xs, [x["mean_reward"] for x in logs], marker="o", label="training: mean reward")
    ax.plot(xs, [x["success_rate"] for x in logs], marker="s", label="training: success")
    if heldout:
        ax.plot(*zip(*heldout, strict=True), marker="^", label="held-out success")
    ax.set_xlabel("LOOP updates")
    ax.set_ylabel("success / reward")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def heldout_curve(exp: Experiment, out: Path) -> list[tuple[int, float]]:
    """(updates, held-out success) from eval_before (0), eval_iter{i} (i + 1) and
    eval_after (the last), for those that exist."""
    points = []
    for updates, path in [
        (0, out / "eval_before.json"),
        *((i + 1, out / f"eval_iter{i}.json") for i in range(exp.iterations - 1)),
        (exp.iterations, out / "eval_after.json"),
    ]:
        if path.is_file():
            rates = success_rates(_read(path))
            points.append((updates, sum(rates.values()) / len(rates)))
    return points


def report(exp: Experiment, out: Path, name: str, argv: Sequence[str] = ()) -> dict[str, Any]:
    """benchmarks/results/<name>.md, .json and .png from the run directory `out`."""
    import json

    before, after = _read(out / "eval_before.json"), _read(out / "eval_after.json")
    logs = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    memory = _read(out / "memory_sft.json")
    rb, ra = success_rates(before), success_rates(after)
    names = list(rb)
    ci = paired_interval([rb[n] for n in names], [ra[n] for n in names], exp.seed)
    episodes = sum(len(r["success"]) for r in before["tasks"].values())
    summary = {
        "experiment": exp.__dict__ | {"templates": list(exp.templates)},
        "candidates": _read(out / "candidates.json")
        if (out / "candidates.json").is_file()
        else None,
        "before": sum(rb.values()) / len(rb),
        "after": sum(ra.values()) / len(ra),
        "paired": ci,
        "per_task": {n: {"before": rb[n], "after": ra[n]} for n in names},
        "episodes_per_eval": episodes,
        "iterations": logs,
        "loop_peak_rss_mb": max(x["peak_rss_mb"] for x in logs),
        "sft": memory,
        "eval_seconds": {"before": before["seconds"], "after": after["seconds"]},
        "heldout_curve": heldout_curve(exp, out),
    }
    results = Path(__file__).parent / "results"
    _write(results / f"{name}.json", summary)
    extra = (
        ", the AppWorld clients; the worlds run in their own processes"
        if exp.task == "appworld-mini"
        else ""
    )
    plot(
        logs,
        results / f"{name}.png",
        f"LOOP on {exp.task} (SmolLM2-135M), K={exp.k}",
        summary["heldout_curve"],
    )
    lines = [
        f"# LOOP on {exp.task}: SmolLM2-135M (`local:smollm2`)",
        "",
        "Run with (2 shared CPU cores, other jobs running):",
        "",
        "```bash",
        ".venv/bin/python -m benchmarks.loop_experiment "
        + " ".join(argv or ("--task", exp.task))
        + "  # all phases, resumable",
        "# its training phase is exactly:",
        "agents " + " ".join(exp.train_command(out / "train")),
        "```",
        "",
        "## Held-out success, before and after",
        "",
        f"Held out: {exp.heldout_text()}; {exp.eval_samples} episodes per task at "
        f"temperature {exp.temperature}, on the same seeds before and after ({episodes} "
        "episodes each).",
        "",
        LOOP,
        "",
        "| | success |",
        "|---|---|",
        f"| before (base model) | {summary['before']:.3f} |",
        f"| after {exp.iterations} LOOP iterations | {summary['after']:.3f} |",
        f"| paired difference (per task) | {ci['mean']:+.3f}, 95% bootstrap interval "
        f"[{ci['boot_low']:+.3f}, {ci['boot_high']:+.3f}], normal [{ci['normal_low']:+.3f}, "
        f"{ci['normal_high']:+.3f}] over {ci['tasks']} tasks |",
        "",
        *(
            [
                "| task | before | after |",
                "|---|---|---|",
                *(f"| {n} | {rb[n]:.2f} | {ra[n]:.2f} |" for n in names),
            ]
            if len(names) <= 20
            else [
                f"Per task: success rose on {sum(ra[n] > rb[n] for n in names)}, fell on "
                f"{sum(ra[n] < rb[n] for n in names)} and stayed on "
                f"{sum(ra[n] == rb[n] for n in names)} of {len(names)} tasks (each task's "
                f"rates: {name}.json)."
            ]
        ),
        "",
        "## Learning curve and cost per iteration",
        "",
        f"![learning curve]({name}.png)",
        "",
        *(
            [
                "Held-out success after N updates: "
                + ", ".join(f"{u}: {r:.3f}" for u, r in summary["heldout_curve"])
                + ".",
                "",
            ]
            if len(summary["heldout_curve"]) > 2
            else []
        ),
        "| iteration | mean reward | success | trained rollouts | tokens | loss | clipped | "
        "rollouts s | update s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {x['iteration']} | {x['mean_reward']:.3f} | {x['success_rate']:.3f} | "
            f"{x['trained_rollouts']}/{x['rollouts']} | {x['tokens']} | {x['loss']:.4f} | "
            f"{x['clip_fraction']:.3f} | {x['rollout_seconds']:.0f} | {x['train_seconds']:.0f} | "
            f"{x['peak_rss_mb']:.0f} |"
            for x in logs
        ),
        "",
        "## Memory: one model copy",
        "",
        f"LOOP's peak RSS (the training process: model, LoRA, optimizer, the engine's "
        f"decoder during rollouts{extra}): {summary['loop_peak_rss_mb']:.0f} MB. Plain LoRA "
        f"fine-tuning (SFT) of the same model with the same LoRA and optimizer, "
        f"{memory['sequences_per_step']} gold answers per step in micro-batches of "
        f"{memory.get('micro_batch', 1)}, prompts of "
        f"{memory['prompt_tokens']:.0f} tokens, in a fresh process, measured the same way: "
        f"{memory['peak_rss_mb']:.0f} MB (the model alone after loading: "
        f"{memory['after_load_mb']:.0f} MB).",
        "",
        "## Theirs, for reference",
        "",
        THEIRS,
        "",
        "## What this shows and what it does not",
        "",
        *reading(exp, ci),
        "",
    ]
    (results / f"{name}.md").write_text("\n".join(lines) + "\n")
    return summary


def reading(exp: Experiment, ci: dict[str, float]) -> list[str]:
    """The report's "what this shows and what it does not", per task."""
    sample = (
        f"{ci['tasks']} held-out tasks x {exp.eval_samples} episodes is a small sample (read "
        "the interval, not the point estimate)"
    )
    if exp.task == "appworld-mini":
        return [
            "- It shows the whole LOOP path working end to end on the embedded model: K "
            "episodes per task in real AppWorld worlds, leave-one-out advantages, PPO-clip on "
            "LoRA adapters, one model copy, per-iteration checkpoints, and the held-out tasks "
            "played on the same seeds before and after.",
            f"- It does not show that LOOP makes a 135M model an AppWorld agent: {sample}, the "
            "held-out tasks are new tasks of the trained templates (new parameters and worlds, "
            "same kind of task), not new templates, and each prompt carries a solved task of "
            "the same template.",
            "- It is not comparable with the paper's numbers: theirs are a 32B model on the "
            "official AppWorld test-normal tasks; ours are appworld-mini (our own tasks over "
            "the same apps) with a 135M model and a few iterations on 2 shared CPU cores.",
        ]
    return [
        f"- It shows LOOP's mechanics changing the embedded model measurably: the rewards "
        f"of the training rollouts (the curve) and held-out puzzles never trained on, played "
        f"on the same seeds before and after; {sample}.",
        f"- The task ({exp.task}) was chosen because the untrained 135M model solves it "
        "sometimes, which LOOP needs (a group of K failures has no advantage to learn from): "
        "on appworld-mini and the Game of 24 it succeeded in 0-1.25% of tries, so those give "
        "no signal at this model size.",
        f"- Settings: lr {exp.lr:g} (the paper's is 5e-05; with few updates on a CPU a "
        f"larger step was used, and is reported), {exp.minibatch or 'all'} model turns per "
        f"optimizer step, {exp.epochs} epoch(s), K={exp.k}, {exp.tasks_per_iteration} tasks "
        "per iteration; one run, one seed: the curve's shape (a jump after the first update, "
        "then a slower rise) is one run's.",
        "- Memory: LOOP holds one model; its peak adds the engine's fused decoding weights "
        "and caches during rollouts to what fine-tuning needs (no reference or value model, "
        "each of which would be another copy).",
        "- It is not comparable with the paper's numbers: theirs are a 32B model on the "
        "official AppWorld test-normal tasks; this is a one-line arithmetic task.",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Phases, each skipped when its result exists in --out (a rerun resumes):
    candidates (base success per candidate template, quick), before (held-out success of
    the base model), train (`agents train loop ...` in its own process), after (held-out
    success with the last adapter, same seeds), memory (plain LoRA SFT's peak RSS in a
    fresh process), report (benchmarks/results/loop_<task>.{md,json,png})."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--task", default="appworld-mini", choices=EXPERIMENT_TASKS)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--phase",
        default="all",
        choices=("all", "candidates", "before", "train", "after", "curve", "memory", "report"),
    )
    parser.add_argument("--iterations", type=int, default=Experiment.iterations)
    parser.add_argument("--k", type=int, default=Experiment.k)
    parser.add_argument("--tasks-per-iteration", type=int, default=Experiment.tasks_per_iteration)
    parser.add_argument("--eval-tasks", type=int, default=Experiment.eval_tasks)
    parser.add_argument("--eval-samples", type=int, default=Experiment.eval_samples)
    parser.add_argument("--templates", default=",".join(Experiment.templates))
    parser.add_argument("--candidates", default="", help="templates for the candidates phase")
    parser.add_argument("--temperature", type=float, default=Experiment.temperature)
    parser.add_argument("--max-tokens", type=int, default=Experiment.max_tokens)
    parser.add_argument("--max-turns", type=int, default=Experiment.max_turns)
    parser.add_argument("--puzzles", type=int, default=Experiment.puzzles)
    parser.add_argument("--lr", type=float, default=Experiment.lr)
    parser.add_argument("--minibatch", type=int, default=Experiment.minibatch)
    parser.add_argument("--epochs", type=int, default=Experiment.epochs)
    parser.add_argument("--numbers", type=int, default=Experiment.numbers)
    parser.add_argument(
        "--curve",
        action="store_true",
        help="also evaluate every iteration's adapter on the held-out tasks (the held-out "
        "learning curve; one evaluation per iteration)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads here and in the phases' processes (1: on a shared machine, more "
        "threads than free cores make every step much slower)",
    )
    args = parser.parse_args(argv)
    import os

    import torch

    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    torch.set_num_threads(args.threads)
    exp = Experiment(
        task=args.task,
        templates=tuple(t for t in args.templates.split(",") if t),
        iterations=args.iterations,
        k=args.k,
        tasks_per_iteration=args.tasks_per_iteration,
        eval_tasks=args.eval_tasks,
        eval_samples=args.eval_samples,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        max_turns=args.max_turns,
        puzzles=args.puzzles,
        numbers=args.numbers,
        lr=args.lr,
        minibatch=args.minibatch,
        epochs=args.epochs,
    )
    out = args.out or Path("runs") / "loop-experiment" / exp.task
    out.mkdir(parents=True, exist_ok=True)
    passed = [a for a in (argv if argv is not None else __import__("sys").argv[1:])]
    passed = [
        a for i, a in enumerate(passed) if a != "--phase" and (i == 0 or passed[i - 1] != "--phase")
    ]
    name = f"loop_{exp.task.replace('-', '_')}"
    phase = args.phase
    if (
        phase in ("all", "candidates")
        and args.candidates
        and not (out / "candidates.json").is_file()
    ):
        found = {}
        for template in args.candidates.split(","):
            one = Experiment(**(exp.__dict__ | {"templates": (template,), "eval_from": 0}))
            found[template] = evaluate(one, None)
        _write(out / "candidates.json", {t: success_rates(e) for t, e in found.items()})
    if phase == "before" or (phase == "all" and not (out / "eval_before.json").is_file()):
        if phase == "all":
            _in_fresh_process(out, "before", passed)
        else:
            _write(out / "eval_before.json", evaluate(exp, None))
    if phase in ("all", "train"):
        import subprocess
        import sys

        cmd = [sys.executable, "-m", "agents.cli", *exp.train_command(out / "train")]
        subprocess.run(cmd, check=True)  # resumes: finished iterations are skipped
    adapter = out / "train" / f"iter{exp.iterations - 1}"
    if phase == "after" or (phase == "all" and not (out / "eval_after.json").is_file()):
        if phase == "all":
            _in_fresh_process(out, "after", passed)
        else:
            _write(out / "eval_after.json", evaluate(exp, adapter))
    if phase == "curve" or (phase == "all" and args.curve):
        for i in range(exp.iterations - 1):  # the last one is "after"
            if not (out / f"eval_iter{i}.json").is_file():
                if phase == "all":
                    _in_fresh_process(out, "curve", passed)
                    break
                _write(out / f"eval_iter{i}.json", evaluate(exp, out / "train" / f"iter{i}"))
    if phase == "memory" or (phase == "all" and not (out / "memory_sft.json").is_file()):
        if phase == "all":
            _in_fresh_process(out, "memory", passed)
        else:
            _write(out / "memory_sft.json", sft_memory(exp))
    if phase in ("all", "report"):
        summary = report(exp, out, name, passed)
        print(
            f"held-out success {summary['before']:.3f} -> {summary['after']:.3f} "
            f"(paired {summary['paired']['mean']:+.3f}); benchmarks/results/{name}.md"
        )


if __name__ == "__main__":
    main()
