"""The `llamacpp:` backend: the embedded SmolLM2 GGUF through llama-cpp-python (where the
optional extra `llamacpp` is installed; CI installs it), and the one-line error where it
is not (always runs)."""

from __future__ import annotations

import asyncio
import importlib.util
import math
import sys
from typing import Any

import pytest

from agents.llm.errors import LLMError, ModelSpecError
from agents.llm.spec import PROVIDERS, load_llm, make_backend, parse_spec
from agents.llm.types import Request, make_request

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
INSTALL = "pip install -c .ci/constraints.txt '.[llamacpp]'"


# --- always: the spec, the threads, the missing package ----------------------------------


def test_spec_names_the_provider() -> None:
    assert "llamacpp" in PROVIDERS
    assert parse_spec("llamacpp:smollm2") == ("llamacpp", "smollm2")
    assert parse_spec("llamacpp:/models/x.gguf") == ("llamacpp", "/models/x.gguf")
    with pytest.raises(ModelSpecError, match="llamacpp:smollm2"):
        parse_spec("smollm2")


def test_without_llama_cpp_python_the_spec_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` raises
    for make in (make_backend, load_llm):
        with pytest.raises(ModelSpecError) as info:
            make("llamacpp:smollm2")
        message = str(info.value)
        assert INSTALL in message and "\n" not in message, message
        assert message.startswith("llamacpp:smollm2 needs llama-cpp-python")
    from agents.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["ask", "-m", "llamacpp:smollm2", "--no-cache", "Hi"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and INSTALL in err and "Traceback" not in err, err


def test_threads_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.llm.llamacpp_backend import default_threads

    monkeypatch.setenv("AGENTS_LLAMACPP_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("AGENTS_LLAMACPP_THREADS", "many")
    with pytest.raises(ModelSpecError, match="AGENTS_LLAMACPP_THREADS"):
        default_threads()
    monkeypatch.delenv("AGENTS_LLAMACPP_THREADS")
    assert default_threads() >= 1


# --- with llama-cpp-python: the real embedded GGUF ----------------------------------------

needs_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason=f"llama-cpp-python is not installed ({INSTALL}; bash .ci/run installs it)",
)


@pytest.fixture(scope="module")
def llm() -> Any:
    from agents.llm.llamacpp_backend import LlamaCppLLM

    return LlamaCppLLM("smollm2", n_threads=1)  # one thread: tests share the machine


def _run(llm: Any, **kw: Any) -> list[Any]:
    seed = kw.pop("seed", None)
    request = make_request(QUESTION, **kw)
    if seed is not None:
        request = Request(**{**request.__dict__, "seed": seed})
    return list(llm.generate(request))


@pytest.mark.slow
@needs_llama_cpp
def test_greedy_is_deterministic_and_answers(llm: Any) -> None:
    first = _run(llm, max_tokens=24)
    other = _run(llm, max_tokens=4, temperature=1.0, seed=1)  # leaves another KV state
    again = _run(llm, max_tokens=24)
    assert len(first) == 1 and other
    assert first[0].text == again[0].text
    assert "Paris" in first[0].text
    assert first[0].finish_reason == "stop"  # the model's end-of-turn token
    assert first[0].model == "llamacpp:smollm2" and first[0].index == 0


@pytest.mark.slow
@needs_llama_cpp
def test_n_samples_differ_and_a_seed_repeats_them(llm: Any) -> None:
    samples = _run(llm, n=3, temperature=1.0, max_tokens=6, seed=7)
    assert [c.index for c in samples] == [0, 1, 2]
    assert len({c.text for c in samples}) > 1  # real samples, not three copies
    assert samples[0].usage.input_tokens > 0
    assert [c.usage.input_tokens for c in samples[1:]] == [0, 0]  # the prompt counted once
    assert [c.text for c in _run(llm, n=3, temperature=1.0, max_tokens=6, seed=7)] == [
        c.text for c in samples
    ]


@pytest.mark.slow
@needs_llama_cpp
def test_stop_strings_cut_the_text(llm: Any) -> None:
    [whole] = _run(llm, max_tokens=24)
    [cut] = _run(llm, max_tokens=24, stop=["Paris", "never appears"])
    assert "Paris" not in cut.text and cut.finish_reason == "stop"
    assert whole.text.startswith(cut.text + "Paris")
    assert cut.usage.output_tokens < whole.usage.output_tokens


@pytest.mark.slow
@needs_llama_cpp
def test_max_tokens_is_respected(llm: Any) -> None:
    [c] = _run(llm, max_tokens=3, logprobs=True)
    assert c.finish_reason == "length"
    assert c.usage.output_tokens == 3
    assert c.logprobs is not None and len(c.logprobs) == 3
    assert "".join(lp.token for lp in c.logprobs) == c.text


@pytest.mark.slow
@needs_llama_cpp
def test_usage_counts_are_the_tokenizers(llm: Any) -> None:
    """Against transformers' tokenizer of the same GGUF, with its chat template."""
    from transformers import AutoTokenizer

    gguf = llm.gguf_file
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    messages = [{"role": "system", "content": "You are a helpful assistant. Answer correctly and concisely."}, *QUESTION]  # fmt: skip
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):
        ids = ids["input_ids"]
    [c] = _run(llm, max_tokens=24)
    assert c.finish_reason == "stop"
    assert c.usage.input_tokens == len(ids) == len(llm.encode(QUESTION))
    assert c.usage.output_tokens == len(tok(c.text, add_special_tokens=False)["input_ids"])


@pytest.mark.slow
@needs_llama_cpp
def test_logprobs_and_top_logprobs(llm: Any) -> None:
    [c] = _run(llm, max_tokens=4, logprobs=True, top_logprobs=3)
    assert c.logprobs is not None and len(c.logprobs) == c.usage.output_tokens == 4
    for lp in c.logprobs:
        assert lp.logprob <= 0
        assert len(lp.top_logprobs) == 3
        values = [t.logprob for t in lp.top_logprobs]
        assert values == sorted(values, reverse=True) and all(v <= 0 for v in values)
        assert sum(math.exp(v) for v in values) <= 1 + 1e-6
        # greedy: the chosen token is the most likely one
        assert lp.top_logprobs[0].token == lp.token
        assert lp.top_logprobs[0].logprob == pytest.approx(lp.logprob)
    assert c.logprobs[1].logprob > -1.0  # "The| capital" after "The": a confident step
    [plain] = _run(llm, max_tokens=4)
    assert plain.logprobs is None and plain.text == c.text


@pytest.mark.slow
@needs_llama_cpp
def test_a_prompt_longer_than_the_context_is_an_error() -> None:
    from agents.llm.llamacpp_backend import LlamaCppLLM

    small = LlamaCppLLM("smollm2", n_threads=1, n_ctx=64)
    with pytest.raises(LLMError, match="context"):
        small.generate(make_request([{"role": "user", "content": "word " * 100}], max_tokens=2))
    asyncio.run(small.aclose())


@pytest.mark.slow
@needs_llama_cpp
def test_through_load_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_LLAMACPP_THREADS", "1")
    llm = load_llm("llamacpp:smollm2", cache=False)
    assert llm.name == "llamacpp:smollm2"
    assert llm.cache_identity().startswith("llamacpp:smollm2@")

    async def both() -> list[list[Any]]:  # concurrent calls run one at a time
        return list(
            await asyncio.gather(
                llm.complete(QUESTION, max_tokens=8),
                llm.complete(QUESTION, max_tokens=8, logprobs=True),
            )
        )

    [[a], [b]] = asyncio.run(both())
    assert a.text == b.text and "Paris" in a.text
    assert a.usage.input_tokens > 0 and a.usage.output_tokens > 0
    assert b.logprobs is not None and all(lp.logprob <= 0 for lp in b.logprobs)
    with pytest.raises(LLMError, match="no native tool calling"):
        asyncio.run(llm.complete(QUESTION, tools=[{"name": "f"}]))
    asyncio.run(llm.aclose())
