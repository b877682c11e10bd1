"""`agents serve`: real HTTP on 127.0.0.1 with the official `openai` client (and httpx and
curl for the raw wire), over scripted models and a tiny random-init local model."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from typer.models import ParameterInfo

from agents.cli import main
from agents.commands.serve import ServeSettings, serve
from agents.llm import LLMConfig, ScriptedLLM, load_llm
from agents.llm.server import AppServer, bind, create_app, parse_chat_request, pieces
from agents.llm.types import TokenLogprob, Wrapper
from foundation.errors import UserError
from tests.tiny_models import build_tiny_llama

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("one_torch_thread")]

ROOT = Path(__file__).resolve().parents[1]
PLAN = {
    "plans": {"capital": ["Paris is the capital."]},
    "default": ["Hello from the scripted model."],
}


@contextmanager
def running(
    spec: str, tmp: Path, name: str | None = None, cache: bool = True, **app: Any
) -> Iterator[str]:
    """`spec` served as `agents serve` serves it (load_llm's stack), on a free port; yields
    the base URL (http://127.0.0.1:PORT/v1)."""
    config = LLMConfig(model=spec, cache=cache, cache_path=str(tmp / "responses.sqlite"))
    server = AppServer(create_app(load_llm(config), name or spec, **app), bind("127.0.0.1", 0))
    server.start_thread(timeout=30)
    try:
        yield server.url
    finally:
        server.stop(timeout=30)


def client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, timeout=60, max_retries=0)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a scripted model whose answer depends on the prompt only."""
    tmp = tmp_path_factory.mktemp("planned")
    (tmp / "plan.json").write_text(json.dumps(PLAN))
    with running(f"scripted:{tmp / 'plan.json'}", tmp, name="planned") as url:
        yield url


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a tiny random-init Llama (`local:PATH`): real log-probs and sampling."""
    tmp = tmp_path_factory.mktemp("tiny")
    model = build_tiny_llama(tmp / "model")
    with running(f"local:{model}", tmp, name="tiny") as url:
        yield url


ASK = [{"role": "user", "content": "what is the capital"}]
PROMPT = [{"role": "user", "content": "the red cat sat on the mat why"}]


def test_chat_completion_round_trip(planned: str) -> None:
    response = client(planned).chat.completions.create(model="planned", messages=ASK)
    assert response.object == "chat.completion" and response.id.startswith("chatcmpl-")
    assert response.model == "planned"
    [choice] = response.choices
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant" and choice.message.content == "Paris is the capital."
    usage = response.usage
    assert usage is not None
    # The scripted model counts words: 4 in the prompt, 4 in the answer.
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (4, 4, 8)


def test_n_gives_that_many_choices_indexed_in_order(planned: str) -> None:
    response = client(planned).chat.completions.create(model="planned", messages=ASK, n=3)
    assert [c.index for c in response.choices] == [0, 1, 2]
    assert {c.message.content for c in response.choices} == {"Paris is the capital."}
    assert response.usage is not None and response.usage.completion_tokens == 3 * 4
    assert response.usage.total_tokens == response.usage.prompt_tokens + 12


def test_logprobs_in_openais_shape(tiny: str) -> None:
    response = client(tiny).chat.completions.create(
        model="tiny", messages=PROMPT, max_tokens=8, temperature=0, logprobs=True, top_logprobs=2
    )
    [choice] = response.choices
    assert choice.logprobs is not None and choice.logprobs.content
    content = choice.logprobs.content
    assert response.usage is not None and len(content) == response.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0 and entry.bytes == list(entry.token.encode())
        assert len(entry.top_logprobs) == 2
        values = [alt.logprob for alt in entry.top_logprobs]
        assert values == sorted(values, reverse=True) and all(v <= 0 for v in values)
        # Greedy: the chosen token is the most likely one.
        assert entry.top_logprobs[0].token == entry.token
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob)
    # The raw body has exactly OpenAI's keys.
    raw = httpx.post(
        f"{tiny}/chat/completions",
        json={"model": "tiny", "messages": PROMPT, "max_tokens": 3, "logprobs": True},
        timeout=60,
    ).json()
    first = raw["choices"][0]["logprobs"]["content"][0]
    assert set(first) == {"token", "logprob", "bytes", "top_logprobs"}
    assert first["top_logprobs"] == []


def test_concurrent_requests_share_the_local_engine(tmp_path: Path) -> None:
    """Requests in flight together reach the local model together (its scheduler batches
    them): each answer is the one it gets alone."""
    from concurrent.futures import ThreadPoolExecutor

    model = build_tiny_llama(tmp_path / "model")
    prompts = [[{"role": "user", "content": f"the {w} cat sat on the mat"}]
               for w in ("red", "blue", "green", "old", "dog", "map")]  # fmt: skip

    def ask(url: str, messages: list[dict[str, str]]) -> str | None:
        answer = client(url).chat.completions.create(
            model="tiny", messages=messages, max_tokens=10, temperature=0
        )
        return answer.choices[0].message.content

    with running(f"local:{model}", tmp_path, "tiny", cache=False) as url:
        with ThreadPoolExecutor(len(prompts)) as pool:
            together = list(pool.map(lambda m: ask(url, m), prompts))
        alone = [ask(url, m) for m in prompts]
    assert together == alone and all(together)


def _stream(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks of a streamed answer (its raw lines checked: `data:` events, then [DONE])."""
    lines = []
    with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


def test_streamed_deltas_spell_the_same_seeded_answers(tiny: str) -> None:
    body = {"model": "tiny", "messages": PROMPT, "n": 2, "temperature": 0.9, "seed": 7,
            "max_tokens": 12}  # fmt: skip
    plain = client(tiny).chat.completions.create(**body)
    texts = [c.message.content for c in plain.choices]
    assert all(texts) and texts[0] != texts[1]  # two different samples
    chunks = _stream(tiny, {**body, "stream": True, "stream_options": {"include_usage": True}})
    assert len({c["id"] for c in chunks}) == 1
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    streamed = {0: "", 1: ""}
    finishes: dict[int, list[str | None]] = {0: [], 1: []}
    for chunk in chunks[:-1]:
        [choice] = chunk["choices"]
        streamed[choice["index"]] += choice["delta"].get("content") or ""
        finishes[choice["index"]].append(choice["finish_reason"])
        assert chunk["usage"] is None
    assert [streamed[0], streamed[1]] == texts
    for i in (0, 1):  # the finish reason comes once, on the choice's last chunk
        assert finishes[i][-1] == plain.choices[i].finish_reason and not any(finishes[i][:-1])
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == [] and plain.usage is not None
    assert usage["completion_tokens"] == plain.usage.completion_tokens > 0
    assert usage["prompt_tokens"] == plain.usage.prompt_tokens > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_openai_client_streams_text_and_logprobs(tiny: str) -> None:
    body = {"model": "tiny", "messages": PROMPT, "max_tokens": 6, "temperature": 0,
            "logprobs": True, "top_logprobs": 1}  # fmt: skip
    plain = client(tiny).chat.completions.create(**body)
    text, tokens, finish = "", [], None
    for chunk in client(tiny).chat.completions.create(**body, stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            if choice.logprobs and choice.logprobs.content:
                tokens += [t.token for t in choice.logprobs.content]
            finish = choice.finish_reason or finish
    [choice] = plain.choices
    assert choice.logprobs is not None and choice.logprobs.content is not None
    assert text == choice.message.content
    assert tokens == [t.token for t in choice.logprobs.content]
    assert finish == choice.finish_reason


def test_scripted_stream_of_several_choices(planned: str) -> None:
    chunks = _stream(planned, {"model": "planned", "messages": ASK, "n": 2, "stream": True})
    assert "usage" not in chunks[-1]  # no include_usage: no usage chunk
    by_index: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            by_index[choice["index"]] = by_index.get(choice["index"], "") + (
                choice["delta"].get("content") or ""
            )
    assert by_index == {0: "Paris is the capital.", 1: "Paris is the capital."}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"n": 0}, "n", "less than the minimum of 1"),
        ({"temperature": -1}, "temperature", "less than the minimum of 0"),
        ({"temperature": 2.5}, "temperature", "greater than the maximum of 2"),
        ({"messages": []}, "messages", "too short"),
        ({"top_logprobs": 2}, "top_logprobs", "logprobs"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.[0].role", "robot"),
        ({"max_tokens": 0}, "max_tokens", "less than the minimum of 1"),
        ({"stop": 3}, "stop", "not of type"),
        ({"top_p": 0.5}, "top_p", "not supported"),
        ({"frobnicate": 1}, "frobnicate", "Unrecognized request argument"),
        ({"stream_options": {"include_usage": True}}, "stream_options", "stream"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "tool calling"),
    ],
)
def test_bad_requests_are_openai_400s(
    planned: str, body: dict[str, Any], param: str, says: str
) -> None:
    request = {"model": "planned", "messages": ASK, **body}
    with pytest.raises(openai.BadRequestError) as caught:  # extra_body: sent as is
        client(planned).chat.completions.create(model="planned", messages=ASK, extra_body=body)
    error = caught.value
    assert error.status_code == 400 and isinstance(error.body, dict)
    assert says in error.body["message"] and error.body["type"] == "invalid_request_error"
    assert error.body["param"] == param
    # The raw body is OpenAI's: {"error": {message, type, param, code}}.
    raw = httpx.post(f"{planned}/chat/completions", json=request, timeout=60)
    assert raw.status_code == 400
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "says"),
    [
        ("POST", "/chat/completions", b"{not json", 400, "could not parse the JSON"),
        ("POST", "/chat/completions", b"[1, 2]", 400, "JSON object"),
        ("POST", "/chat/completions", b'{"model": "planned"}', 400, "'messages'"),
        ("POST", "/chat/completions", b'{"model": "gpt-9", "messages": []}', 404, "gpt-9"),
        ("GET", "/chat/completions", b"", 405, "Method not allowed"),
        ("POST", "/completions", b"{}", 404, "Invalid URL (POST /v1/completions)"),
        ("GET", "/models/gpt-9", b"", 404, "gpt-9"),
    ],
)
def test_raw_errors_have_openais_body_and_status(
    planned: str, method: str, path: str, content: bytes, status: int, says: str
) -> None:
    response = httpx.request(method, planned + path, content=content, timeout=60)
    assert response.status_code == status
    error = response.json()["error"]
    assert says in error["message"] and set(error) == {"message", "type", "param", "code"}


def test_unknown_model_is_not_found(planned: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(planned).chat.completions.create(model="gpt-9", messages=ASK)
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == "model_not_found"


def test_models_lists_the_served_model(planned: str) -> None:
    models = client(planned).models.list()
    assert [m.id for m in models.data] == ["planned"]
    assert client(planned).models.retrieve("planned").id == "planned"
    with pytest.raises(openai.NotFoundError):
        client(planned).models.retrieve("gpt-9")


def test_the_spec_is_an_alias_of_the_served_name(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    spec = f"scripted:{tmp_path / 'plan.json'}"
    with running(spec, tmp_path, name="nice-name", aliases=(spec,)) as url:
        response = client(url).chat.completions.create(model=spec, messages=ASK)
        assert response.model == "nice-name"
        assert response.choices[0].message.content == "Paris is the capital."


def test_api_key(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    with running(f"scripted:{tmp_path / 'plan.json'}", tmp_path, "m", api_key="s3cret") as url:
        with pytest.raises(openai.AuthenticationError) as caught:
            client(url, "wrong").chat.completions.create(model="m", messages=ASK)
        assert caught.value.status_code == 401 and isinstance(caught.value.body, dict)
        assert caught.value.body["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            client(url, "wrong").models.list()
        missing = httpx.get(f"{url}/models", timeout=30)
        assert missing.status_code == 401 and "API key" in missing.json()["error"]["message"]
        good = client(url, "s3cret").chat.completions.create(model="m", messages=ASK)
        assert good.choices[0].message.content == "Paris is the capital."
        assert [m.id for m in client(url, "s3cret").models.list().data] == ["m"]


def test_a_failing_backend_is_a_500_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(["only answer"]))
    with running(f"scripted:{tmp_path / 'one.json'}", tmp_path, "m") as url:
        first = client(url).chat.completions.create(model="m", messages=ASK)
        assert first.choices[0].message.content == "only answer"
        with pytest.raises(openai.InternalServerError) as caught:  # the script is used up
            client(url).chat.completions.create(model="m", messages=ASK)
        assert caught.value.status_code == 500 and isinstance(caught.value.body, dict)
        message = caught.value.body["message"]
        assert "scripted answers used" in message and caught.value.body["type"] == "server_error"
        assert "\n" not in message and "Traceback" not in message


def test_tools_pass_through(tmp_path: Path) -> None:
    script = {"responses": [{"text": "", "tool_calls": [
        {"id": "call_7", "name": "view_file", "arguments": {"path": "a.py"}}]}, "done"]}  # fmt: skip
    (tmp_path / "tools.json").write_text(json.dumps(script))
    config = LLMConfig(model=f"scripted:{tmp_path / 'tools.json'}", cache=False)
    llm = load_llm(config)
    assert isinstance(llm, Wrapper)
    backend = llm.unwrap()
    assert isinstance(backend, ScriptedLLM) and backend.supports_tools
    server = AppServer(create_app(llm, "m"), bind("127.0.0.1", 0))
    server.start_thread()
    try:
        tools = [{"type": "function", "function": {"name": "view_file", "description": "Read.",
                  "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]  # fmt: skip
        first = client(server.url).chat.completions.create(model="m", messages=ASK, tools=tools)
        [choice] = first.choices
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        [call] = choice.message.tool_calls or []
        assert call.id == "call_7" and call.type == "function"
        assert call.function.name == "view_file"
        assert json.loads(call.function.arguments) == {"path": "a.py"}
        assert backend.calls[-1].tools == ({"name": "view_file", "description": "Read.",
                                            "parameters": tools[0]["function"]["parameters"]},)  # fmt: skip
        history = [*ASK, choice.message.model_dump(exclude_none=True),
                   {"role": "tool", "tool_call_id": "call_7", "content": "print(1)"}]  # fmt: skip
        second = client(server.url).chat.completions.create(
            model="m", messages=history, tools=tools
        )
        assert second.choices[0].message.content == "done"
        sent = backend.calls[-1].messages
        assert sent[1]["tool_calls"] == [
            {"id": "call_7", "name": "view_file", "arguments": {"path": "a.py"}}
        ]
        assert sent[2] == {"role": "tool", "tool_call_id": "call_7", "content": "print(1)"}
    finally:
        server.stop()


def test_curl_gets_a_json_completion(planned: str) -> None:
    if shutil.which("curl") is None:
        pytest.skip("no curl binary on this machine")
    body = json.dumps({"model": "planned", "messages": ASK})
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "30", f"{planned}/chat/completions",
         "-H", "Content-Type: application/json", "-d", body],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    answer = json.loads(out.stdout)
    assert answer["choices"][0]["message"]["content"] == "Paris is the capital."
    assert answer["usage"]["total_tokens"] == 8


def test_request_parsing_maps_openai_messages_to_neutral_ones() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text",
                                                                       "text": "b"}]},
        ],
        "max_completion_tokens": 7,
        "stop": "END",
        "user": "someone",  # bookkeeping: accepted, no effect
    }  # fmt: skip
    chat = parse_chat_request(body, ["m"])
    assert chat.request.messages == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a\nb"},
    )
    assert (chat.request.max_tokens, chat.request.stop, chat.request.temperature) == (
        7,
        ("END",),
        1.0,  # OpenAI's default temperature
    )
    assert (
        parse_chat_request({"messages": ASK}, ["m"], default_max_tokens=99).request.max_tokens == 99
    )


def test_stream_pieces_always_spell_the_text() -> None:
    tokens = (TokenLogprob("Hel", -0.1), TokenLogprob("lo", -0.2))
    assert pieces("Hello", tokens) == [("Hel", [tokens[0]]), ("lo", [tokens[1]])]
    for text in ["", "one", "  two  words ", "a\nb\n\n c"]:
        assert "".join(p for p, _ in pieces(text, None)) == text
    spaced = pieces("cat dog", tokens)  # tokens that do not spell the text: on the last piece
    assert spaced == [("cat ", []), ("dog", list(tokens))]


# Settings and the command.


def test_settings_are_the_commands_options_with_the_same_defaults() -> None:
    options = {}
    for name, param in inspect.signature(serve).parameters.items():
        default = param.default
        options[name] = default.default if isinstance(default, ParameterInfo) else default
    fields = ServeSettings.model_fields
    assert sorted(fields) == sorted(options)
    assert all(fields[name].default == default for name, default in options.items())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": 0}, "--port must be in 1..65535 (got 0)"),
        ({"port": 70000}, "--port must be in 1..65535 (got 70000)"),
        ({"host": "0.0.0.0"}, "--host 0.0.0.0 serves beyond this machine: set an API key"),
        ({"host": "192.168.1.5", "api_key": " "}, "set an API key"),
        ({"concurrency": 0}, "--concurrency must be >= 1"),
    ],
)
def test_bad_settings_are_one_line_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as caught:
        ServeSettings(**options)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_hosts_that_need_no_key() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert ServeSettings(host=host).api_key is None
    assert ServeSettings(host="0.0.0.0", api_key="k").name == "local:smollm2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "0"], "--port must be in 1..65535 (got 0)"),
        (["serve", "--host", "0.0.0.0"], "set an API key too (--api-key or AGENTS_SERVE_API_KEY)"),
    ],
)
def test_the_cli_refuses_bad_settings_in_one_line(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGENTS_SERVE_API_KEY", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_the_command_serves_until_ctrl_c(tmp_path: Path) -> None:
    """`agents serve` in a subprocess: the startup line, the key from the environment,
    a busy port refused in one line, and Ctrl-C stopping it cleanly."""
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    probe = bind("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    env = {**os.environ, "AGENTS_SERVE_API_KEY": "k3y", "AGENTS_CACHE_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "agents.cli", "serve", "-m", f"scripted:{tmp_path / 'plan.json'}",
           "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the server listens (or dies)
        url = f"http://127.0.0.1:{port}/v1"
        assert line.startswith("serving scripted:") and url in line and "API key" in line
        answer = client(url, "k3y").chat.completions.create(
            model=f"scripted:{tmp_path / 'plan.json'}", messages=ASK
        )
        assert answer.choices[0].message.content == "Paris is the capital."
        busy = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert busy.returncode == 2 and busy.stderr.count("\n") == 1
        assert busy.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Traceback" not in err and err.strip().endswith("stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_bind_refuses_a_busy_port() -> None:
    first = bind("127.0.0.1", 0)
    first.listen()
    try:
        with pytest.raises(OSError):
            bind("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()


def test_server_thread_stops_and_closes_the_model(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    llm = load_llm(LLMConfig(model=f"scripted:{tmp_path / 'plan.json'}"))
    closed = []

    async def aclose() -> None:
        closed.append(True)

    llm.aclose = aclose  # type: ignore[method-assign]
    server = AppServer(create_app(llm, "m"), bind("127.0.0.1", 0))
    server.start_thread()
    assert (
        httpx.get(server.url.removesuffix("/v1") + "/health", timeout=30).json()["status"] == "ok"
    )
    started = time.monotonic()
    server.stop()
    assert closed == [True] and time.monotonic() - started < 15
