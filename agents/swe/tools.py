"""Repository tools executed inside a `sandboxes.Sandbox` (docs/methods.md section 3).

`RepoTools(sandbox, test_cmd).run(action)` returns an `Observation`: the text the model
reads (capped), whether the tool worked, and for run_tests the pass/fail counts that
SWE-Search's value uses as evidence. Nothing here raises for a bad argument: the error
is the observation, so the model can correct itself.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from agents.swe.actions import Action
from foundation.errors import one_line
from sandboxes import ExecResult, Sandbox, SandboxError, UnsafePath

OUTPUT_CAP = 2000  # characters of tool output the model sees (head and tail kept)


@dataclass(frozen=True)
class Observation:
    text: str
    ok: bool = True
    tests: tuple[int, int] | None = None  # (passed, failed) of a run_tests call
    patch: str | None = None  # set by finish

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "ok": self.ok, "tests": self.tests, "patch": self.patch}


def cap(text: str, limit: int = OUTPUT_CAP) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut] ...\n{text[-half:]}"


_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors)\b")
_UNITTEST = re.compile(r"Ran (\d+) tests?.*?\n\s*(OK|FAILED)(?: \((.*?)\))?", re.S)


def count_tests(output: str) -> tuple[int, int] | None:
    """(passed, failed) from pytest's or unittest's summary line, None when absent."""
    found = {k: int(n) for n, k in _SUMMARY.findall(output.splitlines()[-1] if output else "")}
    if not found:
        tail = "\n".join(output.splitlines()[-5:])
        found = {k: int(n) for n, k in _SUMMARY.findall(tail)}
    if found:
        failed = found.get("failed", 0) + found.get("error", 0) + found.get("errors", 0)
        return found.get("passed", 0), failed
    m = _UNITTEST.search(output)
    if m:
        ran = int(m.group(1))
        failed = sum(int(n) for n in re.findall(r"=(\d+)", m.group(3) or ""))
        return ran - failed, failed
    return None


class RepoTools:
    """The agent's tools on one sandbox. `test_cmd` runs the tests from the repo root."""

    def __init__(
        self, sandbox: Sandbox, test_cmd: str = "python -m pytest -q", timeout: float = 300
    ) -> None:
        self.sb = sandbox
        self.test_cmd = test_cmd
        self.timeout = timeout
        self._index: Any = None  # a bm25s.BM25 (untyped library), built on the first search
        self._chunk_cache: list[tuple[str, int, str]] | None = None

    def run(self, action: Action) -> Observation:
        handler = getattr(self, f"_{action.tool}", None)
        if handler is None:
            return Observation(f"error: unknown tool {action.tool}", ok=False)
        try:
            obs: Observation = handler(**dict(action.args))
        except UnicodeDecodeError:
            return Observation("error: not a text file", ok=False)
        except UnsafePath as exc:  # a symlink, FIFO or path out of the repository
            return Observation(f"error: {one_line(exc)}", ok=False)
        except SandboxError:
            raise  # the sandbox itself failed: the instance ends, with the reason recorded
        except Exception as exc:  # FileExistsError, IsADirectoryError, ...: the model's to fix
            return Observation(f"error: {type(exc).__name__}: {one_line(exc)}", ok=False)
        return obs

    # ------------------------------------------------------------------ helpers

    def _sh(self, cmd: str, timeout: float = 60) -> ExecResult:
        return self.sb.exec(cmd, timeout=timeout)

    def _read(self, path: str) -> str | None:
        r = self._sh(f"cat -- {shlex.quote(path)}")
        return r.stdout if r.exit_code == 0 else None

    def _grep(self, pattern: str, fixed: bool) -> Observation:
        flag = "-F" if fixed else "-E"
        r = self._sh(f"git grep -n -I {flag} -e {shlex.quote(pattern)} -- '*.py' | head -n 40")
        if not r.stdout.strip():
            return Observation(f"no match for {pattern!r}", ok=False)
        return Observation(cap(r.stdout))

    def python_files(self) -> list[str]:
        r = self._sh("git ls-files -co --exclude-standard -- '*.py'")
        return [f for f in r.stdout.splitlines() if f]

    def diff(self) -> str:
        """The working tree's changes against HEAD, new files included (caches excluded)."""
        new = self._sh("git ls-files -o --exclude-standard").stdout.split()
        keep = [
            f for f in new if "__pycache__" not in f and not f.endswith((".pyc", ".orig", ".rej"))
        ]
        if keep:
            self._sh("git add -N -- " + " ".join(shlex.quote(f) for f in keep))
        r = self._sh("git diff --no-color --no-ext-diff HEAD -- . ':(exclude)*.pyc'")
        return r.stdout

    # -------------------------------------------------------------------- tools

    def _find_class(self, name: str) -> Observation:
        return self._grep(rf"^\s*class {re.escape(name)}\b", fixed=False)

    def _find_function(self, name: str) -> Observation:
        return self._grep(rf"^\s*(async\s+)?def {re.escape(name)}\b", fixed=False)

    def _find_code(self, snippet: str) -> Observation:
        return self._grep(snippet, fixed=True)

    def _search(self, query: str, k: int = 5) -> Observation:
        chunks = self._chunks()
        if not chunks:
            return Observation("no Python files to search", ok=False)
        import bm25s

        if self._index is None:
            self._index = bm25s.BM25()
            self._index.index(
                bm25s.tokenize([c[2] for c in chunks], show_progress=False), show_progress=False
            )
        tokens = bm25s.tokenize([query], show_progress=False)
        if not tokens.vocab:
            return Observation("the query has no searchable words", ok=False)
        ids, scores = self._index.retrieve(tokens, k=min(k, len(chunks)), show_progress=False)
        out = []
        for i, s in zip(ids[0], scores[0], strict=True):
            if s <= 0:
                continue
            path, start, text = chunks[int(i)]
            code = [ln.strip() for ln in text.splitlines()[1:] if ln.strip()]
            words = set(query.lower().split())
            hit = next((ln for ln in code if words & set(re.findall(r"\w+", ln.lower()))), "")
            first = (hit or (code[0] if code else ""))[:80]
            out.append(f"{path}:{start}: {first}")
        return Observation("\n".join(out) or f"no match for {query!r}", ok=bool(out))

    def _chunks(self, size: int = 40) -> list[tuple[str, int, str]]:
        """Code chunks (path, first line, text) of `size` lines, indexed once per sandbox."""
        if self._chunk_cache is None:
            chunks = []
            for path in self.python_files():
                text = self._read(path) or ""
                lines = text.splitlines()
                for s in range(0, len(lines), size):
                    chunks.append((path, s + 1, f"{path}\n" + "\n".join(lines[s : s + size])))
            self._chunk_cache = chunks
        return self._chunk_cache

    def _view_file(self, path: str, start: int = 1, end: int | None = None) -> Observation:
        text = self._read(path)
        if text is None:
            return Observation(f"error: no such file {path}", ok=False)
        lines = text.splitlines()
        start = max(1, start)
        end = min(len(lines), end if end is not None else start + 99)
        if start > len(lines):
            return Observation(f"error: {path} has {len(lines)} lines", ok=False)
        body = "\n".join(f"{i:5d}  {lines[i - 1]}" for i in range(start, end + 1))
        return Observation(cap(f"{path} lines {start}-{end} of {len(lines)}\n{body}", 6000))

    def _str_replace(self, path: str, old: str, new: str) -> Observation:
        text = self._read(path)
        if text is None:
            return Observation(f"error: no such file {path}", ok=False)
        if old == "":
            return Observation("error: old is empty; give the exact text to replace", ok=False)
        n = text.count(old)
        if n == 0:
            hint = ""
            first = old.strip().splitlines()[0].strip() if old.strip() else ""
            lines = [i + 1 for i, ln in enumerate(text.splitlines()) if first and first in ln]
            if lines:
                hint = f" (its first line occurs at line {', '.join(map(str, lines[:5]))}: check indentation)"
            return Observation(f"error: old text not found in {path}{hint}", ok=False)
        if n > 1:
            return Observation(
                f"error: old text occurs {n} times in {path}; include more lines to make it unique",
                ok=False,
            )
        self.sb.write_file(path, text.replace(old, new, 1))
        at = text[: text.index(old)].count("\n") + 1
        return Observation(f"replaced {len(old.splitlines())} line(s) at line {at} of {path}")

    def _create_file(self, path: str, content: str) -> Observation:
        if path.startswith("/") or ".." in path.split("/"):
            return Observation("error: give a path inside the repository", ok=False)
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if parent:
            self._sh(f"mkdir -p {shlex.quote(parent)}")
        self.sb.write_file(path, content if content.endswith("\n") else content + "\n")
        return Observation(f"created {path} ({len(content.splitlines())} lines)")

    def _run_tests(self, target: str = "") -> Observation:
        cmd = f"{self.test_cmd} {shlex.quote(target)}" if target.strip() else self.test_cmd
        r = self._sh(cmd, timeout=self.timeout)
        out = (r.stdout + ("\n" + r.stderr if r.stderr.strip() else "")).strip()
        counts = count_tests(out)
        status = "timed out" if r.timed_out else f"exit {r.exit_code}"
        summary = f"{status}; {counts[0]} passed, {counts[1]} failed" if counts else status
        return Observation(f"{summary}\n{cap(out)}", ok=r.ok, tests=counts)

    def _finish(self) -> Observation:
        patch = self.diff()
        if not patch.strip():
            return Observation("finished with no changes (empty patch)", patch="")
        return Observation(f"finished; patch of {len(patch.splitlines())} lines", patch=patch)

    def _reject(self, reason: str = "") -> Observation:
        return Observation(f"rejected: {reason}".strip(), patch="")
