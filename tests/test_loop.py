"""LOOP (leave-one-out PPO): advantages and the clipped token loss match hand computations;
the trainer's log-probs are the engine's; only generated tokens are trained on; a few
iterations on a tiny model make the rewarded word likelier; one model copy; resumable."""

from __future__ import annotations

import copy
import gc
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_models import BASIC_WORDS, build_tiny_llama

from agents.llm.local_engine import Engine
from agents.llm.local_model import with_default_system
from agents.training.loop import (
    EnginePolicy,
    GroupEnv,
    IterationLog,
    LoopConfig,
    Policy,
    Rollout,
    RolloutEnv,
    SingleTurnEnv,
    encode_messages,
    leave_one_out,
    ppo_token_loss,
    token_logps,
    train_loop,
)

PROMPTS = {
    "t0": "the red dog",
    "t1": "what is blue",
    "t2": "why the mat",
    "t3": "how is green",
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A small vocabulary: the rewarded word is drawn often enough to learn from.
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-loop"), words=BASIC_WORDS)


def _load(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _cat_env() -> SingleTurnEnv[str]:
    return SingleTurnEnv(PROMPTS, lambda task, answer: float("cat" in answer.split()))


def _p_first(model: Any, tok: Any, word: str) -> float:
    """Mean over the prompts of the probability that the answer starts with `word`."""
    target = tok.convert_tokens_to_ids(word)
    probs = []
    with torch.no_grad():
        for prompt in PROMPTS.values():
            ids = encode_messages(tok, with_default_system([{"role": "user", "content": prompt}]))
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
            probs.append(float(torch.softmax(logits, -1)[target]))
    return sum(probs) / len(probs)


def test_leave_one_out_matches_hand_values() -> None:
    assert leave_one_out([1, 0, 0, 1]) == pytest.approx([1 - 1 / 3, -2 / 3, -2 / 3, 1 - 1 / 3])
    assert leave_one_out([3, 1]) == pytest.approx([2, -2])
    assert leave_one_out([0.5, 0.5, 0.5]) == [0, 0, 0]
    # / population std of the returns (0.5)
    assert leave_one_out([1, 0, 0, 1], std_normalise=True) == pytest.approx(
        [4 / 3, -4 / 3, -4 / 3, 4 / 3]
    )
    assert leave_one_out([2, 2], std_normalise=True) == [0, 0]
    with pytest.raises(ValueError, match="at least 2"):
        leave_one_out([1.0])


def test_ppo_token_loss_matches_a_hand_computation() -> None:
    # Row 0 (A = +1): ratios 1.5 (clipped to 1.2), 0.9, 0.5 (min keeps the unclipped 0.5).
    # Row 1 (A = -1): ratio 0.7 (-0.7 vs clipped -0.8: min is -0.8), then a masked token.
    new = torch.tensor(
        [[math.log(1.5), math.log(0.9), math.log(0.5)], [math.log(0.7), 5.0, 0.0]],
        requires_grad=True,
    )
    old = torch.zeros(2, 3)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    loss, stats = ppo_token_loss(new, old, torch.tensor([1.0, -1.0]), mask, clip=0.2)
    assert float(loss) == pytest.approx(-(1.2 + 0.9 + 0.5 - 0.8) / 4, abs=1e-6)
    assert stats["clipped"] == pytest.approx(3 / 4)  # 1.5, 0.5, 0.7 are outside [0.8, 1.2]
    torch.autograd.backward(loss)
    assert new.grad is not None
    # d(-r A / 4)/d logp = -r A / 4 where unclipped; 0 where clipped or masked.
    expected = torch.tensor([[0.0, -0.9 / 4, -0.5 / 4], [0.0, 0.0, 0.0]])
    assert torch.allclose(new.grad, expected, atol=1e-6)
    # An explicit denominator (the step's token count, across micro-batches).
    half, _ = ppo_token_loss(new, old, torch.tensor([1.0, -1.0]), mask, 0.2, denominator=8.0)
    assert float(half) == pytest.approx(float(loss) / 2, abs=1e-6)


def test_token_logps_take_only_the_generated_tokens(tiny_dir: Path) -> None:
    model, _ = _load(tiny_dir)
    rows = [([5, 6, 7], [8, 9]), ([5, 6, 7, 10, 11], [12])]
    with torch.no_grad():
        logp, mask = token_logps(model, rows)
        for i, (prompt, answer) in enumerate(rows):
            full = torch.log_softmax(model(input_ids=torch.tensor([prompt + answer])).logits, -1)
            want = [float(full[0, len(prompt) - 1 + j, t]) for j, t in enumerate(answer)]
            assert mask[i].tolist()[: len(answer)] == [True] * len(answer)
            assert int(mask[i].sum()) == len(answer)
            assert logp[i, : len(answer)].tolist() == pytest.approx(want, abs=1e-5)
        hot, _ = token_logps(model, rows, temperature=0.5)
    assert not torch.allclose(hot[mask], logp[mask])  # tempered: softmax(logits / T)


def test_engine_logprobs_equal_the_trainers(tiny_dir: Path) -> None:
    """Same tokens, same float32 weights: the ratio is 1 at the start (the engine's
    log-probs would do as the old ones; the trainer recomputes them anyway)."""
    from peft import LoraConfig, get_peft_model

    model, tok = _load(tiny_dir)
    peft_model: Any = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
    for p in peft_model.parameters():  # a non-zero adapter, merged for the engine
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.05)
    peft_model.merge_adapter()
    policy = EnginePolicy(Engine(peft_model.get_base_model(), tok), 1.0, max_tokens=6)
    turns = policy.sample([[{"role": "user", "content": p}] for p in PROMPTS.values()], n=3, seed=1)
    peft_model.unmerge_adapter()
    flat = [t for group in turns for t in group if t.tokens]
    assert len({tuple(t.tokens) for t in flat}) > 3  # sampled, and differently per prompt
    with torch.no_grad():
        logp, _ = token_logps(peft_model, [(t.prompt, t.trained) for t in flat])
    for i, t in enumerate(flat):
        engine = torch.tensor(t.logprobs)
        assert torch.allclose(logp[i, : len(t.tokens)], engine, atol=1e-3)
        ratio = torch.exp(logp[i, : len(t.tokens)] - engine)
        assert torch.allclose(ratio, torch.ones_like(ratio), atol=1e-3)


def test_rollouts_of_exactly_4bit_weights_are_the_trained_models(tiny_dir: Path) -> None:
    """Before LOOP's first update a Q4 GGUF's weights are exactly 4-bit, where the
    engine's default decoder takes its bfloat16/int4 path; LOOP's rollouts must still
    come from the float32 model it trains (its log-probs within float noise)."""
    from test_fast_decoder import snap_to_q4

    from agents.llm import fast_decoder
    from agents.training.loop import LoopConfig, _rollouts, _with_lora

    model, tok = _load(tiny_dir)
    snap_to_q4(model)
    assert fast_decoder.LlamaDecoder(model, int4=True).int4  # the default would quantise
    config = LoopConfig(k=3, max_tokens=6)
    peft_model = _with_lora(model, config)
    peft_model.eval()
    groups = _rollouts(peft_model, tok, _cat_env(), list(PROMPTS), config, seed=3)
    flat = [t for g in groups for r in g for t in r.turns if t.tokens]
    assert len(flat) > 3
    with torch.no_grad():
        logp, _ = token_logps(peft_model, [(t.prompt, t.trained) for t in flat])
    gap = max(
        float((logp[i, : len(t.tokens)] - torch.tensor(t.logprobs)).abs().max())
        for i, t in enumerate(flat)
    )
    assert gap < 1e-3, gap


class TwoTurnEnv:
    """A two-turn episode through `run` only: the second context holds the first
    answer; the reward is whether the second answer says "dog"."""

    def __init__(self) -> None:
        self.turns: list[int] = []

    def run(self, policy: Policy, task: str, seed: int) -> Rollout:
        context = [{"role": "user", "content": PROMPTS[task]}]
        first = policy.sample([context], 1, seed)[0][0]
        context += [
            {"role": "assistant", "content": first.text},
            {"role": "user", "content": "why"},
        ]
        second = policy.sample([context], 1, seed + 1)[0][0]
        self.turns.append(len(first.trained) + len(second.trained))
        reward = float("dog" in second.text.split())
        return Rollout([first, second], reward, reward > 0)


def test_multi_turn_env_trains_on_every_model_turn(tiny_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_dir)
    env = TwoTurnEnv()
    assert isinstance(env, RolloutEnv) and not isinstance(env, GroupEnv)
    config = LoopConfig(
        k=4, iterations=1, tasks_per_iteration=4, max_tokens=3, drop_flat=False, lr=1e-3
    )
    report = train_loop(model, tok, env, list(PROMPTS), config, tmp_path / "run")
    (log,) = report.logs
    assert log.rollouts == 16 and len(env.turns) == 16
    assert log.tokens == sum(env.turns)  # both turns' generated tokens, no prompt tokens
    assert log.steps == 1 and log.clip_fraction == 0.0  # one on-policy step: ratio 1
    assert log.logp_gap is not None and log.logp_gap < 1e-3


def test_loop_makes_the_rewarded_word_likelier(tiny_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_dir)
    before = _p_first(model, tok, "cat")
    seen: list[IterationLog] = []
    config = LoopConfig(
        k=6,
        lr=1e-2,
        iterations=6,
        tasks_per_iteration=4,
        max_tokens=3,
        epochs=2,
        minibatch=12,
        seed=0,
        save_merged=True,
    )
    report = train_loop(model, tok, _cat_env(), list(PROMPTS), config, tmp_path, seen.append)
    after = _p_first(model, tok, "cat")
    assert [x.iteration for x in seen] == list(range(6))
    assert after > 2 * before, (before, after)
    assert sum(x.steps for x in seen) > 0 and max(x.clip_fraction for x in seen) > 0
    for x in seen:
        assert x.logp_gap is None or x.logp_gap < 1e-3
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == list(range(6))
    assert (tmp_path / "iter5" / "adapter_model.safetensors").is_file()
    assert report.adapter == str(tmp_path / "iter5")
    # One copy of the weights: the base's plus the adapters, nothing else (no reference).
    base = sum(p.numel() for p in _load(tiny_dir)[0].parameters())
    assert report.total_params == base + report.trainable_params
    assert 0 < report.trainable_params < base
    # The merged model loads on its own and is the trained one.
    merged, _ = _load(Path(report.merged))
    assert _p_first(merged, tok, "cat") == pytest.approx(after, abs=1e-5)
    assert sum(p.numel() for p in merged.parameters()) == base


def test_one_model_copy_and_no_deepcopy(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import LlamaForCausalLM

    deepcopy = copy.deepcopy

    def refuse(x: Any, memo: Any = None, *rest: Any) -> Any:
        # Configs are deep-copied (transformers, peft); modules and tensors must not be.
        if isinstance(x, (torch.nn.Module, torch.Tensor)):
            raise AssertionError(f"LOOP deep-copied a {type(x).__name__}")
        return deepcopy(x, memo, *rest)

    model, tok = _load(tiny_dir)
    gc.collect()
    already = sum(isinstance(o, LlamaForCausalLM) for o in gc.get_objects())
    counts: list[int] = []

    def count(_: IterationLog) -> None:
        gc.collect()
        counts.append(sum(isinstance(o, LlamaForCausalLM) for o in gc.get_objects()))

    monkeypatch.setattr(copy, "deepcopy", refuse)
    config = LoopConfig(k=3, iterations=2, tasks_per_iteration=2, max_tokens=2, lr=1e-3)
    train_loop(model, tok, _cat_env(), list(PROMPTS), config, tmp_path, count)
    assert counts == [already, already]


def _adapter(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def test_a_rerun_resumes_from_the_last_adapter(tiny_dir: Path, tmp_path: Path) -> None:
    def run(out: Path, iterations: int) -> Any:
        model, tok = _load(tiny_dir)
        config = LoopConfig(
            k=4, lr=1e-2, iterations=iterations, tasks_per_iteration=2, max_tokens=3, seed=3
        )
        return train_loop(model, tok, _cat_env(), list(PROMPTS), config, out)

    straight = run(tmp_path / "a", 3)
    run(tmp_path / "b", 2)
    resumed = run(tmp_path / "b", 3)
    assert resumed.resumed == 2 and straight.resumed == 0
    assert [x.mean_reward for x in resumed.logs] == [x.mean_reward for x in straight.logs]
    a, b = _adapter(tmp_path / "a" / "iter2"), _adapter(tmp_path / "b" / "iter2")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    assert len((tmp_path / "b" / "log.jsonl").read_text().splitlines()) == 3
    # The adapter moved: LoRA's B starts at zero.
    assert any(float(v.abs().max()) > 0 for k, v in a.items() if "lora_B" in k)


def test_bad_configs_are_refused(tiny_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_dir)
    env = _cat_env()
    with pytest.raises(ValueError, match="k >= 2"):
        train_loop(model, tok, env, list(PROMPTS), LoopConfig(k=1), tmp_path)
    with pytest.raises(ValueError, match="no tasks"):
        train_loop(model, tok, env, [], LoopConfig(), tmp_path)
    with pytest.raises(ValueError, match="temperature"):
        train_loop(model, tok, env, list(PROMPTS), LoopConfig(temperature=0.0), tmp_path)


def test_single_turn_env_scores_each_answer() -> None:
    from agents.training.loop import Turn

    class Fixed:
        def sample(
            self, contexts: Sequence[Sequence[dict[str, Any]]], n: int, seed: int
        ) -> list[list[Turn]]:
            return [
                [Turn(list(c), [1], [2], [0.0], "the cat" if j % 2 else "a dog") for j in range(n)]
                for c in contexts
            ]

    env = _cat_env()
    groups = env.run_group(Fixed(), ["t0", "t1"], 4, seed=0)
    assert [[r.reward for r in g] for g in groups] == [[0, 1, 0, 1]] * 2
    assert [r.success for r in groups[0]] == [False, True, False, True]
    assert env.run(Fixed(), "t2", 0).reward == 0.0
    assert env.messages("t2") == [{"role": "user", "content": "why the mat"}]


def test_the_end_of_turn_token_is_trained_but_not_a_stop_string(tiny_dir: Path) -> None:
    model, tok = _load(tiny_dir)
    contexts = [[{"role": "user", "content": p}] for p in PROMPTS.values()]
    plain = EnginePolicy(Engine(model, tok), 1.0, max_tokens=4)
    turns = [t for g in plain.sample(contexts, n=8, seed=2) for t in g]
    ended = [t for t in turns if t.eos is not None]
    assert ended and len(ended) < len(turns)
    for t in ended:
        assert t.eos == tok.eos_token_id and t.trained == [*t.tokens, t.eos]
    for t in turns:
        if t.eos is None:
            assert t.trained == t.tokens
    stopping = EnginePolicy(Engine(model, tok), 1.0, max_tokens=4, stop=("cat",))
    turns = [t for g in stopping.sample(contexts, n=8, seed=2) for t in g]
    cut = [t for t in turns if "cat" in tok.decode(t.tokens).split()]
    assert cut
    for t in cut:
        assert t.eos is None and "cat" not in t.text.split()
