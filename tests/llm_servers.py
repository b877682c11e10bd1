"""Real HTTP servers on 127.0.0.1 that speak the OpenAI chat-completions and
Anthropic Messages wire formats, with scripted faults, for backend tests.

`state.replies` scripts answers (text and/or native tool calls, in the provider's wire
format). Requests are checked like the real APIs check tool use: a malformed tool
exchange (a tool call without its result, a result for an unknown call, an empty text
block, a tool schema in the wrong form) is answered with a 400 naming the problem."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    """What the server does for one request instead of answering normally."""

    status: int = 200
    body: str | None = None  # raw body; None means the normal JSON answer
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Reply:
    """A normal answer with chosen content. Each tool call is `{"name", "arguments"}`
    (arguments: an object, or a raw string sent as is, malformed on purpose) and an
    optional `id`; the server numbers the others."""

    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ServerState:
    provider: str
    faults: list[Fault] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)  # used in order, then echo answers
    requests: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0  # added to every request
    in_flight: int = 0
    peak_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        return len(self.requests)


def _answer_text(seq: int, body: dict[str, Any], i: int) -> str:
    """'answer SEQ.I to: LAST MESSAGE', SEQ counting requests from 1."""
    msgs = body.get("messages", [])
    last = msgs[-1]["content"] if msgs else ""
    if isinstance(last, list):
        last = " ".join(b.get("text", "") for b in last)
    return f"answer {seq}.{i} to: {last}"


def _call_id(prefix: str, seq: int, k: int, call: dict[str, Any]) -> str:
    return str(call.get("id") or f"{prefix}_{seq}_{k}")


def openai_message(seq: int, reply: Reply) -> tuple[dict[str, Any], str]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text}
    if not reply.tool_calls:
        return message, "stop"
    message["tool_calls"] = [
        {
            "id": _call_id("call", seq, k, c),
            "type": "function",
            "function": {
                "name": c["name"],
                "arguments": c["arguments"]
                if isinstance(c["arguments"], str)
                else json.dumps(c["arguments"]),
            },
        }
        for k, c in enumerate(reply.tool_calls)
    ]
    return message, "tool_calls"


def _logprobs(body: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI's `choices[i].logprobs`: one token per answer word, with `top_logprobs`
    alternatives ("alt0", "alt1", ...) when asked for."""
    if not body.get("logprobs"):
        return None
    top = int(body.get("top_logprobs") or 0)
    return {
        "content": [
            {
                "token": "answer",
                "logprob": -0.25,
                "bytes": None,
                "top_logprobs": [
                    {"token": f"alt{k}", "logprob": -0.25 - k, "bytes": None} for k in range(top)
                ],
            }
        ]
    }


def openai_body(seq: int, body: dict[str, Any], reply: Reply | None = None) -> dict[str, Any]:
    n = int(body.get("n") or 1)
    choices = []
    for i in range(n):
        if reply is None:
            message, finish = {"role": "assistant", "content": _answer_text(seq, body, i)}, "stop"
        else:
            message, finish = openai_message(seq, reply)
        choices.append(
            {"index": i, "message": message, "finish_reason": finish, "logprobs": _logprobs(body)}
        )
    return {
        "id": f"chatcmpl-{seq}",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", ""),
        "choices": choices,
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 10 * n,
            "total_tokens": 100 + 10 * n,
            "prompt_tokens_details": {"cached_tokens": 40},
        },
    }


def anthropic_body(seq: int, body: dict[str, Any], reply: Reply | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply is None:
        content.append({"type": "text", "text": _answer_text(seq, body, 0)})
    elif reply.text:
        content.append({"type": "text", "text": reply.text})
    for k, c in enumerate(reply.tool_calls if reply else []):
        content.append(
            {"type": "tool_use", "id": _call_id("toolu", seq, k, c), "name": c["name"],
             "input": c["arguments"]}
        )  # fmt: skip
    return {
        "id": f"msg_{seq}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": "tool_use" if reply and reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 60,
            "output_tokens": 10,
            "cache_read_input_tokens": 40,
            "cache_creation_input_tokens": 0,
        },
    }


def check_openai(body: dict[str, Any]) -> str | None:
    """What api.openai.com rejects in a tool exchange, or None."""
    for t in body.get("tools") or []:
        fn = t.get("function") if isinstance(t, dict) else None
        if t.get("type") != "function" or not isinstance(fn, dict) or "name" not in fn:
            return f"tools: expected {{'type': 'function', 'function': {{...}}}}, got {t!r:.80}"
    open_ids: list[str] = []
    for i, m in enumerate(body.get("messages", [])):
        if m.get("role") == "tool":
            if m.get("tool_call_id") not in open_ids:
                return (
                    f"messages.[{i}]: messages with role 'tool' must be a response to a "
                    "preceding message with 'tool_calls'"
                )
            open_ids.remove(m["tool_call_id"])
            continue
        if open_ids:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {', '.join(open_ids)}"
            )
        for c in m.get("tool_calls") or []:
            if c.get("type") != "function" or not isinstance(
                (c.get("function") or {}).get("arguments"), str
            ):
                return f"messages.[{i}].tool_calls: bad tool call {c!r:.80}"
            open_ids.append(c["id"])
    return None


def check_anthropic(body: dict[str, Any]) -> str | None:
    """What the Messages API rejects in a tool exchange, or None."""
    for t in body.get("tools") or []:
        if set(t) - {"name", "description", "input_schema", "cache_control"} or "name" not in t:
            return f"tools: expected {{name, description, input_schema}}, got {t!r:.80}"
    open_ids: list[str] = []
    for i, m in enumerate(body.get("messages", [])):
        blocks = m["content"] if isinstance(m["content"], list) else []
        results = [b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"]
        if open_ids and sorted(results) != sorted(open_ids):
            return (
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(sorted(set(open_ids) - set(results)))}"
            )
        if results and not open_ids:
            return f"messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks"
        if results and blocks[0].get("type") != "tool_result":
            return f"messages.{i}: tool_result blocks must come first in the content"
        for b in blocks:
            if b.get("type") == "text" and not b.get("text"):
                return f"messages.{i}: text content blocks must be non-empty"
            if b.get("type") == "tool_use" and not isinstance(b.get("input"), dict):
                return f"messages.{i}: tool_use.input: Input should be a valid dictionary"
        open_ids = [b["id"] for b in blocks if b.get("type") == "tool_use"]
    return None


def _handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._send(200, json.dumps({"object": "list", "data": []}))

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with state.lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                seq = len(state.requests)
                fault = state.faults.pop(0) if state.faults else Fault()
                problem = (check_openai if state.provider == "openai" else check_anthropic)(body)
                reply = state.replies.pop(0) if state.replies and not problem else None
                state.in_flight += 1
                state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
            try:
                time.sleep(state.delay + fault.delay)
                if fault.body is not None or fault.status != 200:
                    text = (
                        fault.body
                        if fault.body is not None
                        else json.dumps(
                            {"error": {"type": "error", "message": f"scripted {fault.status}"}}
                        )
                    )
                    self._send(fault.status, text, fault.headers)
                    return
                if problem:
                    error = {"type": "invalid_request_error", "message": problem}
                    self._send(400, json.dumps({"type": "error", "error": error}))
                    return
                make = openai_body if state.provider == "openai" else anthropic_body
                self._send(200, json.dumps(make(seq, body, reply)), fault.headers)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

    return Handler


@contextmanager
def serve(provider: str) -> Iterator[tuple[str, ServerState]]:
    """Yields (base_url, state) for a server speaking `provider`'s wire format."""
    state = ServerState(provider)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    base = f"http://{host}:{port}" + ("/v1" if provider == "openai" else "")
    try:
        yield base, state
    finally:
        server.shutdown()
        server.server_close()
