"""An OpenAI-compatible HTTP server over any `LLM` (`agents serve`): Starlette on uvicorn.

    app = create_app(load_llm("local:smollm2"), "local:smollm2", api_key=None)
    server = AppServer(app, bind("127.0.0.1", 8000), on_ready=print)
    asyncio.run(server.serve_bound())           # or server.start_thread() / server.stop()

Endpoints: `POST /v1/chat/completions` (OpenAI's request and response bodies, `stream`
as server-sent events), `GET /v1/models`, `GET /v1/models/{id}`, and `GET /health`
(no key). Errors use OpenAI's body, `{"error": {"message", "type", "param", "code"}}`.

The model is called through the LLM layer as every command calls it (`load_llm`'s stack:
meter, cache, budget, concurrency limit, retry): concurrent requests to a `local:` model
share its batches and prefix cache. The layer has no token streaming, so `stream=true`
sends the finished answer as chunks (one per token when the answer's log-probs spell
its text, else one per word).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agents.llm.errors import BudgetExceeded, LLMError, RateLimitError, RequestRejected
from agents.llm.openai_wire import (
    WireError,
    from_openai_messages,
    from_openai_tools,
    openai_logprob,
    openai_logprobs,
    openai_tool_calls,
)
from agents.llm.types import LLM, Completion, Request, TokenLogprob, make_request
from foundation.errors import one_line

log = logging.getLogger("agents.serve")

MAX_N = 128
"""OpenAI's cap on `n`."""

HANDLED = {
    "model", "messages", "n", "temperature", "max_tokens", "max_completion_tokens", "stop",
    "seed", "logprobs", "top_logprobs", "stream", "stream_options", "tools", "tool_choice",
}  # fmt: skip
"""Request parameters the server acts on."""

NEUTRAL: dict[str, Any] = {
    "top_p": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
    "logit_bias": {},
    "response_format": {"type": "text"},
    "modalities": ["text"],
    "functions": [],
}
"""Parameters taken only at the value that changes nothing (or null): any other value is a
400, not silently ignored."""

IGNORED = {
    "user", "metadata", "store", "service_tier", "parallel_tool_calls", "prompt_cache_key",
    "safety_identifier",
}  # fmt: skip
"""Parameters that do not change the answer (bookkeeping for the provider): accepted."""


class ApiError(Exception):
    """An error answered in OpenAI's body with its HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


# Reading a request.


@dataclass(frozen=True)
class ChatRequest:
    """A chat-completions body, validated: the LLM layer's request and how to answer."""

    request: Request
    stream: bool = False
    include_usage: bool = False


def _present(body: dict[str, Any], key: str) -> bool:
    return body.get(key) is not None


def _integer(body: dict[str, Any], key: str, default: int, low: int, high: int | None) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_request(f"{value!r:.80} is not of type 'integer' - '{key}'", key, "invalid_type")
    if value < low:
        raise bad_request(
            f"{value} is less than the minimum of {low} - '{key}'", key, "integer_below_min_value"
        )
    if high is not None and value > high:
        raise bad_request(
            f"{value} is greater than the maximum of {high} - '{key}'",
            key,
            "integer_above_max_value",
        )
    return value


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise bad_request(f"{value!r:.80} is not of type 'number' - '{key}'", key, "invalid_type")
    if value < low:
        raise bad_request(
            f"{value} is less than the minimum of {low} - '{key}'", key, "decimal_below_min_value"
        )
    if value > high:
        raise bad_request(
            f"{value} is greater than the maximum of {high} - '{key}'",
            key,
            "decimal_above_max_value",
        )
    return float(value)


def _boolean(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{value!r:.80} is not of type 'boolean' - '{key}'", key, "invalid_type")
    return value


def _stop(body: dict[str, Any]) -> list[str] | None:
    value = body.get("stop")
    if value is None:
        return None
    if isinstance(value, str):
        return [value] if value else None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise bad_request(
            f"{value!r:.80} is not of type 'string' or 'array' of strings - 'stop'",
            "stop",
            "invalid_type",
        )
    return [s for s in value if s] or None


def _tools(body: dict[str, Any], supports_tools: bool, model: str) -> list[dict[str, Any]] | None:
    choice = body.get("tool_choice")
    if choice is not None and choice not in ("auto", "none"):
        raise bad_request(
            f"tool_choice {choice!r:.80} is not supported by this server; use 'auto' or 'none'",
            "tool_choice",
            "unsupported_value",
        )
    if not body.get("tools") or choice == "none":  # "none": the model answers in text
        return None
    tools = from_openai_tools(body["tools"])
    if not supports_tools:
        raise bad_request(
            f"{model} has no native tool calling: describe the tools in the prompt instead",
            "tools",
            "unsupported_parameter",
        )
    return tools


def parse_chat_request(
    body: object,
    models: Sequence[str],
    supports_tools: bool = False,
    default_max_tokens: int = 1024,
) -> ChatRequest:
    """A chat-completions body -> `ChatRequest`, or an `ApiError` (400; 404 for a model
    not in `models`, whose first entry is the served name)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    for key, value in body.items():
        if key in HANDLED or key in IGNORED:
            continue
        if key not in NEUTRAL:
            raise bad_request(
                f"Unrecognized request argument supplied: {key}", key, "unknown_parameter"
            )
        if value is not None and value != NEUTRAL[key]:
            raise bad_request(
                f"{key}={json.dumps(value)[:80]} is not supported by this server "
                f"(only {json.dumps(NEUTRAL[key])})",
                key,
                "unsupported_value",
            )
    model = body.get("model")
    if model is not None and model not in models:
        raise ApiError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    if "messages" not in body:
        raise bad_request(
            "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
        )
    stream = _boolean(body, "stream")
    options = body.get("stream_options")
    if options is not None and not stream:
        raise bad_request(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    if options is not None and not isinstance(options, dict):
        raise bad_request(
            f"{options!r:.80} is not of type 'object' - 'stream_options'",
            "stream_options",
            "invalid_type",
        )
    include_usage = _boolean(options, "include_usage") if options else False
    logprobs = _boolean(body, "logprobs")
    top_logprobs = _integer(body, "top_logprobs", 0, 0, 20)
    if _present(body, "top_logprobs") and not logprobs:
        raise bad_request(
            "top_logprobs needs logprobs: set 'logprobs' to true to use 'top_logprobs'.",
            "top_logprobs",
            "invalid_value",
        )
    key = "max_completion_tokens" if _present(body, "max_completion_tokens") else "max_tokens"
    max_tokens = _integer(body, key, default_max_tokens, 1, None)
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise bad_request(f"{seed!r:.80} is not of type 'integer' - 'seed'", "seed", "invalid_type")
    try:
        messages = from_openai_messages(body["messages"])
        tools = _tools(body, supports_tools, str(models[0]))
    except WireError as exc:
        raise bad_request(str(exc), exc.param, exc.code) from None
    try:
        request = make_request(
            messages,
            n=_integer(body, "n", 1, 1, MAX_N),
            temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
            max_tokens=max_tokens,
            stop=_stop(body),
            logprobs=logprobs,
            seed=seed,
            tools=tools,
            top_logprobs=top_logprobs,
        )
    except LLMError as exc:
        raise bad_request(one_line(exc)) from None
    return ChatRequest(request, stream, include_usage)


# Writing the answer.

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")


def _finish_reason(c: Completion) -> str:
    return c.finish_reason if c.finish_reason in FINISH_REASONS else "stop"


def usage_body(completions: Sequence[Completion]) -> dict[str, Any]:
    """The call's usage: the prompt once (the layer puts it on one sample, not always
    sample 0 after a partial cache hit), the output of every sample."""
    prompt = max((c.usage.input_tokens for c in completions), default=0)
    cached = max((c.usage.cached_tokens for c in completions), default=0)
    output = sum(c.usage.output_tokens for c in completions)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _message(c: Completion) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": c.text, "refusal": None}
    if c.tool_calls:
        message["tool_calls"] = openai_tool_calls(c.tool_calls)
        if not c.text:
            message["content"] = None
    return message


def completion_body(
    completions: Sequence[Completion], request: Request, model: str, id_: str, created: int
) -> dict[str, Any]:
    """The `chat.completion` object."""
    choices = [
        {
            "index": i,
            "message": _message(c),
            "logprobs": openai_logprobs(c.logprobs)
            if request.logprobs and c.logprobs is not None
            else None,
            "finish_reason": _finish_reason(c),
        }
        for i, c in enumerate(completions)
    ]
    return {
        "id": id_,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
        "usage": usage_body(completions),
    }


def pieces(
    text: str, logprobs: Sequence[TokenLogprob] | None
) -> list[tuple[str, list[TokenLogprob]]]:
    """`text` as stream deltas, each with its tokens' log-probs: one per token when the
    tokens spell the text, else one per word (the log-probs on the last piece). The
    deltas always join to `text`."""
    if logprobs and "".join(t.token for t in logprobs) == text:
        return [(t.token, [t]) for t in logprobs]
    words = [w for w in re.split(r"(?<=\s)(?=\S)", text) if w]
    out: list[tuple[str, list[TokenLogprob]]] = [(w, []) for w in words]
    if logprobs and out:
        out[-1] = (out[-1][0], list(logprobs))
    return out


def _choice_deltas(i: int, c: Completion, request: Request) -> list[dict[str, Any]]:
    """The `choices` entries that stream one completion: role, text, tool calls, finish."""

    def entry(
        delta: dict[str, Any],
        tokens: Sequence[TokenLogprob] | None = None,
        finish: str | None = None,
    ) -> dict[str, Any]:
        lp = None
        if request.logprobs and tokens is not None:
            lp = {"content": [openai_logprob(t) for t in tokens], "refusal": None}
        return {"index": i, "delta": delta, "logprobs": lp, "finish_reason": finish}

    logprobs = c.logprobs if request.logprobs else None
    parts = pieces(c.text, logprobs)
    out = [entry({"role": "assistant", "content": "", "refusal": None})]
    out += [entry({"content": text}, tokens) for text, tokens in parts]
    for k, call in enumerate(openai_tool_calls(c.tool_calls)):
        out.append(entry({"tool_calls": [{"index": k, **call}]}))
    leftover = logprobs if (logprobs and not parts) else None  # log-probs of an empty text
    out.append(entry({}, leftover, _finish_reason(c)))
    return out


def stream_chunks(
    completions: Sequence[Completion],
    request: Request,
    model: str,
    id_: str,
    created: int,
    include_usage: bool = False,
) -> Iterator[dict[str, Any]]:
    """The `chat.completion.chunk` objects of a streamed answer, the choices interleaved
    (each chunk names its choice's index), and with `include_usage` a last chunk with no
    choices and the usage (every other chunk has `"usage": null`)."""
    per_choice = [_choice_deltas(i, c, request) for i, c in enumerate(completions)]
    base = {
        "id": id_,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
    }
    for row in zip_longest(*per_choice):
        for choice in row:
            if choice is not None:
                chunk = {**base, "choices": [choice]}
                if include_usage:
                    chunk["usage"] = None
                yield chunk
    if include_usage:
        yield {**base, "choices": [], "usage": usage_body(completions)}


def sse(chunks: Iterator[dict[str, Any]]) -> Iterator[str]:
    """Server-sent events: `data: {json}` per chunk, then `data: [DONE]`."""
    for chunk in chunks:
        data = json.dumps(chunk, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        yield f"data: {data}\n\n"
    yield "data: [DONE]\n\n"


# The application.


def _error_for(exc: BaseException) -> ApiError:
    """What a failed model call answers: a one-line message, never a traceback."""
    if isinstance(exc, BudgetExceeded):
        return ApiError(429, one_line(exc), "insufficient_quota", code="insufficient_quota")
    if isinstance(exc, RateLimitError):
        return ApiError(429, one_line(exc), "rate_limit_exceeded", code="rate_limit_exceeded")
    if isinstance(exc, RequestRejected):  # the upstream provider refused the request
        return ApiError(400, one_line(exc), code="upstream_rejected")
    return ApiError(500, f"the model failed: {one_line(exc)}", "server_error")


class _Service:
    def __init__(
        self,
        llm: LLM,
        served_name: str,
        api_key: str | None,
        aliases: Sequence[str],
        default_max_tokens: int,
    ):
        self.llm = llm
        self.models = [served_name, *(a for a in aliases if a != served_name)]
        self.api_key = api_key or None
        self.default_max_tokens = default_max_tokens
        self.created = int(time.time())

    def authorize(self, request: HttpRequest) -> None:
        if self.api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(
                401,
                "You didn't provide an API key. Send it in an Authorization header "
                "using Bearer auth (Authorization: Bearer YOUR_KEY).",
                code="missing_api_key",
            )
        if not hmac.compare_digest(given.strip().encode(), self.api_key.encode()):
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    def model_object(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": self.created, "owned_by": "agents"}

    async def list_models(self, request: HttpRequest) -> Response:
        self.authorize(request)
        return JSONResponse(
            {"object": "list", "data": [self.model_object(m) for m in self.models[:1]]}
        )

    async def get_model(self, request: HttpRequest) -> Response:
        self.authorize(request)
        name = request.path_params["model"]
        if name not in self.models:
            raise ApiError(
                404,
                f"The model '{name}' does not exist",
                param="model",
                code="model_not_found",
            )
        return JSONResponse(self.model_object(name))

    async def health(self, request: HttpRequest) -> Response:
        return JSONResponse({"status": "ok", "model": self.models[0]})

    async def chat(self, request: HttpRequest) -> Response:
        self.authorize(request)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            raise bad_request(
                "We could not parse the JSON body of your request: send a JSON object "
                "(Content-Type: application/json)."
            ) from None
        chat = parse_chat_request(
            body, self.models, self.llm.supports_tools, self.default_max_tokens
        )
        try:
            completions = await self.llm.complete_request(chat.request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = _error_for(exc)
            log.error("POST /v1/chat/completions: %s", error.message)
            raise error from None
        id_, created, model = f"chatcmpl-{secrets.token_hex(12)}", int(time.time()), self.models[0]
        if not chat.stream:
            return JSONResponse(completion_body(completions, chat.request, model, id_, created))
        # The answer is complete before the first byte: a failed call is an HTTP error,
        # not a stream cut short.
        events = list(
            sse(stream_chunks(completions, chat.request, model, id_, created, chat.include_usage))
        )

        async def send() -> AsyncIterator[str]:
            for event in events:
                yield event

        return StreamingResponse(
            send(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


async def _api_error(request: HttpRequest, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: HttpRequest, exc: Exception) -> Response:
    """Starlette's own errors (unknown path, wrong method) in OpenAI's body."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Method not allowed ({request.method} {request.url.path})"
    else:
        message = str(exc.detail)
    return ApiError(exc.status_code, message).response()


async def _server_error(request: HttpRequest, exc: Exception) -> Response:
    log.error("%s %s: %s", request.method, request.url.path, one_line(exc))
    return ApiError(500, f"internal error: {one_line(exc)}", "server_error").response()


def create_app(
    llm: LLM,
    served_name: str,
    *,
    api_key: str | None = None,
    aliases: Sequence[str] = (),
    default_max_tokens: int = 1024,
) -> Starlette:
    """The ASGI app serving `llm` as `served_name` (requests may also name an alias, such
    as the model spec). With `api_key`, every endpoint but /health wants it as a Bearer
    token. The app closes `llm` when it shuts down."""
    service = _Service(llm, served_name, api_key, aliases, default_max_tokens)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await llm.aclose()

    routes = [
        Route("/v1/chat/completions", service.chat, methods=["POST"]),
        Route("/v1/models", service.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", service.get_model, methods=["GET"]),
        Route("/health", service.health, methods=["GET"]),
    ]
    handlers = {ApiError: _api_error, HTTPException: _http_error, Exception: _server_error}
    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)


# Running it.


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0: a free one); OSError if it cannot be."""
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    """The OpenAI base URL of a bound socket: http://HOST:PORT/v1."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


class AppServer(uvicorn.Server):
    """uvicorn serving `app` on a socket already bound (`bind`): the URL is known before
    it starts, and a test's port 0 gets a free port with no race. Ctrl-C (SIGINT) or
    SIGTERM stops it gracefully when it runs in the main thread (uvicorn re-raises the
    signal afterwards); `stop()` stops it from another thread."""

    def __init__(
        self,
        app: Starlette,
        sock: socket.socket,
        on_ready: Callable[[str], None] | None = None,
        log_level: str = "warning",
    ):
        config = uvicorn.Config(
            app, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=10
        )
        super().__init__(config)
        self.sock = sock
        self.url = base_url(sock)
        self.on_ready = on_ready
        self._thread: threading.Thread | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_ready is not None:
            self.on_ready(self.url)

    async def serve_bound(self) -> None:
        await self.serve(sockets=[self.sock])

    def start_thread(self, timeout: float = 30.0) -> None:
        """Serve from a daemon thread; returns once it accepts connections."""
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.serve_bound()), name="agents-serve", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop a `start_thread` server and wait for it (the app closes its LLM)."""
        self.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()
