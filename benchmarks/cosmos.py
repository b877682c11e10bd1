"""COS(M+O)S's outer loop (docs/methods.md section 6): search stories with the writer, mine
the sibling preference pairs of its trees, train the writer on them with ORPO, and search
again with the trained writer. It composes the story graph (agents.graphs.story) and the
trainer (agents.training), which the layers keep independent of each other, so it lives
here, above both. Every mined story is cached under the work directory, one file per
premise written atomically: a rerun skips the premises already mined.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agents.graphs.story import StoryAgent, StoryConfig, StoryResult
from agents.llm import LLM
from foundation.jsonl import write_atomic


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def read_story(path: Path) -> StoryResult:
    """A story `cached` wrote (its trees are not kept)."""
    d = json.loads(path.read_text())
    return StoryResult(d["premise"], d["steps"], d["value"], d["llm_calls"], [], d["pairs"])


def cached(path: Path, make: Callable[[], StoryResult]) -> StoryResult:
    """A story from `path` if written before, else `make()` it and write it (no trees)."""
    if path.is_file():
        return read_story(path)
    result = make()
    write_atomic(path, json.dumps({**asdict(result), "trees": []}) + "\n")
    return result


def mined_pairs(result: StoryResult) -> list[dict[str, Any]]:
    """A story search's sibling pairs, tagged with the premise (held-out pairs are split by
    it). The kept subtree is searched again at the next step, so a pair can come twice (or
    flipped, with more visits): each sibling pair's latest ranking is kept once."""
    latest = {(x["prompt"], frozenset((x["chosen"], x["rejected"]))): x for x in result.pairs}
    return [{**pair, "premise": result.premise} for pair in latest.values()]


def mine_path(work: Path, premise: str) -> Path:
    """Where the mining story search on `premise` is cached."""
    return work / "mine" / f"{slug(premise)}.json"


def mine_premise(llm: LLM, premise: str, work: Path, story: StoryConfig) -> StoryResult:
    """The story search on `premise`, cached at `mine_path` (resumable)."""
    return cached(mine_path(work, premise), lambda: StoryAgent(llm, story).run(premise))


def outer_loop(
    model: str,
    train_premises: Sequence[str],
    work: Path,
    story: StoryConfig,
    orpo: Any,
    progress: Callable[[str], None] = lambda s: None,
) -> tuple[str, dict[str, Any], int, dict[str, float]]:
    """One round of COS(M+O)S's outer loop, search -> pairs -> ORPO: search a story for each
    premise with `model`, pool the sibling pairs (tagged with their premise, so held-out pairs
    come from premises not trained on), train with ORPO (`orpo`: an ORPOConfig). Returns the
    trained model's spec (`local:PATH`; the next round's search runs it), the training report,
    the number of pairs and the seconds spent. Stories are cached under `work`."""
    import time

    from agents.llm import load_llm
    from agents.training.orpo import load_pairs, load_trainable, train_orpo

    seconds: dict[str, float] = {}
    llm = load_llm(model, cache=False)
    start = time.perf_counter()
    rows = []
    for p in train_premises:
        r = mine_premise(llm, p, work, story)
        mined = mined_pairs(r)
        rows += mined
        progress(f"mined {len(mined)} pairs ({len(r.pairs)} before dedup): {p}")
    seconds["mine"] = time.perf_counter() - start
    path = work / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    trained = work / "orpo-model"
    report_path = trained / "orpo_report.json"
    if not report_path.is_file():
        m, tok = load_trainable(model)
        start = time.perf_counter()
        report = train_orpo(m, tok, load_pairs(path), trained, orpo)
        seconds["orpo"] = time.perf_counter() - start
        for line in report.lines():
            progress(line)
        del m
    return f"local:{trained}", json.loads(report_path.read_text()), len(rows), seconds
