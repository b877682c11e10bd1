"""Cache, budget, concurrency limit and usage meter: backend-independent wrappers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agents.cli import main
from agents.llm import (
    GLOBAL_METER,
    BudgetExceeded,
    LLMError,
    ScriptedLLM,
    load_llm,
)
from agents.llm.budget import BudgetedLLM, Price, price_for
from foundation.budget import Budget
from tests.llm_servers import serve

MSG = [{"role": "user", "content": "plan the next step"}]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")


def test_repeated_call_is_served_from_cache_without_reaching_the_server(tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    with serve("openai") as (url, state):
        llm = load_llm("openai:m", base_url=url, cache_path=str(db))
        first = asyncio.run(llm.complete(MSG, max_tokens=20))
        second = asyncio.run(llm.complete(MSG, max_tokens=20))
        assert state.count == 1
        # A new process (new wrapper, same file) is served too.
        again = load_llm("openai:m", base_url=url, cache_path=str(db))
        third = asyncio.run(again.complete(MSG, max_tokens=20))
        assert state.count == 1
        # Different parameters are a different key.
        asyncio.run(llm.complete(MSG, max_tokens=21))
        assert state.count == 2
    assert first[0].text == second[0].text == third[0].text
    assert not first[0].from_cache and second[0].from_cache and third[0].from_cache
    summary = GLOBAL_METER.summary()
    assert summary.calls == 4 and summary.cache_hits == 2
    assert summary.input_tokens == 200  # the cached calls cost nothing


def test_top_logprobs_survive_the_cache_and_are_part_of_its_key(tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    with serve("openai") as (url, state):
        llm = load_llm("openai:m", base_url=url, cache_path=str(db))
        first = llm.complete_sync(MSG, logprobs=True, top_logprobs=2)[0]
        again = load_llm("openai:m", base_url=url, cache_path=str(db))
        cached = again.complete_sync(MSG, logprobs=True, top_logprobs=2)[0]
        assert state.count == 1 and cached.from_cache
        again.complete_sync(MSG, logprobs=True, top_logprobs=3)  # another key
        assert state.count == 2
    assert cached.logprobs == first.logprobs and cached.logprobs is not None
    assert [t.token for t in cached.logprobs[0].top_logprobs] == ["alt0", "alt1"]


def test_sampled_calls_are_cached_per_sample_index(tmp_path: Path) -> None:
    """Two identical sampled calls in one run see different samples; a rerun
    replays them in the same order without reaching the server."""
    db = tmp_path / "cache.sqlite"
    with serve("openai") as (url, state):
        run1 = load_llm("openai:m", base_url=url, cache_path=str(db))
        a = asyncio.run(run1.complete(MSG, n=2, temperature=0.9))
        b = asyncio.run(run1.complete(MSG, n=1, temperature=0.9))
        assert state.count == 2
        run2 = load_llm("openai:m", base_url=url, cache_path=str(db))
        a2 = asyncio.run(run2.complete(MSG, n=2, temperature=0.9))
        b2 = asyncio.run(run2.complete(MSG, n=1, temperature=0.9))
        assert state.count == 2
        # A third sample was never drawn: only it is requested.
        c2 = asyncio.run(run2.complete(MSG, n=1, temperature=0.9))
        assert state.count == 3 and state.requests[-1]["body"]["n"] == 1
    texts = [c.text for c in a + b]
    assert len(set(texts)) == 3
    assert [c.text for c in a2 + b2] == texts
    assert c2[0].text not in texts


def budgeted(llm: Any) -> BudgetedLLM:
    """The budget wrapper inside a `load_llm` chain."""
    while not isinstance(llm, BudgetedLLM):
        llm = llm.inner
    return llm


def test_a_call_cap_refuses_the_call_after_the_last_allowed() -> None:
    with serve("openai") as (url, state):
        llm = load_llm("openai:m", base_url=url, cache=False, budget=Budget(calls=3))
        for _ in range(3):
            asyncio.run(llm.complete(MSG, max_tokens=5))
        with pytest.raises(BudgetExceeded, match="calls cap"):
            asyncio.run(llm.complete(MSG, max_tokens=5))
    assert state.count == 3 and budgeted(llm).calls == 3


def test_budget_stops_before_the_cap_and_reports_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    price = Price(input=1000.0, output=2000.0)  # $ per 1M tokens: 100 in + 10 out = $0.12
    budget = Budget(dollars=0.50)
    with serve("openai") as (url, state):
        llm = load_llm("openai:m", base_url=url, cache=False, budget=budget, price="1000,2000")
        calls = 0
        with pytest.raises(BudgetExceeded) as info:
            for _ in range(100):
                asyncio.run(llm.complete(MSG, max_tokens=10))
                calls += 1
    assert calls == state.count  # the refused call was never sent
    spent = budgeted(llm).spent
    assert 0 < spent.cost <= 0.50
    # worst case of the refused call: ~8 prompt tokens (estimate) + 10 out
    assert spent.cost + price.cost(spent.__class__(8, 10)) > 0.50 - 0.12
    assert info.value.usage == spent
    assert "dollars cap" in str(info.value) and "--max-cost" in str(info.value)
    assert GLOBAL_METER.summary().cost == pytest.approx(spent.cost)


def test_concurrent_calls_never_overshoot_the_cap_by_more_than_one_call() -> None:
    cap = 1.0
    per_call = Price(1000.0, 2000.0).cost(__import__("agents.llm").llm.Usage(100, 10))
    with serve("openai") as (url, state):
        state.delay = 0.05
        budget = Budget(dollars=cap)
        llm = load_llm("openai:m", base_url=url, cache=False, budget=budget, price="1000,2000")

        async def one() -> bool:
            try:
                await llm.complete(MSG, max_tokens=10)
                return True
            except BudgetExceeded:
                return False

        async def many() -> list[bool]:
            return await asyncio.gather(*(one() for _ in range(40)))

        done = asyncio.run(many())
    assert any(done) and not all(done)
    assert sum(done) == state.count
    assert budgeted(llm).spent.cost <= cap + per_call


def test_cli_max_cost_refuses_with_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with serve("openai") as (url, state):
        with pytest.raises(SystemExit) as info:
            main(
                [
                    "ask",
                    "-m",
                    "openai:m",
                    "--base-url",
                    url,
                    "--max-cost",
                    "0.000001",
                    "--price",
                    "1000,2000",
                    "hi",
                ]
            )
        assert state.count == 0
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "budget" in err and len(err.strip().splitlines()) == 1


def test_token_cap_is_enforced() -> None:
    llm = load_llm("scripted:" + _script(["word " * 100] * 10), max_total_tokens=300)
    asyncio.run(llm.complete(MSG, max_tokens=100))
    asyncio.run(llm.complete(MSG, max_tokens=100))  # ~104 tokens each: 208 spent
    with pytest.raises(BudgetExceeded, match="tokens"):
        asyncio.run(llm.complete(MSG, max_tokens=100))
    assert GLOBAL_METER.summary().calls == 2


def test_concurrency_limit_caps_requests_in_flight() -> None:
    with serve("openai") as (url, state):
        state.delay = 0.2
        llm = load_llm("openai:m", base_url=url, cache=False, concurrency=3)

        async def many() -> None:
            await asyncio.gather(*(llm.complete(MSG) for _ in range(9)))

        asyncio.run(many())
    assert state.count == 9
    assert state.peak_in_flight == 3


def test_price_table_matches_dated_snapshots() -> None:
    assert price_for("gpt-4o-mini-2024-07-18").input == 0.15
    assert price_for("gpt-4o-2024-08-06").input == 2.50
    assert price_for("unknown-local-model").input == 0.0


def test_price_table_override_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"my-model": [1.0, 2.0, 0.5]}))
    monkeypatch.setenv("AGENTS_PRICES", str(table))
    assert price_for("my-model") == Price(1.0, 2.0, 0.5)


def _script(answers: list[object]) -> str:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(answers, f)
    return f.name


def test_scripted_model_replays_in_order_and_honours_stop() -> None:
    llm = ScriptedLLM(["first answer END junk", {"text": "second", "finish_reason": "length"}])
    a = asyncio.run(llm.complete(MSG, stop=["END"]))
    b = asyncio.run(llm.complete(MSG))
    assert a[0].text == "first answer " and a[0].finish_reason == "stop"
    assert b[0].text == "second" and b[0].finish_reason == "length"
    with pytest.raises(LLMError, match="scripted answers used"):
        asyncio.run(llm.complete(MSG))
    assert len(llm.calls) == 3


def test_scripted_model_from_file_repeat_last(capsys: pytest.CaptureFixture[str]) -> None:
    path = _script({"responses": ["one", "two"], "on_exhausted": "repeat_last"})
    code = 0
    try:
        main(["ask", "-m", f"scripted:{path}", "--n", "3", "--json", "q"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [a["text"] for a in out["answers"]] == ["one", "two", "two"]


def test_models_command_reports_usability(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with serve("openai") as (url, _):
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        main(["models"])
    out = capsys.readouterr().out
    assert "ANTHROPIC_API_KEY not set" in out
    assert "openai:MODEL" in out and url in out
    assert "local:smollm2" in out
