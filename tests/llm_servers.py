"""Real HTTP servers on 127.0.0.1 that speak the OpenAI chat-completions and
Anthropic Messages wire formats, with scripted faults, for backend tests."""

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
class ServerState:
    provider: str
    faults: list[Fault] = field(default_factory=list)
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


def openai_body(seq: int, body: dict[str, Any]) -> dict[str, Any]:
    n = int(body.get("n") or 1)
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": _answer_text(seq, body, i)},
            "finish_reason": "stop",
            "logprobs": None,
        }
        for i in range(n)
    ]
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


def anthropic_body(seq: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"msg_{seq}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": [{"type": "text", "text": _answer_text(seq, body, 0)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 60,
            "output_tokens": 10,
            "cache_read_input_tokens": 40,
            "cache_creation_input_tokens": 0,
        },
    }


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
                make = openai_body if state.provider == "openai" else anthropic_body
                self._send(200, json.dumps(make(seq, body)), fault.headers)
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
