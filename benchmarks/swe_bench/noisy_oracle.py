"""A noisy oracle model for SWE-bench instances: the model's reliability as a knob.

    agents solve --task swe-bench -m "oracle:swe,p=0.7,q=0.1,seed=0" --sandbox local
    agents solve --task swe-bench -m "oracle:swe,p=0.7" --search mcts --sandbox local

It knows each instance's gold patch and speaks our LLM protocol in the plain-text action
format (THOUGHT/ACTION, agents.swe.actions; no native tool calls), so every agent uses it
unchanged. What it answers depends on the prompt it recognises:

- the action prompt (its system message starts with `agents.swe.prompts.SYSTEM`; linear
  ReAct and SWE-Search's expansions): with probability `p` the correct next action toward
  the gold patch (view the gold file at the hunk, apply each gold hunk as a `str_replace`,
  or `create_file` for a new file, then `finish`), else a plausible wrong one, its kind
  drawn uniformly among those available: view a wrong file (or a far region of the right
  one), a wrong edit (the right region edited so that it does not fix, `N`: a comment
  added; or so that it breaks, `B`: the gold lines with one operator flipped; or a
  harmless comment added in a wrong file), or a premature `finish`;
- the value prompt (its system message is `agents.swe.prompts.JUDGE`; SWE-Search's
  judge): from the TRUE diff in the prompt, whether it contains the gold change (every
  gold added and removed line, per file), flipped with probability `q`: value +80 or -80.
- mini-swe-agent's text-based prompt (a ```mswea_bash_command block per answer): the same
  plan and p, each action one bash command (benchmarks/swe_bench/noisy_oracle_bash.py);
- a discriminator (choosing among final patches): SWE-Search here picks the final patch
  by best mean value (agents/graphs/swe_search.py, no model call), so there is no prompt
  for it; `NoisySweOracle.choose_patch` answers that question with the same `q` for a
  discriminator that asks a model.

The instance is recognised by its problem statement (both prompts hold "Issue:\\n" and the
statement's start). The prompt shows only the last steps in full, so each answer ends its
THOUGHT with a tag of the repository's state before the action, `[oracle s=STEP
st=REGIONS/VIEWED]` (one letter per gold hunk: O original, G gold, N no-fix, B broken;
one 0/1 per gold file: read yet); the next answer reads the last tag, applies that action
unless its observation was an error, and so knows the state after any number of steps.

Seeded and deterministic: each sample's randomness is a hash of (seed, instance id, prompt
kind, steps so far, sample index, temperature, the whole conversation), so several
workers and resumed runs get the same answers; with n > 1 each sample draws on its own; a
resample at a higher temperature draws anew. One exception, as a sampling model behaves:
SWE-Search asks for a node's children one call at a time (n=1) with the same prompt, at
temperature 0.7 once siblings were judged, and asks again when an answer repeats a
sibling; so at temperature > 0 the k-th identical request of this process gets sample
indices from k * n on (at temperature 0 the answer is a function of the prompt, as greedy
decoding is). The linear agent never repeats a request; a SWE-Search resumed after a kill
is served its earlier answers by its journal, and its new requests count from 0 again.

The repository's bundled snapshot (swe-mini) gives the wrong files to view and edit and
makes each hunk's `old` text unique in its file; without one, the wrong views are the
test files of `test_patch` and wrong edits stay in the gold regions.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import tarfile
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.llm import BaseLLM, Completion, LLMError, ModelSpecError, Request, Usage
from agents.swe.actions import Action, ActionParseError, format_action, make_action, parse_action
from agents.swe.prompts import JUDGE, SYSTEM
from foundation.errors import ConfigError

SPEC = "oracle:swe"
"""`oracle:swe[,p=P][,q=Q][,seed=S]`."""
VALUE = 80
"""The judge's value for "fixed" (and minus it for "not fixed")."""
JUDGES = ("binary", "graded")
ORIGINAL, GOLD, NOFIX, BROKEN = "O", "G", "N", "B"
VIEW_BEFORE = 10
"""The correct view starts this many lines above the hunk."""
WRONG_FILE_EDITS = 3
"""Wrong files offered for a harmless wrong edit (from the snapshot)."""


# ----------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class NoisyOracleConfig:
    p: float = 1.0
    """Probability that a proposed action is the correct next one."""
    q: float = 0.0
    """Probability that a value (or a discriminator's pick) is flipped."""
    seed: int = 0
    judge: str = "binary"
    """The value's shape: "binary" (+80 fixed, -80 not) or "graded" (`GoldScript.progress`:
    how much of the way to the gold patch the trajectory has come, -80..+80)."""

    def __post_init__(self) -> None:
        for name in ("p", "q"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}={value} must be within 0..1")
        if self.judge not in JUDGES:
            raise ConfigError(f"judge={self.judge} must be one of {', '.join(JUDGES)}")

    @property
    def spec(self) -> str:
        graded = "" if self.judge == "binary" else f",judge={self.judge}"
        return f"{SPEC},p={self.p:g},q={self.q:g},seed={self.seed}{graded}"


def is_oracle_spec(spec: str) -> bool:
    return spec == SPEC or spec.startswith(SPEC + ",")


def parse_oracle_spec(spec: str) -> NoisyOracleConfig:
    """`oracle:swe,p=0.7,q=0.1,seed=0` -> its config (keys as in `games.spec`)."""
    from games.spec import BotSpec, spec_config, split_spec

    if not is_oracle_spec(spec):
        raise ModelSpecError(f"{spec!r} is not an {SPEC}[,p=P][,q=Q][,seed=S] spec")
    try:
        options = split_spec("x:" + spec[len(SPEC) :].lstrip(",")).options
        return spec_config(BotSpec(SPEC, options), NoisyOracleConfig)
    except ValueError as exc:
        raise ModelSpecError(f"{exc} (in {spec!r})") from None


def oracle_for_spec(
    spec: str, instances: Sequence[Mapping[str, Any]] | None = None
) -> NoisySweOracle | None:
    """The oracle of an `oracle:swe,...` spec over `instances` (default: swe-mini); None
    for any other spec. What `agents solve --task swe-bench` calls."""
    if not is_oracle_spec(spec):
        return None
    return NoisySweOracle(parse_oracle_spec(spec), instances)


# ----------------------------------------------------------------- unified diffs


@dataclass
class Hunk:
    old_start: int
    new_start: int
    lines: list[tuple[str, str]] = field(default_factory=list)  # (" " | "-" | "+", text)


@dataclass
class FilePatch:
    path: str
    new_file: bool = False
    deleted: bool = False
    binary: bool = False
    hunks: list[Hunk] = field(default_factory=list)


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def parse_patch(patch: str) -> list[FilePatch]:
    """The files and hunks of a git diff; a truncated last hunk keeps what it has."""
    files: list[FilePatch] = []
    lines = patch.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("diff --git "):
            m = re.match(r"diff --git a/(.*) b/(.*)$", line)
            files.append(FilePatch(m.group(2) if m else line.split()[-1].removeprefix("b/")))
            continue
        if not files:
            continue
        fp = files[-1]
        if line.startswith("new file mode"):
            fp.new_file = True
        elif line.startswith("deleted file mode"):
            fp.deleted = True
        elif line.startswith(("Binary files", "GIT binary patch")):
            fp.binary = True
        elif line.startswith("+++ ") and line[4:] != "/dev/null":
            fp.path = line[4:].removeprefix("b/")
        elif (m := _HUNK.match(line)) is not None:
            old_left = int(m.group(2) or 1)
            new_left = int(m.group(4) or 1)
            hunk = Hunk(int(m.group(1)), int(m.group(3)))
            while i < len(lines) and (old_left > 0 or new_left > 0):
                body = lines[i]
                if body.startswith("\\"):  # "\ No newline at end of file"
                    i += 1
                    continue
                tag = body[:1] if body[:1] in (" ", "-", "+") else " "
                if body and tag == " " and body[:1] != " ":
                    break  # not a hunk line: the hunk was cut short
                hunk.lines.append((tag, body[1:]))
                old_left -= tag != "+"
                new_left -= tag != "-"
                i += 1
            fp.hunks.append(hunk)
    return files


def changed_lines(patch: str) -> dict[str, tuple[Counter[str], Counter[str]]]:
    """Per file: (removed lines, added lines) of a diff, as multisets."""
    out: dict[str, tuple[Counter[str], Counter[str]]] = {}
    for fp in parse_patch(patch):
        removed, added = out.setdefault(fp.path, (Counter(), Counter()))
        for hunk in fp.hunks:
            removed.update(t for tag, t in hunk.lines if tag == "-")
            added.update(t for tag, t in hunk.lines if tag == "+")
    return out


# ----------------------------------------------------------- the instance's script


@dataclass(frozen=True)
class Region:
    """One gold hunk, in its four forms: O (before), G (gold), N (edited, no fix), B
    (broken); texts without a trailing newline, as the plain-text format carries them."""

    path: str
    line: int
    new_file: bool
    texts: Mapping[str, str]
    minus: tuple[str, ...]
    plus: tuple[str, ...]


@dataclass(frozen=True)
class OracleState:
    regions: str  # one of O G N B per region
    viewed: str  # one 0/1 per gold file

    def tag(self, step: int) -> str:
        return f"[oracle s={step} st={self.regions}/{self.viewed}]"


_VIEWED = re.compile(r'^ACTION view_file \{"path": "([^"]+)"', re.MULTILINE)
"""A file the judge prompt's steps read (agents.swe.prompts.judge_messages)."""
_TAG = re.compile(r"\[oracle s=(\d+) st=([OGNB]*)/([01]*)\]")

_MUTATIONS: tuple[tuple[str, str], ...] = (
    (r" == ", " != "), (r" != ", " == "), (r" is not ", " is "), (r" is ", " is not "),
    (r" not in ", " in "), (r"^(\s*(?:if|elif|while)\b.*?) in ", r"\1 not in "),
    (r" <= ", " < "), (r" >= ", " > "), (r" < ", " <= "), (r" > ", " >= "),
    (r"\bTrue\b", "False"), (r"\bFalse\b", "True"), (r" \+ 1\b", " - 1"), (r" - 1\b", " + 1"),
    (r" and ", " or "), (r" or ", " and "), (r"except \((\w+), ", "except ("),
    (r"\breturn (?!None\b)\S.*$", "return None"), (r"\bnot ", ""),
)  # fmt: skip
"""Operator flips for the broken variant B (in this order of preference)."""


def _code_end(line: str) -> int:
    """Where the code of a line ends: at a `#` outside quotes (else the line's end)."""
    quote = ""
    for k, ch in enumerate(line):
        if quote:
            if ch == quote and line[k - 1] != "\\":
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return k
    return len(line)


def _mutations(line: str) -> list[str]:
    """The line with one operator flipped, for each flip that applies to its code."""
    code = line.strip()
    if not code or code.startswith(("#", '"""', "'''")):
        return []
    end = _code_end(line)
    out = []
    for pattern, repl in _MUTATIONS:
        flipped = re.sub(pattern, repl, line[:end], count=1)
        if flipped != line[:end]:
            out.append(flipped + line[end:])
    return out


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _variants(hunk_lines: list[tuple[str, str]]) -> tuple[list[str], list[str] | None]:
    """(N, B) as line lists. N (no fix): the old side with a comment where the change goes.
    B (broken): the gold side with one added line's operator flipped, else the old side
    with one removed line's flipped (never the gold text), else the gold side without its
    last added line; None when none of these applies."""
    old = [t for tag, t in hunk_lines if tag != "+"]
    new = [t for tag, t in hunk_lines if tag != "-"]
    at = next((k for k, (tag, _) in enumerate(hunk_lines) if tag != " "), 0)
    pos = sum(1 for tag, _ in hunk_lines[:at] if tag != "+")
    ref = old[pos] if pos < len(old) and old[pos].strip() else (old[pos - 1] if pos else "")
    nofix = [*old[:pos], f"{_indent(ref)}# TODO: handle the case from the issue", *old[pos:]]
    for side, keep in (("+", new), ("-", old)):
        k = 0
        for tag, text in hunk_lines:
            if tag == side:
                for flipped in _mutations(text):
                    broken = [*keep[:k], flipped, *keep[k + 1 :]]
                    if broken not in (old, new):
                        return nofix, broken
            k += tag in (" ", side)
    added = [k for k, (tag, t) in enumerate(hunk_lines) if tag == "+" and t.strip()]
    if len(added) >= 2:
        drop = sum(1 for tag, _ in hunk_lines[: added[-1]] if tag != "-")
        return nofix, new[:drop] + new[drop + 1 :]
    return nofix, None


@dataclass(frozen=True)
class GoldScript:
    """What the oracle knows of one instance: its gold regions, the correct plan from any
    state, the wrong actions it may take instead, and the truth about a diff."""

    instance_id: str
    files: tuple[str, ...]
    regions: tuple[Region, ...]
    wrong_views: tuple[Action, ...]
    wrong_file_edits: tuple[Action, ...]

    @classmethod
    def build(cls, instance: Mapping[str, Any]) -> GoldScript:
        iid = str(instance["instance_id"])
        gold = parse_patch(str(instance["patch"]))
        tests = parse_patch(str(instance.get("test_patch") or ""))
        snapshot = _snapshot(instance)
        regions: list[Region] = []
        for fp in gold:
            if fp.deleted or fp.binary:
                continue  # the tools cannot delete a file or write a binary one
            fixed = snapshot.get(fp.path)
            base = _base_text(fixed, fp)
            for hunk in fp.hunks:
                regions.append(_region(fp, hunk, base, fixed if base is not None else None))
        if not regions:
            raise ModelSpecError(f"{iid}: the gold patch has no change the agent's tools can make")
        files = tuple(dict.fromkeys(r.path for r in regions))
        gold_paths = {fp.path for fp in gold}
        test_paths = {fp.path for fp in tests}
        views: list[Action] = []
        edits: list[Action] = []
        if snapshot:
            for path in sorted(p for p in snapshot if p.endswith(".py") and p not in gold_paths):
                views.append(make_action("view_file", {"path": path}))
                testy = path in test_paths or re.search(r"(^|/)(tests?/|test_)", path)
                if not testy and len(edits) < WRONG_FILE_EDITS:
                    edit = _comment_edit(path, snapshot[path])
                    if edit is not None:
                        edits.append(edit)
            for path in files:  # the right file, far from every hunk
                far = _far_start(snapshot.get(path), [r.line for r in regions if r.path == path])
                if far is not None:
                    views.append(make_action("view_file", {"path": path, "start": far}))
        else:
            views = [
                make_action("view_file", {"path": fp.path})
                for fp in tests
                if not fp.new_file and fp.path not in gold_paths
            ]
        return cls(iid, files, tuple(regions), tuple(views), tuple(edits))

    def initial(self) -> OracleState:
        viewed = "".join("0" if self._needs_view(f) else "1" for f in self.files)
        return OracleState(ORIGINAL * len(self.regions), viewed)

    def _needs_view(self, path: str) -> bool:
        return any(r.path == path and not r.new_file for r in self.regions)

    def edit(self, k: int, source: str, target: str) -> Action:
        r = self.regions[k]
        if r.new_file:
            return make_action("create_file", {"path": r.path, "content": r.texts[target]})
        old, new = r.texts[source], r.texts[target]
        return make_action("str_replace", {"path": r.path, "old": old, "new": new})

    def view(self, k: int) -> Action:
        r = self.regions[k]
        return make_action("view_file", {"path": r.path, "start": max(1, r.line - VIEW_BEFORE)})

    def correct(self, state: OracleState) -> Action:
        """The next action of the gold plan from `state`: read the file, edit, finish."""
        for k, r in enumerate(self.regions):
            s = state.regions[k]
            if s == GOLD:
                continue
            if not r.new_file and state.viewed[self.files.index(r.path)] == "0":
                return self.view(k)
            return self.edit(k, s, GOLD)
        return make_action("finish", {})

    def wrong(self, state: OracleState) -> dict[str, list[Action]]:
        """The plausible wrong actions from `state`, by kind (kinds with none left out)."""
        edits = []
        for k, r in enumerate(self.regions):
            s = state.regions[k]
            for target in (NOFIX, BROKEN):
                if target != s and target in r.texts:
                    edits.append(self.edit(k, s, target))
        edits.extend(self.wrong_file_edits)
        kinds = {
            "view": list(self.wrong_views),
            "edit": edits,
            "submit": [make_action("finish", {})]
            if GOLD * len(self.regions) != state.regions
            else [],
        }
        good = self.correct(state)
        return {kind: [a for a in acts if a != good] for kind, acts in kinds.items() if acts}

    def after(self, state: OracleState, action: Action) -> OracleState:
        """The state once `action` ran (successfully) from `state`."""
        regions, viewed = list(state.regions), list(state.viewed)
        path = str(action.arg("path", ""))
        if action.tool == "view_file" and path in self.files:
            start = int(action.arg("start", 1))
            end = int(action.arg("end", start + 99))
            if any(r.path == path and start <= r.line <= end for r in self.regions):
                viewed[self.files.index(path)] = "1"
        elif action.tool == "str_replace":
            old, new = action.arg("old"), action.arg("new")
            for k, r in enumerate(self.regions):
                if r.path == path and not r.new_file and r.texts.get(regions[k]) == old:
                    target = next((t for t, text in r.texts.items() if text == new), None)
                    if target is not None and target != ORIGINAL:
                        regions[k] = target
                        break
        elif action.tool == "create_file":
            content = str(action.arg("content", "")).rstrip("\n")
            for k, r in enumerate(self.regions):
                if r.path == path and r.new_file:
                    target = next(
                        (t for t, x in r.texts.items() if x.rstrip("\n") == content), None
                    )
                    regions[k] = target or BROKEN
        return OracleState("".join(regions), "".join(viewed))

    def progress(self, diff: str, viewed: set[str]) -> float:
        """0..1, how far a trajectory is toward the gold patch: one unit per gold file read
        (`viewed`, or edited) and per gold hunk made (its removed lines gone and its added
        lines present in `diff`), minus a unit per changed line no gold hunk has (wrong or
        broken edits); 1 only when `fixed(diff)`."""
        if self.fixed(diff):
            return 1.0
        have = changed_lines(diff)
        units = len(self.files) + len(self.regions)
        got = sum(1 for f in self.files if f in viewed or f in have)
        for r in self.regions:
            removed, added = have.get(r.path, (Counter(), Counter()))
            got += not (Counter(r.minus) - removed) and not (Counter(r.plus) - added)
        gold_minus = Counter(t for r in self.regions for t in r.minus)
        gold_plus = Counter(t for r in self.regions for t in r.plus)
        for _, (removed, added) in have.items():
            got -= sum((removed - gold_minus).values()) + sum((added - gold_plus).values())
        return max(0.0, min(got / (units + 1), 1.0))  # short of 1 until fixed

    def fixed(self, diff: str) -> bool:
        """Whether `diff` contains the gold change: each gold file's removed and added
        lines among the diff's (as multisets)."""
        have = changed_lines(diff)
        for path in self.files:
            removed, added = have.get(path, (Counter(), Counter()))
            regions = [r for r in self.regions if r.path == path]
            if Counter(t for r in regions for t in r.minus) - removed:
                return False
            if Counter(t for r in regions for t in r.plus) - added:
                return False
        return True


def _region(fp: FilePatch, hunk: Hunk, base: str | None, fixed: str | None) -> Region:
    lines = list(hunk.lines)
    if fp.new_file:
        content = [t for tag, t in lines if tag == "+"]
        nofix = ["# TODO: handle the case from the issue"]
        _, broken = _variants(lines)
        texts = {GOLD: "\n".join(content), NOFIX: "\n".join(nofix)}
        if broken is not None and broken != content:
            texts[BROKEN] = "\n".join(broken)
        return Region(fp.path, 1, True, texts, (), tuple(content))
    if base is not None:
        lines = _unique(lines, base, fixed, hunk.old_start)
    old = [t for tag, t in lines if tag != "+"]
    new = [t for tag, t in lines if tag != "-"]
    nofix, broken = _variants(lines)
    texts = {ORIGINAL: "\n".join(old), GOLD: "\n".join(new), NOFIX: "\n".join(nofix)}
    if broken is not None and "\n".join(broken) not in texts.values():
        texts[BROKEN] = "\n".join(broken)
    minus = tuple(t for tag, t in hunk.lines if tag == "-")
    plus = tuple(t for tag, t in hunk.lines if tag == "+")
    return Region(fp.path, hunk.old_start, False, texts, minus, plus)


def _unique(
    lines: list[tuple[str, str]], base: str, fixed: str | None, start: int
) -> list[tuple[str, str]]:
    """The hunk with more context lines from `base` until its old side occurs once in the
    file at base and its gold side once in the fixed file (`fixed`, when known): so that
    `str_replace` finds each (some gold code also occurs elsewhere in its file)."""

    def unique(hunk: list[tuple[str, str]]) -> bool:
        old = "\n".join(t for tag, t in hunk if tag != "+")
        new = "\n".join(t for tag, t in hunk if tag != "-")
        return base.count(old) == 1 and (fixed is None or fixed.count(new) == 1)

    if unique(lines):
        return lines
    base_lines = base.splitlines()
    n_old = sum(1 for tag, _ in lines if tag != "+")
    before, after = start - 2, start - 1 + n_old  # 0-based indices around the hunk
    out = list(lines)
    for k in range(40):
        if (k % 2 == 0 or before < 0) and after < len(base_lines):
            out.append((" ", base_lines[after]))
            after += 1
        elif before >= 0:
            out.insert(0, (" ", base_lines[before]))
            before -= 1
        else:
            break
        if unique(out):
            return out
    return lines


def _snapshot(instance: Mapping[str, Any]) -> dict[str, str]:
    """The bundled snapshot's text files (`path -> text`), {} when there is none."""
    from benchmarks.swe_bench.repos import snapshot_path

    repo, version = instance.get("repo"), instance.get("version")
    if not repo or not version:
        return {}
    path = snapshot_path(str(repo), str(version))
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.size > 2_000_000:
                continue
            f = tar.extractfile(member)
            if f is None:
                continue
            try:
                out[member.name.removeprefix("./")] = f.read().decode()
            except UnicodeDecodeError:
                continue
    return out


def _base_text(fixed: str | None, fp: FilePatch) -> str | None:
    """The file at base_commit from the snapshot's (fixed) text: each gold hunk's new side,
    at its line, put back to its old side; None when a hunk is not where it says."""
    if fixed is None or fp.new_file:
        return None
    lines = fixed.splitlines()
    for hunk in reversed(fp.hunks):
        old = [t for tag, t in hunk.lines if tag != "+"]
        new = [t for tag, t in hunk.lines if tag != "-"]
        at = max(0, hunk.new_start - 1)
        if lines[at : at + len(new)] != new:
            return None
        lines[at : at + len(new)] = old
    return "\n".join(lines) + ("\n" if fixed.endswith("\n") else "")


def _far_start(text: str | None, hunk_lines: list[int]) -> int | None:
    """A view start whose 100 lines hold no hunk of the file, or None."""
    if text is None:
        return None
    n = len(text.splitlines())
    for start in (1, max(hunk_lines) + 101):
        if start <= n and not any(start <= h <= start + 99 for h in hunk_lines):
            return start
    return None


def _comment_edit(path: str, text: str) -> Action | None:
    """A harmless wrong edit in a wrong file: a comment under a function's first line."""
    for line in text.splitlines():
        if re.match(r"\s*def \w+\(.*\):\s*$", line) and text.count(line) == 1:
            comment = f"{_indent(line)}    # TODO: handle the case from the issue"
            return make_action(
                "str_replace", {"path": path, "old": line, "new": f"{line}\n{comment}"}
            )
    return None


# -------------------------------------------------------------------- the model


def last_tagged(
    script: GoldScript, messages: Sequence[Mapping[str, Any]]
) -> tuple[OracleState, str, str] | None:
    """The last answer with a state tag that fits `script`: (the state before its action,
    the answer, the message after it: the action's observation, "" if none yet). None
    when there is none (the trajectory starts at `script.initial()`)."""
    for k in range(len(messages) - 1, -1, -1):
        m = messages[k]
        if m.get("role") != "assistant":
            continue
        text = str(m.get("content") or "")
        tag = _TAG.search(text)
        if tag is None:
            continue
        state = OracleState(tag.group(2), tag.group(3))
        if len(state.regions) != len(script.regions) or len(state.viewed) != len(script.files):
            return None
        nxt = str(messages[k + 1].get("content") or "") if k + 1 < len(messages) else ""
        return state, text, nxt
    return None


def _digest(*parts: object) -> int:
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class NoisySweOracle(BaseLLM):
    """The noisy oracle (module docstring); `instances` default to swe-mini."""

    supports_tools = False

    def __init__(
        self,
        config: NoisyOracleConfig | None = None,
        instances: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.config = config or NoisyOracleConfig()
        self.name = self.config.spec
        if instances is None:
            from benchmarks.swe_bench import load_dataset

            instances = load_dataset("swe-mini")
        self.instances = {str(i["instance_id"]): i for i in instances}
        self._issues = {
            iid: str(inst["problem_statement"]).strip()[:1500]
            for iid, inst in self.instances.items()
        }
        self._seen: dict[str, str] = {}  # the first 300 characters of an issue -> its id
        self._scripts: dict[str, GoldScript] = {}
        self._lock = threading.Lock()
        self._asked: dict[int, int] = {}  # how often each request at temperature > 0 came

    def __getstate__(self) -> dict[str, Any]:
        """Pickles (a Ray worker gets its own copy) without the lock."""
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------- recognition

    def script(self, instance_id: str) -> GoldScript:
        with self._lock:
            if instance_id not in self._scripts:
                self._scripts[instance_id] = GoldScript.build(self.instances[instance_id])
            return self._scripts[instance_id]

    def instance_of(self, messages: Sequence[Mapping[str, Any]]) -> str:
        """The instance a prompt is about, from the issue text it quotes."""
        for m in messages:
            content = str(m.get("content") or "")
            if not content.startswith("Issue:\n"):
                continue
            issue = content[len("Issue:\n") :]
            iid = self._seen.get(issue[:300])
            if iid is None:
                found = [i for i, text in self._issues.items() if issue.startswith(text)]
                if not found:
                    continue
                iid = max(found, key=lambda i: len(self._issues[i]))  # the longest match
                with self._lock:
                    self._seen[issue[:300]] = iid
            return iid
        raise LLMError(f"{self.name}: the prompt quotes no issue of a known instance")

    @staticmethod
    def kind(messages: Sequence[Mapping[str, Any]]) -> str:
        """ "act" (the action prompt), "judge" (the value prompt), "bash" (mini-swe-agent's
        prompt: benchmarks/swe_bench/noisy_oracle_bash.py), else "unknown"."""
        from benchmarks.swe_bench.noisy_oracle_bash import is_bash_prompt

        system = str(messages[0].get("content") or "") if messages else ""
        if messages and messages[0].get("role") == "system":
            if system.startswith(SYSTEM):
                return "act"
            if system == JUDGE:
                return "judge"
        return "bash" if is_bash_prompt(messages) else "unknown"

    def state_of(self, script: GoldScript, messages: Sequence[Mapping[str, Any]]) -> OracleState:
        """The repository's state now: the last tagged answer's state, advanced by its
        action unless the observation after it was an error."""
        found = last_tagged(script, messages)
        if found is None:
            return script.initial()
        state, text, nxt = found
        if nxt.startswith(("Observation:\nerror", "Invalid action")):
            return state
        try:
            return script.after(state, parse_action(text))
        except ActionParseError:
            return state

    @staticmethod
    def steps_so_far(messages: Sequence[Mapping[str, Any]]) -> int:
        """The trajectory's length: its summarised steps plus its assistant turns after the
        issue (the worked example's turns come before it)."""
        start = next(
            (
                k
                for k, m in enumerate(messages)
                if str(m.get("content") or "").startswith("Issue:\n")
            ),
            len(messages),
        )
        n = 0
        for m in messages[start:]:
            content = str(m.get("content") or "")
            if m.get("role") == "assistant":
                n += 1
            elif content.startswith("Earlier steps:\n"):
                n += sum(1 for ln in content.splitlines()[1:] if ln.startswith("- "))
        return n

    # ----------------------------------------------------------------- answers

    def _rng(self, instance_id: str, kind: str, messages: Sequence[Mapping[str, Any]],
             index: int, temperature: float) -> random.Random:  # fmt: skip
        convo = [(m.get("role"), m.get("content")) for m in messages]
        return random.Random(
            _digest(self.config.seed, instance_id, kind, self.steps_so_far(messages), index,
                    round(temperature, 3), convo)
        )  # fmt: skip

    def propose(
        self, messages: Sequence[Mapping[str, Any]], index: int = 0, temperature: float = 0.0
    ) -> tuple[Action, bool]:
        """The action of sample `index` for an action prompt, and whether it is correct."""
        iid = self.instance_of(messages)
        script = self.script(iid)
        state = self.state_of(script, messages)
        rng = self._rng(iid, "act", messages, index, temperature)
        good = script.correct(state)
        if rng.random() < self.config.p:
            return _with_thought(good, _thought(good), state, messages), True
        wrong = script.wrong(state)
        if not wrong:
            return _with_thought(good, _thought(good), state, messages), True
        kind = rng.choice(sorted(wrong))
        action = rng.choice(wrong[kind])
        return _with_thought(action, _thought(action), state, messages), False

    def value(
        self, messages: Sequence[Mapping[str, Any]], index: int = 0, temperature: float = 0.0
    ) -> tuple[bool, bool]:
        """(what the judge says: fixed?, the truth) for a value prompt."""
        said, truth, _ = self.judgement(messages, index, temperature)
        return said, truth

    def judgement(
        self, messages: Sequence[Mapping[str, Any]], index: int = 0, temperature: float = 0.0
    ) -> tuple[bool, bool, int]:
        """(what the judge says: fixed?, the truth, its value): the value is +-80, or with
        judge=graded 80 * (2 * progress - 1); a flip (probability q) negates it."""
        iid = self.instance_of(messages)
        body = str(messages[-1].get("content") or "")
        diff = body.split("\n\nCurrent diff:\n", 1)[1] if "\n\nCurrent diff:\n" in body else ""
        diff = "" if diff.strip() == "(none)" else diff
        script = self.script(iid)
        truth = bool(diff.strip()) and script.fixed(diff)
        flip = self._rng(iid, "judge", messages, index, temperature).random() < self.config.q
        value = VALUE if truth else -VALUE
        if self.config.judge == "graded":
            viewed = set(_VIEWED.findall(body))
            value = round(VALUE * (2 * script.progress(diff, viewed) - 1))
        return truth != flip, truth, -value if flip else value

    def choose_patch(self, instance_id: str, patches: Sequence[str], index: int = 0) -> int:
        """A discriminator's pick among final patches: one that contains the gold change
        (else the first), or with probability q one that does not (if any)."""
        script = self.script(instance_id)
        good = [k for k, p in enumerate(patches) if script.fixed(p)]
        bad = [k for k in range(len(patches)) if k not in good]
        rng = random.Random(_digest(self.config.seed, instance_id, "pick", index, list(patches)))
        if rng.random() < self.config.q:
            good, bad = bad, good
        return (good or bad or [0])[0]

    def answer(
        self, messages: Sequence[Mapping[str, Any]], index: int = 0, temperature: float = 0.0
    ) -> str:
        kind = self.kind(messages)
        if kind == "act":
            return format_action(self.propose(messages, index, temperature)[0])
        if kind == "judge":
            said, _, value = self.judgement(messages, index, temperature)
            return json.dumps(
                {
                    "explanation": "the diff makes the change the issue needs"
                    if said
                    else "the diff does not fix the issue yet",
                    "feedback": "" if said else "find the code the issue is about and fix it",
                    "value": value,
                }
            )
        if kind == "bash":
            from benchmarks.swe_bench import noisy_oracle_bash

            return noisy_oracle_bash.answer(self, messages, index, temperature)
        raise LLMError(f"{self.name}: not an action or value prompt of the repository agent")

    async def _complete(self, request: Request) -> list[Completion]:
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in request.messages)
        first = 0
        if request.temperature > 0:  # sampling: a request asked again gets new samples
            key = _digest([(m.get("role"), m.get("content")) for m in request.messages],
                          request.temperature, request.n)  # fmt: skip
            with self._lock:
                first = self._asked.get(key, 0) * request.n
                self._asked[key] = self._asked.get(key, 0) + 1
        out = []
        for i in range(request.n):
            text = self.answer(request.messages, first + i, request.temperature)
            for s in request.stop or ():
                if s in text:
                    text = text[: text.index(s)]
            usage = Usage(prompt_tokens if i == 0 else 0, max(1, len(text.split())))
            out.append(Completion(text, "stop", None, usage, self.name, i))
        return out


def _thought(action: Action) -> str:
    path = action.arg("path", "")
    if action.tool == "view_file":
        return f"read {path} where the issue's code may be"
    if action.tool in ("str_replace", "create_file"):
        return f"change {path} to fix the issue"
    return "the change is made: submit it"


def _with_thought(
    action: Action, thought: str, state: OracleState, messages: Sequence[Mapping[str, Any]]
) -> Action:
    step = NoisySweOracle.steps_so_far(messages)
    return Action(action.tool, action.args, f"{thought} {state.tag(step)}")
