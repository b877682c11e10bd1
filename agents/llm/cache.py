"""A persistent response cache (sqlite) around any backend.

Key = what answers (`LLM.cache_identity`: provider, model, endpoint URL or weight
files) + every field of the request but n (messages, sampling parameters, tools).
Each sample is stored under its own index: the k-th identical request made in
a run gets samples [k*n, (k+1)*n) when temperature > 0, so a tree search that
asks the same prompt twice still sees fresh siblings, and a rerun of the same
program is served the very same samples in the same order.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from agents.llm.types import LLM, Completion, Request, TokenLogprob, ToolCall, Usage, Wrapper


def default_cache_dir() -> Path:
    root = os.environ.get("AGENTS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "agents-search"
    )
    return Path(root)


def request_key(model: str, request: Request) -> str:
    """`model` (the backend's `cache_identity`) and every field of the request but `n`
    (samples are stored one by one): a field added to `Request` is in the key at once."""
    payload: dict[str, Any] = {"model": model}
    payload.update({f.name: getattr(request, f.name) for f in fields(request) if f.name != "n"})
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """sqlite table (key, sample index) -> completion JSON. Safe across threads."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS completions ("
            " key TEXT NOT NULL, idx INTEGER NOT NULL, value TEXT NOT NULL,"
            " PRIMARY KEY (key, idx))"
        )
        self._db.commit()

    def get(self, key: str, indices: range) -> dict[int, Completion]:
        with self._lock:
            rows = self._db.execute(
                "SELECT idx, value FROM completions WHERE key = ? AND idx >= ? AND idx < ?",
                (key, indices.start, indices.stop),
            ).fetchall()
        return {idx: _decode(value) for idx, value in rows}

    def put(self, key: str, items: dict[int, Completion]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO completions (key, idx, value) VALUES (?, ?, ?)",
                [(key, idx, _encode(c)) for idx, c in items.items()],
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _encode(c: Completion) -> str:
    return json.dumps(asdict(c), ensure_ascii=False)


def _decode(value: str) -> Completion:
    d = json.loads(value)
    d["usage"] = Usage(**d["usage"])
    if d.get("logprobs") is not None:
        d["logprobs"] = tuple(_token(t) for t in d["logprobs"])
    d["tool_calls"] = tuple(ToolCall(**t) for t in d.get("tool_calls") or ())
    return Completion(**d)


def _token(d: dict[str, Any]) -> TokenLogprob:
    top = tuple(_token(t) for t in d.get("top_logprobs") or ())
    return TokenLogprob(d["token"], d["logprob"], top)


class CachedLLM(Wrapper):
    """Serves repeated requests from a `ResponseCache`; only missing samples are sent."""

    def __init__(self, inner: LLM, cache: ResponseCache, model_key: str | None = None):
        super().__init__(inner)
        self.cache = cache
        # What answers (endpoint URL, weight files), not only the model's name.
        self.model_key = model_key or inner.cache_identity()
        self._occurrences: dict[str, int] = {}
        self._lock = threading.Lock()

    def _indices(self, key: str, request: Request) -> range:
        if request.temperature == 0:
            return range(request.n)
        with self._lock:
            start = self._occurrences.get(key, 0)
            self._occurrences[key] = start + request.n
        return range(start, start + request.n)

    async def _complete(self, request: Request) -> list[Completion]:
        key = request_key(self.model_key, request)
        indices = self._indices(key, request)
        found = self.cache.get(key, indices)
        missing = [i for i in indices if i not in found]
        if missing:
            fresh_request = Request(**{**request.__dict__, "n": len(missing)})
            fresh = await self.inner.complete_request(fresh_request)
            new = {i: c.with_(index=i) for i, c in zip(missing, fresh, strict=False)}
            self.cache.put(key, new)
            found.update(new)
        hits = set(indices) - set(missing)
        out = []
        for pos, i in enumerate(indices):
            c = found[i]
            if i in hits:
                c = c.with_(from_cache=True)
            out.append(c.with_(index=pos))
        return out

    async def aclose(self) -> None:
        await self.inner.aclose()
