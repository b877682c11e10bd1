"""The local backend: batching, shared prefill and sampling on a tiny random
model built here, and (slow) the embedded SmolLM2 end to end."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from agents.llm.local import LocalLLM
from agents.llm.types import Request, make_request
from tests.tiny_models import BASIC_WORDS, build_tiny_llama

WORDS = [
    *BASIC_WORDS,
    "paris",
    "france",
    "capital",
    "of",
]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), words=WORDS)


def _msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


PROMPTS = ["what is the capital of france", "cat", "the red dog sat on the blue mat why"]


def test_batched_greedy_equals_one_at_a_time_and_transformers_generate(
    tiny_model_dir: Path,
) -> None:
    llm = LocalLLM(str(tiny_model_dir))
    reqs = [make_request(_msgs(p), max_tokens=12) for p in PROMPTS]
    batched = [cs[0] for cs in llm.generate_batch(reqs)]
    alone = [llm.generate_batch([r])[0][0] for r in reqs]
    assert [c.text for c in batched] == [c.text for c in alone]
    engine = llm.engine
    for req, ours in zip(reqs, batched, strict=True):
        ids = torch.tensor([llm.encode(req.messages)])
        ref = engine.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=12,
            do_sample=False,
            eos_token_id=sorted(engine.eos),
            pad_token_id=engine.pad,
        )[0, ids.shape[1] :].tolist()
        ref = [t for t in ref if t not in engine.eos and t != engine.pad]
        assert engine.tokenizer.decode(ref, skip_special_tokens=True) == ours.text
        assert ours.usage.input_tokens == ids.shape[1]


def test_shared_prefill_gives_the_same_samples_as_separate_prefills(tiny_model_dir: Path) -> None:
    llm = LocalLLM(str(tiny_model_dir))
    req = Request(
        **{
            **make_request(_msgs(PROMPTS[0]), n=4, temperature=1.0, max_tokens=10).__dict__,
            "seed": 7,
        }
    )
    shared = llm.generate_batch([req], share_prefill=True)[0]
    separate = llm.generate_batch([req], share_prefill=False)[0]
    assert [c.text for c in shared] == [c.text for c in separate]
    assert len({c.text for c in shared}) > 1  # real samples, not four copies
    assert shared[0].usage.input_tokens > 0 and shared[1].usage.input_tokens == 0


def test_stop_max_tokens_and_logprobs(tiny_model_dir: Path) -> None:
    llm = LocalLLM(str(tiny_model_dir))
    free = asyncio.run(llm.complete(_msgs("cat"), max_tokens=8, logprobs=True))[0]
    assert free.finish_reason in ("stop", "length")
    assert free.logprobs is not None and len(free.logprobs) == free.usage.output_tokens
    assert all(lp.logprob <= 0 for lp in free.logprobs)
    capped = asyncio.run(llm.complete(_msgs("cat"), max_tokens=3, logprobs=True))[0]
    if capped.usage.output_tokens == 3:
        assert capped.finish_reason == "length"
    words = free.text.split()
    if len(words) >= 2:
        stopped = asyncio.run(llm.complete(_msgs("cat"), max_tokens=8, stop=[words[1]]))[0]
        assert stopped.finish_reason == "stop" and words[1] not in stopped.text


def test_top_logprobs_list_the_most_likely_tokens_first(tiny_model_dir: Path) -> None:
    from agents.llm.errors import LLMError

    llm = LocalLLM(str(tiny_model_dir))
    out = asyncio.run(llm.complete(_msgs("cat"), max_tokens=4, logprobs=True, top_logprobs=5))[0]
    assert out.logprobs
    for t in out.logprobs:
        values = [a.logprob for a in t.top_logprobs]
        assert len(values) == 5 and values == sorted(values, reverse=True)
        assert math.log(sum(math.exp(v) for v in values)) <= 1e-5  # a part of one distribution
        # greedy: the answer token is the most likely one
        assert t.logprob == pytest.approx(values[0], abs=1e-5)
        assert t.top_logprobs[0].token == t.token
    with pytest.raises(LLMError, match="needs logprobs=True"):
        asyncio.run(llm.complete(_msgs("cat"), top_logprobs=3))


def test_concurrent_calls_run_as_one_batch(tiny_model_dir: Path) -> None:
    llm = LocalLLM(str(tiny_model_dir), batch_window=0.05)

    async def many() -> list[list[object]]:
        return await asyncio.gather(*(llm.complete(_msgs(p), max_tokens=5) for p in PROMPTS))

    results = asyncio.run(many())
    assert list(llm.scheduler.admissions) == [(3, 0)]  # one prefill of all three, nothing running
    alone = [llm.generate_batch([make_request(_msgs(p), max_tokens=5)])[0][0].text for p in PROMPTS]
    assert [r[0].text for r in results] == alone


def test_a_call_that_arrives_while_others_decode_joins_their_batch(tiny_model_dir: Path) -> None:
    """Continuous batching: the late call does not wait for the long one to finish, and
    every answer (greedy, and seeded samples) is the one it gets alone."""
    llm = LocalLLM(str(tiny_model_dir), batch_window=0.0)
    engine = llm.engine
    engine.eos = set()  # the long call must not end early on a random model
    steps = [0]
    original = engine.step

    def slow_step(batch: object) -> object:
        steps[0] += 1
        time.sleep(0.002)  # the long call takes >= 0.8 s: the late ones arrive meanwhile
        return original(batch)  # type: ignore[arg-type]

    engine.step = slow_step  # type: ignore[method-assign,assignment]
    finished: list[str] = []

    async def call(name: str, prompt: str, after_steps: int, **kw: object) -> list[object]:
        while steps[0] < after_steps:
            await asyncio.sleep(0.001)
        out = await llm.complete(_msgs(prompt), **kw)  # type: ignore[arg-type]
        finished.append(name)
        return list(out)

    async def both() -> list[list[object]]:
        return await asyncio.gather(
            call("long", PROMPTS[2], 0, max_tokens=400, stop=("never-said",)),
            call("late", PROMPTS[0], 5, max_tokens=3),
            call("sampled", PROMPTS[1], 5, max_tokens=6, temperature=1.0, n=3, seed=7),
        )

    results = asyncio.run(both())
    # The late calls joined a batch that was already decoding (rows > 0 at their prefill)
    # and finished before the long call did.
    assert llm.scheduler.admissions[0] == (1, 0)
    assert any(rows > 0 for _, rows in list(llm.scheduler.admissions)[1:])
    assert finished[-1] == "long" and set(finished[:2]) == {"late", "sampled"}
    alone_long = llm.generate_batch(
        [make_request(_msgs(PROMPTS[2]), max_tokens=400, stop=("never-said",))]
    )[0][0]
    alone_late = llm.generate_batch([make_request(_msgs(PROMPTS[0]), max_tokens=3)])[0][0]
    alone_sampled = llm.generate_batch(
        [make_request(_msgs(PROMPTS[1]), max_tokens=6, temperature=1.0, n=3, seed=7)]
    )[0]
    assert results[0][0].text == alone_long.text  # type: ignore[attr-defined]
    assert len(alone_long.text) > 0
    assert results[1][0].text == alone_late.text  # type: ignore[attr-defined]
    assert [c.text for c in results[2]] == [c.text for c in alone_sampled]  # type: ignore[attr-defined]


def test_a_system_message_is_added_when_the_caller_has_none(tiny_model_dir: Path) -> None:
    llm = LocalLLM(str(tiny_model_dir))
    with_default = llm.encode(_msgs("cat"))
    explicit = llm.encode([{"role": "system", "content": "the"}, *_msgs("cat")])
    assert len(with_default) > len(llm.engine.tokenizer(" cat")["input_ids"])
    assert with_default != explicit


@pytest.mark.slow
def test_embedded_smollm2_answers_and_second_load_is_fast(tmp_path: Path) -> None:
    """The README's first command: a sensible answer, offline; the second load
    reuses the converted weights (conversion done in a fresh models dir here)."""
    env = {
        **os.environ,
        "AGENTS_MODELS_DIR": str(tmp_path / "models"),
        "AGENTS_CACHE_DIR": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "agents.cli",
        "ask",
        "--model",
        "local:smollm2",
        "--no-cache",
        "What is the capital of France?",
    ]
    durations = []
    for _ in range(2):
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        durations.append(time.monotonic() - start)
        assert proc.returncode == 0, proc.stderr
        assert "Paris" in proc.stdout
    from agents.llm.local_model import LocalWeights, embedded_gguf, load_model

    os.environ["AGENTS_MODELS_DIR"] = str(tmp_path / "models2")
    try:
        weights = LocalWeights("smollm2", gguf_file=embedded_gguf("smollm2"))
        start = time.monotonic()
        load_model(weights)  # converts
        first = time.monotonic() - start
        start = time.monotonic()
        load_model(weights)  # cached
        second = time.monotonic() - start
    finally:
        os.environ.pop("AGENTS_MODELS_DIR")
    assert second < first / 3, (first, second)
    assert durations[1] < durations[0], durations


def test_throughput_benchmark_reports_what_it_measured(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from agents.cli import main

    args = ["bench", "llm", "-m", f"local:{tiny_model_dir}", "--prompts", "3", "--samples", "3",
            "--prompt-tokens", "40", "--new-tokens", "4", "--repeats", "1", "--json"]  # fmt: skip
    main(args)
    result = json.loads(capsys.readouterr().out)
    batch, shared = result["batch"], result["shared_prefill"]
    assert batch["prompts"] == 3 and shared["samples"] == 3
    assert shared["prompt_tokens"] >= 40
    for key in ("sequential_tokens_per_s", "batched_tokens_per_s"):
        assert batch[key] > 0
    assert batch["speedup"] == pytest.approx(
        batch["sequential_seconds"] / batch["batched_seconds"], rel=0.02, abs=0.01
    )
    # 3 prompts x 4 tokens, and 3 samples x 4 tokens: rates are tokens / seconds.
    assert batch["batched_tokens_per_s"] * batch["batched_seconds"] == pytest.approx(12, rel=0.02)
    assert shared["shared_tokens_per_s"] * shared["shared_seconds"] == pytest.approx(12, rel=0.02)
    decoder = result["decoder"]
    # A float32 tiny model: our decoder in float32, against transformers' forward.
    assert decoder["decoder"] == "float32" and decoder["one_stream_tokens_per_s"] > 0
    assert decoder["one_stream_speedup"] == pytest.approx(
        decoder["one_stream_tokens_per_s"] / decoder["one_stream_baseline_tokens_per_s"], rel=0.05
    )
    # Every call of the search trace after the first starts like an earlier one.
    assert decoder["trace_prefix_hits"] == decoder["trace_calls"] - 1
    # (per-call times are rounded to milliseconds: a tiny model's are a few)
    assert decoder["trace_first_token_speedup"] > 0
    assert decoder["trace_cold_first_token_s_per_call"] > 0
    # Staggered arrivals: 3 calls x 4 tokens either way; the ratio is of the two times.
    g = result["staggered"]
    assert g["calls"] == 3
    for mode in ("batch_by_batch", "continuous"):
        assert g[f"{mode}_tokens_per_s"] * g[f"{mode}_seconds"] == pytest.approx(12, rel=0.02)
    assert g["speedup"] == pytest.approx(
        g["batch_by_batch_seconds"] / g["continuous_seconds"], rel=0.02, abs=0.01
    )
    assert result["peak_rss_mb"] > 0
    from benchmarks.llm_throughput import markdown

    assert "continuous batching" in markdown(result) and "Targets" in markdown(result)


def test_a_closed_local_model_answers_again_when_called(tiny_model_dir: Path) -> None:
    llm = LocalLLM(str(tiny_model_dir), batch_window=0.0)
    first = asyncio.run(llm.complete(_msgs("cat"), max_tokens=3))[0].text
    asyncio.run(llm.aclose())
    assert llm.scheduler._thread is None  # the decoding thread is gone
    assert asyncio.run(llm.complete(_msgs("cat"), max_tokens=3))[0].text == first
